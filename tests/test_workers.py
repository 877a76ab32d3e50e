"""The query worker pool: it serves once its first worker is ready (or, not waiting for it, the
first run waits), and the others join after."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import pytest
from _live import build_from_files, wait_for

from mlkg.engine import Request
from mlkg.fairuse import CLIENT
from mlkg.workers import (
    PoolBusy,
    PoolError,
    Preempted,
    QueryTimeout,
    WorkerOutOfMemory,
    WorkerPool,
)

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
        pool._replace(pool._take(None, 10))  # as after a query past its time limit
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
        backend.pool._replace(backend.pool._take(None, 10))
        assert wait_for(lambda: backend.pool.last_error is not None, timeout=10)
        health = client.get("/health")
        assert health.status_code == 503
        assert health.get_json()["status"] == "degraded" and health.get_json()["workers_running"] == 0
        (tmp_path / "aside").rename(store)
        assert wait_for(lambda: client.get("/health").status_code == 200, timeout=15)
    finally:
        pool_module.RETRY_MAX = old_max
        backend.close()


# ---------------------------------------------------------------- fair share between clients

CROSS_JOIN = Request(
    query="SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
    result_format="json",
)


def _run_as(pool: WorkerPool, client: str, request: Request, timeout: float, out: dict) -> None:
    """Run `request` for `client` (as the fair-use middleware marks a request), noting the outcome."""
    CLIENT.set(client)
    started = time.monotonic()
    try:
        out["answer"] = pool.run(request, timeout)
    except Exception as exc:  # noqa: BLE001  (the test looks at which)
        out["error"] = exc
    out["finished"] = time.monotonic()
    out["seconds"] = out["finished"] - started


def _start_as(pool: WorkerPool, client: str, request: Request, timeout: float) -> tuple[threading.Thread, dict]:
    out: dict = {}
    thread = threading.Thread(target=_run_as, args=(pool, client, request, timeout, out))
    thread.start()
    return thread, out


@contextlib.contextmanager
def _all_busy(store_dir: Path, *runs: tuple[str, Request, float]):
    """A pool of 2 workers running `runs` (client, request, time limit), both workers busy."""
    pool = WorkerPool(store_dir, 2)
    try:
        assert wait_for(lambda: pool.idle == 2)
        started = [_start_as(pool, *run) for run in runs]
        assert wait_for(lambda: pool.idle == 0)
        yield pool, started
    finally:
        pool.close()


def test_a_client_holding_every_worker_makes_room_for_another_client(store_dir: Path) -> None:
    with _all_busy(store_dir, *[("10.0.0.1", CROSS_JOIN, 6)] * 3) as (pool, hogs):  # 2 run, 1 waits
        time.sleep(0.2)
        thread, other = _start_as(pool, "10.0.0.2", ASK, 6)
        thread.join(timeout=5)
        # answered once the hog's older query had run PREEMPT_AFTER s and its worker was replaced;
        # without the fair share it would wait until a cross join ends at its 6 s limit
        assert b"true" in other["answer"].body and other["seconds"] < 2.5
        for hog, _ in hogs:
            hog.join(timeout=15)
        errors = [out.get("error") for _, out in hogs]
        stopped = [e for e in errors if isinstance(e, Preempted)]
        assert len(stopped) == 1 and stopped[0].held == 2 and stopped[0].size == 2
        assert pool.preempted == 1
        # the others: the hog's third query got a worker only after the other client's
        assert sum(isinstance(e, QueryTimeout) for e in errors) == 2


def test_clients_holding_equal_shares_wait_for_each_other(store_dir: Path) -> None:
    runs = [("10.0.0.1", CROSS_JOIN, 3), ("10.0.0.2", CROSS_JOIN, 3)]
    with _all_busy(store_dir, *runs) as (pool, (first, second)):
        thread, third = _start_as(pool, "10.0.0.3", ASK, 1.5)  # one each: nobody is stopped
        thread.join(timeout=5)
        assert isinstance(third.get("error"), PoolBusy) and pool.preempted == 0
        # and one client's own queries never stop each other
        thread, again = _start_as(pool, "10.0.0.1", ASK, 0.8)
        thread.join(timeout=5)
        assert isinstance(again.get("error"), PoolBusy) and pool.preempted == 0
        for hog, out in (first, second):
            hog.join(timeout=10)
            assert isinstance(out.get("error"), QueryTimeout)


def test_a_freed_worker_goes_to_the_waiting_client_that_holds_the_fewest(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlkg import workers as pool_module

    monkeypatch.setattr(pool_module, "PREEMPT_AFTER", 60.0)  # no query is stopped here
    runs = [("10.0.0.1", CROSS_JOIN, 3.0), ("10.0.0.1", CROSS_JOIN, 1.0)]
    with _all_busy(store_dir, *runs) as (pool, (long, short)):
        queued = _start_as(pool, "10.0.0.1", ASK, 8)  # waits first
        time.sleep(0.2)
        late = _start_as(pool, "10.0.0.2", ASK, 8)  # waits second, and holds no worker
        for thread, _ in (late, queued, short, long):
            thread.join(timeout=15)
        # when the short query's worker was replaced, the client holding one worker (the long
        # query) waited for the client holding none, though it came first
        assert b"true" in late[1]["answer"].body and b"true" in queued[1]["answer"].body
        assert late[1]["finished"] < queued[1]["finished"] < long[1]["finished"]


# ---------------------------------------------------------------- memory

#: A query that holds every row of a cross join (16 million) to sort them.
HOARD = Request(
    query="SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a",
    result_format="json",
)


def test_a_query_that_needs_more_memory_than_a_worker_may_use_is_stopped(store_dir: Path) -> None:
    pool = WorkerPool(store_dir, 1, memory_mb=300)
    try:
        pids = pool.pids
        started = time.monotonic()
        with pytest.raises(WorkerOutOfMemory) as caught:
            pool.run(HOARD, 20)
        # without the limit it would run to the 20 s limit (in one process it grew by ~600 MB/s)
        assert caught.value.memory_mb == 300 and time.monotonic() - started < 15
        assert b"true" in pool.run(ASK, 10).body  # a fresh worker took its place
        assert pool.pids != pids
    finally:
        pool.close()


def test_a_memory_limit_too_small_to_open_the_store_says_so(store_dir: Path) -> None:
    """Before, the pool said 'a query worker died while starting: ' (nothing after the colon)."""
    with pytest.raises(PoolError) as caught:
        WorkerPool(store_dir, 1, memory_mb=40)
    assert "could not open the store within the 40 MiB" in caught.value.detail
    assert "MLKG_WORKER_MEMORY_MB" in caught.value.detail
