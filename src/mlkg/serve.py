"""`mlkg serve`: the production server — several waitress processes on one listening socket.

The parent binds the socket (port 0 lets the OS pick), prints ``mlkg serving http://HOST:PORT/ ...``
on one line, and forks `processes` children. Each child builds the app (which starts its own pool of
query worker processes over the read-only store) and runs waitress with `threads` threads on the
shared socket. The parent restarts a child that dies and, on SIGTERM or SIGINT, stops them all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

from mlkg.config import Settings

log = logging.getLogger("mlkg.serve")

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class ServeOptions:
    """How `mlkg serve` runs: address, processes, threads per process (limits live in Settings)."""

    host: str = "127.0.0.1"
    port: int = 8080
    processes: int = 2
    threads: int = 8
    connection_limit: int = 1000
    channel_timeout: int = 60


class _Stop(Exception):
    """SIGTERM or SIGINT reached the parent."""


def ensure_store(settings: Settings, *, echo=print) -> str:
    """The id of the store in service, building it first when there is none (embedded store only)."""
    if settings.store_url:
        return settings.store_url
    link = settings.store_link
    if link.is_symlink() or link.exists():  # a store was installed: it must open, else say why
        store_id = check_store(link)
        if stale_files(settings, link.resolve()):
            print(f"warning: data or ontology files changed after store {store_id} was built; "
                  "run `mlkg build` (a running server picks it up with `mlkg reload`)", file=sys.stderr)
        return store_id
    from mlkg.build import build

    echo(f"no built store under {settings.var_dir}; building it first")
    return build(settings, check_sources=settings.sources_dir.is_dir()).id


def stale_files(settings: Settings, store_dir) -> list[str]:
    """Data and ontology files modified after the store in `store_dir` was built."""
    from mlkg.build import load_meta

    built_at = load_meta(store_dir).built_at
    folders = [settings.ontology_dir, *settings.data_dirs]
    return sorted(str(p) for folder in folders for p in folder.glob("*.ttl") if p.stat().st_mtime > built_at)


def check_store(link) -> str:
    """The id of the store `link` points at, after opening it read-only once.

    :raises StoreError: naming the problem (missing folder, no meta.json, a store that will not open).
    """
    from mlkg.errors import StoreError

    target = os.path.realpath(link)
    if not os.path.isdir(target):
        raise StoreError(f"the store in service is missing: {link} points at {target}, which does not "
                         "exist; run `mlkg build`")
    try:  # read meta.json directly: importing the build pipeline (rdflib, pySHACL) costs start time
        store_id = json.loads((link / "meta.json").read_text(encoding="utf-8"))["id"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the store at {target} is incomplete or corrupt: cannot read its meta.json "
                         f"({exc}); run `mlkg build`") from None
    import pyoxigraph as ox

    try:
        store = ox.Store.read_only(target)
        store.query("ASK {}")
        del store
    except Exception as exc:  # noqa: BLE001  (RocksDB reports corruption as RuntimeError)
        raise StoreError(f"the store at {target} is corrupt and cannot be opened ({exc}); "
                         "run `mlkg build`") from None
    return str(store_id)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the OS picks one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _child(sock: socket.socket, settings: Settings, options: ServeOptions) -> None:
    """One server process: the app and its query workers, then waitress until SIGTERM."""
    import waitress

    from mlkg.web import create_app

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the watcher below is in place
    app = create_app({"SETTINGS": settings})
    backend = app.extensions["mlkg"]["backend"]

    def stop(*_: object) -> None:
        with contextlib.suppress(Exception):
            backend.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if not settings.store_url:  # a built store: pick up rebuilds (see mlkg.web.reload)
        from mlkg.web import reload

        watcher = reload.install(app)
        signal.signal(signal.SIGHUP, lambda *_: watcher.check(force=True))
    server = waitress.create_server(
        app,
        sockets=[sock],
        threads=options.threads,
        ident="mlkg",
        connection_limit=options.connection_limit,
        channel_timeout=options.channel_timeout,
        max_request_body_size=max(
            16 * settings.max_body, 16 * 1024 * 1024
        ),  # Flask answers past max_body clear_untrusted_proxy_headers=True,
        expose_tracebacks=False,
    )
    try:
        server.run()
    finally:
        stop()


def pid_dir(settings: Settings):
    """Where running servers leave their process id (`var/run/serve-<pid>.pid`), for `mlkg reload`."""
    return settings.var_dir / "run"


def write_pidfile(settings: Settings):
    folder = pid_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"serve-{os.getpid()}.pid"
    path.write_text(f"{os.getpid()}\n", encoding="utf-8")
    return path


def reload_servers(settings: Settings) -> list[int]:
    """Send SIGHUP to every live `mlkg serve` over `settings.var_dir`; the pids signalled."""
    sent = []
    folder = pid_dir(settings)
    for path in sorted(folder.glob("serve-*.pid")) if folder.is_dir() else []:
        try:
            pid = int(path.read_text(encoding="utf-8").strip())
            os.kill(pid, signal.SIGHUP)
            sent.append(pid)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()  # a server that is gone
    return sent


def _fork(sock: socket.socket, settings: Settings, options: ServeOptions) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _child(sock, settings, options)
        except BaseException:  # a child must never return into the parent's loop
            logging.getLogger("mlkg.serve").exception("server process failed")
            code = 1
        os._exit(code)
    return pid


def serve(settings: Settings, options: ServeOptions, *, echo=print) -> None:
    """Run the server until SIGTERM or SIGINT (see the module doc)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under load
    store = ensure_store(settings, echo=echo)
    import waitress  # noqa: F401  (loaded once here, shared by the forked server processes)

    import mlkg.web  # noqa: F401

    sock = bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    echo(
        f"mlkg serving http://{shown}:{port}/ (store {store}; {options.processes} processes x "
        f"{options.threads} threads, {settings.workers} query workers each; "
        f"query timeout {settings.query_timeout:g} s)"
    )
    with contextlib.suppress(Exception):
        sys.stdout.flush()

    def request_stop(*_: object) -> None:
        raise _Stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    children = {_fork(sock, settings, options) for _ in range(max(1, options.processes))}

    def forward_reload(*_: object) -> None:  # SIGHUP or `mlkg reload`: each process re-reads var/current
        for child in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGHUP)

    signal.signal(signal.SIGHUP, forward_reload)
    pidfile = write_pidfile(settings)
    restarts: list[float] = []
    try:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid not in children:
                continue
            children.discard(pid)
            log.warning("server process %d exited (status %d); starting another", pid, status)
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > 10:
                log.error("server processes keep failing; stopping")
                break
            children.add(_fork(sock, settings, options))
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                children.discard(pid)
            else:
                time.sleep(0.05)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        sock.close()
        with contextlib.suppress(OSError):
            pidfile.unlink()
