"""Test helpers: build a store from RDF files, and run the real `mlkg serve` in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pyoxigraph as ox
import requests

from mlkg import prepare
from mlkg._procs import descendants, read_serve_url
from mlkg.build import StoreMeta, content_hash, install_store
from mlkg.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def build_from_files(
    var_dir: Path, graphs: Mapping[str, Path], *, union_default: bool = True
) -> StoreMeta:
    """Install a store under `var_dir` with one named graph per file (graph IRI -> file), the default
    graph holding their union, as `mlkg build` lays it out (blank nodes kept as they are)."""
    quads: list[ox.Quad] = []
    for graph, path in graphs.items():
        fmt = ox.RdfFormat.from_extension(path.suffix.lstrip("."))
        for quad in ox.parse(path=str(path), format=fmt, base_iri=path.as_uri()):
            quads.append(ox.Quad(quad.subject, quad.predicate, quad.object, ox.NamedNode(graph)))
    union = {(q.subject, q.predicate, q.object) for q in quads} if union_default else set()
    quads += [ox.Quad(s, p, o, ox.DefaultGraph()) for s, p, o in union]
    digest = content_hash([str(q) for q in quads])
    meta = StoreMeta(
        id=digest[:16],
        content_hash=digest,
        triples=len(union),
        quads=len(quads),
        graphs=len(graphs),
        built_at=time.time(),
    )

    def fill(path: Path) -> None:
        store = ox.Store(str(path))
        store.bulk_extend(quads)
        store.flush()
        del store

    final = install_store(Settings().with_overrides(var_dir=Path(var_dir)), meta.id, fill, meta)
    return replace(meta, id=final.name)  # `<id>-2` when the store of that id was found corrupt


def damage(sst: Path) -> bytes:
    """Overwrite 4 bytes of the first data block of the RocksDB table file `sst`, as a failing disk
    might, so that reading that block fails its checksum; the file's original bytes."""
    original = sst.read_bytes()
    sst.write_bytes(original[:2] + bytes(4 * [0xFF]) + original[6:])
    return original


def damage_store(store_dir: Path) -> list[str]:
    """Damage every table file of the store at `store_dir` save those that opening it reads (so
    that `mlkg serve`'s start check, open and `ASK {}`, still passes): the names damaged."""
    damaged = []
    for sst in sorted(Path(store_dir).glob("*.sst")):
        original = damage(sst)
        try:
            ox.Store.read_only(str(store_dir)).query("ASK {}")
            damaged.append(sst.name)
        except (OSError, RuntimeError):
            sst.write_bytes(original)
    return damaged


def serving(parent: int) -> list[int]:
    """The descendants of `parent` that serve: all but the process that writes the store's files
    ahead of requests (`mlkg.prepare`, which ends when it is done) and the children it starts."""
    preparing = prepare.running(parent)
    aside = set(preparing).union(*(descendants(pid) for pid in preparing))
    return [pid for pid in descendants(parent) if pid not in aside]


def wait_for(predicate, timeout: float = 20.0, step: float = 0.05) -> bool:
    """True as soon as `predicate()` is true, False if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _stop_with_parent() -> None:
    """In the server process before exec: get SIGTERM if the test process dies (Linux)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LiveServer:
    """`python -m mlkg serve --port 0` on 127.0.0.1 over the store in `var_dir`; `url` once started
    (once /health answers with a status in `ready`)."""

    def __init__(
        self,
        var_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        start_timeout: float = 60.0,
        ready: tuple[int, ...] = (200,),
    ) -> None:
        self.var_dir, self.extra_env, self.args = Path(var_dir), dict(env or {}), args
        self.start_timeout, self.ready = start_timeout, ready
        self.url = ""
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="mlkg-serve-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self) -> LiveServer:
        try:
            return self._start()
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def _start(self) -> LiveServer:
        env = {**os.environ, "MLKG_VAR": str(self.var_dir), **self.extra_env}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlkg",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *self.args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
        deadline = time.monotonic() + self.start_timeout
        self.url = read_serve_url(self.process.stdout, deadline)
        if not self.url:
            self.stop()
            raise RuntimeError(f"mlkg serve did not start:\n{self.read_log()}")
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code in self.ready:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mlkg serve never answered /health:\n{self.read_log()}")

    def read_log(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()
