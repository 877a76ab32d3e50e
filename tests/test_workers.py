"""The query worker pool: it serves once its first worker is ready (or, not waiting for it, the
first run waits), and the others join after."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from _live import build_from_files, wait_for

from mlkg.engine import Request
from mlkg.workers import PoolError, WorkerPool

TESTS = Path(__file__).parent
FIXTURE = TESTS / "data" / "sparql" / "fixture.ttl"
GRAPH = "https://w3id.org/mlkg/graph/test/fixture"
ASK = Request(query="ASK { ?s ?p ?o }", result_format="json")


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("var")
    build_from_files(var, {GRAPH: FIXTURE})
    return (var / "current").resolve()


def test_the_pool_answers_once_one_worker_is_ready_and_the_others_join(store_dir: Path) -> None:
    pool = WorkerPool(store_dir, 3)
    try:
        assert pool.idle >= 1  # the first worker is ready when the constructor returns
        assert pool.idle == 1  # and only it: the others are still starting (> 0.1 s to import)
        assert b"true" in pool.run(ASK, 10).body
        assert wait_for(lambda: pool.idle == 3)  # the other two, started after it
        assert len(pool.pids) == 3
    finally:
        pool.close()


class _OnlyFirstOpens(WorkerPool):
    """Every worker after the first is pointed at a folder with no store."""

    started = 0

    def _popen(self):
        self.started += 1
        if self.started > 1:
            self.store_dir = str(Path(self.store_dir) / "missing")
        return super()._popen()


def test_a_worker_that_cannot_start_later_is_logged_and_the_pool_goes_on(
    store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="mlkg.workers")
    pool = _OnlyFirstOpens(store_dir, 2)
    try:
        assert wait_for(lambda: "could not start a query worker" in caplog.text)
        assert "cannot open the store" in caplog.text
        assert pool.idle == 1 and len(pool.pids) == 1
        assert b"true" in pool.run(ASK, 10).body
    finally:
        pool.close()


def test_a_first_worker_that_cannot_open_the_store_fails_the_pool(tmp_path: Path) -> None:
    with pytest.raises(PoolError) as caught:
        WorkerPool(tmp_path / "nothing-here", 2)
    assert "cannot open the store" in caught.value.detail


def test_without_waiting_the_pool_returns_at_once_and_the_first_run_waits(store_dir: Path) -> None:
    pool = WorkerPool(store_dir, 2, wait=False)
    try:
        assert pool.idle == 0  # its first worker is still starting (> 0.05 s to import)
        assert b"true" in pool.run(ASK, 10).body
        pool.wait_ready()  # returns: the first worker is up
        assert wait_for(lambda: pool.idle == 2)
    finally:
        pool.close()


def test_without_waiting_a_store_that_will_not_open_fails_the_first_run(tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path / "nothing-here", 2, wait=False)
    try:
        with pytest.raises(PoolError) as caught:
            pool.run(ASK, 10)
        assert "cannot open the store" in caught.value.detail
        with pytest.raises(PoolError):
            pool.wait_ready()
        assert pool.pids == []  # and no other worker was started over it
    finally:
        pool.close()


def test_a_worker_cannot_connect_even_when_a_query_asks_it_to(store_dir: Path) -> None:
    """The pool's workers run without network access (mlkg._nonet): a SERVICE query sent straight
    to a worker, past the endpoint's query check, fails there, and the listener it names sees no
    connection. The same query run in this process does connect: the listener would have seen it."""
    import pyoxigraph as ox
    from _live import Listener

    listener = Listener()
    query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}"
    pool = WorkerPool(store_dir, 1)
    try:
        with pytest.raises(PoolError) as caught:
            pool.run(Request(query, "json"), 10)
        assert "13" in caught.value.detail or "denied" in caught.value.detail.lower()
        assert listener.connections == 0
        with pytest.raises(Exception):  # noqa: B017  (the listener answers no HTTP: any error)
            list(ox.Store().query(query))
        assert wait_for(lambda: listener.connections == 1, timeout=5)
    finally:
        pool.close()
        listener.close()


def test_a_pool_whose_store_vanished_for_a_while_starts_workers_again(tmp_path: Path) -> None:
    """A replacement worker that cannot open the store is tried again until one starts: before,
    the pool gave up, and once its workers had all been replaced so it had none for good (every
    query then waited for a worker that never came)."""
    import shutil

    from mlkg import workers as pool_module
    from mlkg.engine import Request as Req

    var = tmp_path / "var"
    build_from_files(var, {"https://w3id.org/mlkg/graph/test/one": FIXTURE})
    store = (var / "current").resolve()
    pool = WorkerPool(store, 1)
    old_max = pool_module.RETRY_MAX
    pool_module.RETRY_MAX = 1.0
    try:
        aside = tmp_path / "aside"
        store.rename(aside)
        pool._replace(pool._idle.get(timeout=10))  # as after a query past its time limit
        assert wait_for(lambda: pool.last_error is not None, timeout=10)
        assert pool.live == 0
        with pytest.raises(PoolError) as caught:
            pool.run(Req("ASK {}", "json"), 1)
        assert "no query worker could be started" in caught.value.detail
        aside.rename(store)
        assert wait_for(lambda: pool.live == 1 and pool.idle == 1, timeout=15)
        assert pool.run(Req("ASK {}", "json"), 5).body
        assert pool.last_error is None
    finally:
        pool_module.RETRY_MAX = old_max
        pool.close()
        shutil.rmtree(tmp_path / "aside", ignore_errors=True)


def test_health_says_degraded_with_503_while_no_worker_can_start(tmp_path: Path) -> None:
    from mlkg import workers as pool_module
    from mlkg.backends import PooledBackend
    from mlkg.web import create_app

    var = tmp_path / "var"
    build_from_files(var, {"https://w3id.org/mlkg/graph/test/one": FIXTURE})
    store = (var / "current").resolve()
    backend = PooledBackend(store, workers=1, cache=False)
    app = create_app({"TESTING": True, "BACKEND": backend,
                      "SETTINGS": {"var_dir": var, "sources_dir": tmp_path / "none"}})
    client = app.test_client()
    old_max = pool_module.RETRY_MAX
    pool_module.RETRY_MAX = 1.0
    try:
        assert client.get("/health").status_code == 200
        store.rename(tmp_path / "aside")
        backend.pool._replace(backend.pool._idle.get(timeout=10))
        assert wait_for(lambda: backend.pool.last_error is not None, timeout=10)
        health = client.get("/health")
        assert health.status_code == 503
        assert health.get_json()["status"] == "degraded" and health.get_json()["workers_running"] == 0
        (tmp_path / "aside").rename(store)
        assert wait_for(lambda: client.get("/health").status_code == 200, timeout=15)
    finally:
        pool_module.RETRY_MAX = old_max
        backend.close()
