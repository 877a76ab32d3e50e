"""Faults: a rebuilt store swapped in under load without a failed request, a bad new store or a failed
build leaving the previous store serving, a clear refusal to start on a corrupt or missing store,
and a store damaged after its build found in the background and refused."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from _live import ROOT, LiveServer, build_from_files, damage_store, wait_for

from mlkg.build import StoreMeta, install_store
from mlkg.config import Settings
from mlkg.errors import StoreError
from mlkg.serve import check_store

THING = "https://w3id.org/mlkg/def/Thing"
GRAPH = "https://w3id.org/mlkg/graph/data/fixture"
ASK_TWO = f"ASK {{ <https://w3id.org/mlkg/thing/two> a <{THING}> }}"
SERVER_ARGS = ("--processes", "2", "--threads", "4", "--workers", "1")


def _data(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{'-'.join(names)}.ttl"
    path.write_text(
        "".join(
            f'<https://w3id.org/mlkg/thing/{n}> a <{THING}> ; '
            f'<http://www.w3.org/2000/01/rdf-schema#label> "{n}" .\n'
            for n in names
        ),
        encoding="utf-8",
    )
    return path


def _install(var: Path, names: list[str]) -> StoreMeta:
    return build_from_files(var, {GRAPH: _data(var.parent / "src", names)})


def _ask(url: str, query: str) -> bool:
    reply = requests.get(f"{url}/sparql", params={"query": query},
                         headers={"Accept": "application/sparql-results+json"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["boolean"]


def _load(url: str, stop: threading.Event, failures: list, counts: list, limit: int = 3000) -> None:
    """One client: SPARQL, health and search requests until `stop` (at most `limit`)."""
    paths = [
        ("/sparql", {"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s a <{THING}> }}"}),
        ("/health", None),
        ("/sparql", {"query": ASK_TWO}),
        ("/api/search", {"q": "one"}),
    ]
    with requests.Session() as session:
        for i in range(limit):
            if stop.is_set():
                return
            path, params = paths[i % len(paths)]
            try:
                reply = session.get(url + path, params=params, timeout=15,
                                    headers={"Accept": "application/sparql-results+json"})
                if reply.status_code != 200:
                    failures.append((path, reply.status_code, reply.text[:200]))
            except requests.RequestException as exc:
                failures.append((path, "exception", str(exc)))
            counts.append(1)


def test_a_rebuilt_store_is_swapped_in_under_load_without_a_failed_request(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = _install(var, ["one"])
    with LiveServer(var, args=SERVER_ARGS) as server:
        assert not _ask(server.url, ASK_TWO)
        stop, failures, counts = threading.Event(), [], []
        clients = [threading.Thread(target=_load, args=(server.url, stop, failures, counts))
                   for _ in range(4)]
        for client in clients:
            client.start()
        try:
            assert wait_for(lambda: len(counts) >= 100)
            second = _install(var, ["one", "two"])
            assert second.id != first.id
            result = subprocess.run([sys.executable, "-m", "mlkg", "reload"], check=False, cwd=ROOT, capture_output=True,
                                    text=True, env={**os.environ, "MLKG_VAR": str(var)}, timeout=30)
            assert result.returncode == 0, result.stderr
            assert "asked 1 server" in result.stdout
            assert wait_for(lambda: all(_ask(server.url, ASK_TWO) for _ in range(6)))
            before = len(counts)
            assert wait_for(lambda: len(counts) >= before + 100)  # load continues on the new store
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=30)
        assert failures == []
        assert len(counts) >= 200
        health = requests.get(f"{server.url}/health", timeout=5).json()
        assert health["store"] == second.id
        assert "reloaded: now serving" in server.read_log()


def test_the_server_notices_a_new_store_without_being_told(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _install(var, ["one"])
    with LiveServer(var, args=("--processes", "1", "--workers", "1")) as server:
        assert not _ask(server.url, ASK_TWO)
        _install(var, ["one", "two"])
        assert wait_for(lambda: _ask(server.url, ASK_TWO))


def test_a_corrupt_new_store_is_refused_and_the_old_one_keeps_serving(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = _install(var, ["one"])
    with LiveServer(var, args=("--processes", "1", "--workers", "1")) as server:
        broken = var / "stores" / "broken"
        broken.mkdir()
        (broken / "meta.json").write_text(json.dumps({"id": "broken"}), encoding="utf-8")
        (broken / "CURRENT").write_text("MANIFEST-999999\n", encoding="utf-8")
        link = var / ".current-test"
        os.symlink(Path("stores") / "broken", link)
        os.replace(link, var / "current")
        server.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload failed" in server.read_log())
        log = server.read_log()
        assert "cannot open the new store" in log and str(broken) in log
        for _ in range(10):
            assert requests.get(f"{server.url}/health", timeout=5).json()["store"] == first.id
            assert not _ask(server.url, ASK_TWO)


def _health(url: str) -> tuple[int, dict]:
    reply = requests.get(f"{url}/health", timeout=5)
    return reply.status_code, reply.json()


def test_a_store_damaged_after_its_build_is_found_in_the_background_and_refused(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    meta = _install(var, ["one", "two"])
    store = var / "stores" / meta.id
    assert len(damage_store(store)) >= 11  # every index but what opening reads
    args = ("--processes", "1", "--workers", "1", "--timeout", "5")
    with LiveServer(var, args=args, ready=(200, 503)) as server:  # the start check passes
        assert wait_for(lambda: _health(server.url)[0] == 503)
        health = _health(server.url)[1]
        assert health["status"] == "corrupt" and health["store_check"] == "corrupt"
        assert f"the store at {store} is corrupt: Corruption:" in health["problem"]
        assert health["problem"].endswith("run `mlkg build`")
        assert f"ERROR mlkg.prepare: the store at {store} is corrupt" in server.read_log()
        count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"  # on a damaged block: never ends
        asked = [("/sparql", {"query": count}), ("/api/search", {"q": "one"}), ("/skill/one", None),
                 ("/export.nt", None), ("/.well-known/void", None)]
        for path, params in asked:
            started = time.monotonic()
            reply = requests.get(server.url + path, params=params, timeout=30,
                                 headers={"Accept": "application/problem+json, */*;q=0.1"})
            assert time.monotonic() - started < 2, path  # not the 5 s limit, nor minutes
            assert reply.status_code == 503, (path, reply.text)
            problem = reply.json()
            assert problem["title"] == "Store corrupt" and "is corrupt" in problem["detail"]
        rebuilt = _install(var, ["one", "two"])  # `mlkg build`, as the message says: same data
        assert rebuilt.id == f"{meta.id}-2"  # a fresh copy beside the damaged one, swapped in
        assert wait_for(lambda: _health(server.url)[0] == 200)
        health = _health(server.url)[1]
        assert health["store"] == rebuilt.id and health["store_check"] == "whole"
        assert _ask(server.url, ASK_TWO)


def test_a_new_store_damaged_after_its_build_is_refused_as_corrupt(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = _install(var, ["one"])
    with LiveServer(var, args=("--processes", "1", "--workers", "1", "--timeout", "3")) as server:
        second = _install(tmp_path / "elsewhere", ["one", "two"])  # built, not yet in service
        broken = var / "stores" / second.id
        os.replace(tmp_path / "elsewhere" / "stores" / second.id, broken)
        damage_store(broken)
        link = var / ".current-test"
        os.symlink(Path("stores") / second.id, link)
        os.replace(link, var / "current")
        server.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload failed" in server.read_log())
        log = server.read_log()
        assert f"reload failed: the store at {broken} is corrupt: Corruption:" in log
        assert "Narrow it" not in log
        status, health = _health(server.url)
        assert status == 200 and health["store"] == first.id and health["store_check"] == "whole"
        assert not _ask(server.url, ASK_TWO)


def test_a_build_that_fails_midway_leaves_the_previous_store_in_service(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = _install(var, ["one"])
    settings = Settings().with_overrides(var_dir=var)
    with LiveServer(var, args=("--processes", "1", "--workers", "1")) as server:

        def disk_full(path: Path) -> None:
            path.mkdir(parents=True)
            (path / "partial").write_bytes(b"x" * 1024)
            raise OSError(errno.ENOSPC, "No space left on device")

        meta = StoreMeta(id="full", content_hash="0" * 64, triples=1, quads=2, graphs=1, built_at=0.0)
        with pytest.raises(StoreError, match="No space left on device.*previous store is still in service"):
            install_store(settings, "full", disk_full, meta)
        assert not list((var / "stores").glob(".tmp-*"))  # the half-written store is gone
        assert (var / "current").resolve().name == first.id
        server.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert requests.get(f"{server.url}/health", timeout=5).json()["store"] == first.id
        assert _ask(server.url, f"ASK {{ <https://w3id.org/mlkg/thing/one> a <{THING}> }}")


def _serve_once(var: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlkg", "serve", "--host", "127.0.0.1", "--port", "0"],
        check=False, cwd=ROOT, env={**os.environ, "MLKG_VAR": str(var)}, capture_output=True, text=True,
        timeout=60,
    )


def test_the_server_refuses_to_start_on_a_corrupt_store(tmp_path: Path) -> None:
    var = tmp_path / "var"
    broken = var / "stores" / "broken"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text(json.dumps({"id": "broken"}), encoding="utf-8")
    (broken / "CURRENT").write_text("garbage\n", encoding="utf-8")
    os.symlink(Path("stores") / "broken", var / "current")
    result = _serve_once(var)
    assert result.returncode != 0
    assert "corrupt" in result.stderr and str(broken) in result.stderr
    assert "Traceback" not in result.stderr and "mlkg serving" not in result.stdout


def test_the_server_refuses_to_start_when_the_store_is_missing(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    os.symlink(Path("stores") / "gone", var / "current")
    result = _serve_once(var)
    assert result.returncode != 0
    assert "missing" in result.stderr and "gone" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_without_meta_is_reported_as_incomplete(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "stores" / "half").mkdir(parents=True)
    os.symlink(Path("stores") / "half", var / "current")
    result = _serve_once(var)
    assert result.returncode != 0
    assert "incomplete or corrupt" in result.stderr and "meta.json" in result.stderr


def test_building_the_same_data_again_replaces_a_damaged_store_nobody_noticed_yet(
    tmp_path: Path,
) -> None:
    """Before, `mlkg build` kept a store of the same id as it was unless its damage had been
    recorded: 'run `mlkg build`' did not mend it (found by a bug hunt)."""
    var = tmp_path / "var"
    meta = _install(var, ["one", "two"])
    assert _install(var, ["one", "two"]).id == meta.id  # whole: kept
    damage_store(var / "stores" / meta.id)  # and no server ran to notice
    rebuilt = _install(var, ["one", "two"])
    assert rebuilt.id == f"{meta.id}-2"
    assert os.path.realpath(var / "current") == str((var / "stores" / rebuilt.id).resolve())
    assert check_store(var / "current") == rebuilt.id
