"""`mlkg serve`: the production server — granian's HTTP server, several processes on one port.

granian (a Rust HTTP server with a WSGI interface) parses HTTP outside Python, so a request costs
Python only the app's own work; waitress, which parses in Python, answered a hello-world app at a
quarter of granian's rate here (7,900 against 31,800 requests/s, 2 processes, 4 clients).

The parent binds one listening socket per server process, all on one port (port 0: the OS picks
one; see `listeners`), prints ``mlkg serving http://HOST:PORT/ ...`` on one line, and runs
granian's supervisor, which forks `processes` server processes, each accepting from its own socket,
and restarts one that dies. A process that holds more than its share of the keep-alive
connections asks clients to reconnect (`mlkg.web.reconnect`).
Each builds the app — its own query worker processes over the read-only store and its own store
handle for bounded queries — and serves it with `threads` threads. SIGTERM or SIGINT stops them all
gracefully; SIGHUP (what `mlkg reload` sends) makes each swap in the store `var/current` points at.
The parent also starts `mlkg.prepare`, which writes the entity index and the dumps of the store in
service ahead of requests, at a lower CPU priority.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from functools import partial

from mlkg._logbuffer import LOG_FORMAT, BufferedHandler
from mlkg.config import Settings
from mlkg.errors import ConfigError

log = logging.getLogger("mlkg.serve")

#: granian's own messages go where ours go (stderr, our format); stdout carries only the URL line.
GRANIAN_LOGGING = {
    "formatters": {"mlkg": {"format": LOG_FORMAT}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "mlkg", "stream": "ext://sys.stderr"}},
    "loggers": {"_granian": {"handlers": ["stderr"], "propagate": False}},
}


@dataclass(frozen=True)
class ServeOptions:
    """How `mlkg serve` runs: address, processes, threads per process (limits live in Settings)."""

    host: str = "127.0.0.1"
    port: int = 8080
    processes: int = 2
    threads: int = 8
    #: Connections waiting to be accepted, per process.
    backlog: int = 1024
    #: Seconds a client may take to send a request's headers.
    header_timeout: float = 30.0


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
    try:  # meta.json directly: importing the build pipeline costs start time
        built_at = float(json.loads((store_dir / "meta.json").read_text(encoding="utf-8"))["built_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return []  # check_store has said what is wrong with it
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


def bind(host: str, port: int, backlog: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the OS picks one); with `reuse_port`, one that
    others may join on the same port (SO_REUSEPORT: only sockets of the same user can)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # accepted connections inherit it: an answer written in parts (headers, then body chunks)
        # is sent at once, not held back by Nagle's algorithm until the client's delayed ACK (~40 ms)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listeners(host: str, port: int, backlog: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port (port 0: the OS picks it), one per server process.

    Several form a SO_REUSEPORT group: the kernel puts each new connection in the queue of one of
    them, chosen by a hash of the client's address and port, so a client that reconnects lands on
    either process with even odds, whichever is busy. (From one shared socket the process that
    had just closed a connection nearly always accepted the client's next one as well — on one
    core, every time in a row — so a busy process could not hand its clients over.) The parent
    holds them all, so a queue outlives a process that dies: its replacement accepts what waited.

    The port is first taken without SO_REUSEPORT, which fails when anything listens there — also
    another server's group, which a SO_REUSEPORT socket would join without a word, taking half
    its connections.

    :raises ConfigError: naming the address when it cannot be listened on (in use, not local,
        not allowed).
    """
    try:
        probe = bind(host, port, backlog)
        if count < 2:
            return [probe]
        chosen = probe.getsockname()[1]
        probe.close()
        socks: list[socket.socket] = []
        try:
            for _ in range(count):
                socks.append(bind(host, chosen, backlog, reuse_port=True))
        except BaseException:
            for sock in socks:
                sock.close()
            raise
        return socks
    except OSError as exc:
        shown = f"[{host}]" if ":" in host else host
        raise ConfigError(
            f"cannot listen on {shown}:{port}: {exc.strerror or exc}"
            + (" (another program holds that port)" if exc.errno == errno.EADDRINUSE else "")
        ) from None


def _server_app(settings: Settings, _target: str, *, processes: int = 1, host: str = "127.0.0.1"):
    """In each server process, before it serves: the app, and SIGHUP to swap in a rebuilt store;
    with several processes, a process over its share of connections asks clients to reconnect
    (`mlkg.web.reconnect`)."""
    from mlkg.web import create_app

    app = create_app({"SETTINGS": settings})
    backend = app.extensions["mlkg"]["backend"]
    if hasattr(backend, "wait_ready"):  # its first query worker started while the app was built
        backend.wait_ready()
    if not settings.store_url:  # a built store: pick up rebuilds (see mlkg.web.reload)
        from mlkg.web import reload

        watcher = reload.install(app)
        signal.signal(signal.SIGHUP, lambda *_: watcher.check(force=True))
    else:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _leave_interrupt_to_supervisor()
    if processes > 1 and settings.spread_connections:
        from mlkg._procs import tcp_connections
        from mlkg.web.reconnect import Reconnect

        table = "tcp6" if ":" in host else "tcp"  # where the kernel lists connections to our socket
        app.wsgi_app = Reconnect(  # type: ignore[method-assign]
            app.wsgi_app, processes, count=partial(tcp_connections, tables=(table,))
        )
    return app


def _leave_interrupt_to_supervisor() -> None:
    """In a server process: ignore SIGINT once granian has set its handlers (it does so right after
    this loader returns), so that Ctrl-C stops the server through the supervisor alone.

    Ctrl-C sends SIGINT to every process of the terminal's foreground group at once. Sent so to an
    idle `mlkg serve`, one server process took both that SIGINT and the supervisor's SIGTERM and
    still did not stop (its main thread stayed waiting for granian's shutdown), so the supervisor
    waited its whole `workers_kill_timeout` (20 s) and killed it; SIGINT sent to each process in
    turn, or SIGTERM to the group, did not show it. With SIGINT ignored here, a server process
    stops on the supervisor's SIGTERM alone, as it does for `kill PID` and SIGTERM to the group.
    """
    import granian._signals as granian_signals

    install = granian_signals.set_sync_signals

    def set_sync_signals(*args, **kwargs):
        event = install(*args, **kwargs)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return event

    granian_signals.set_sync_signals = set_sync_signals


def _granian_server(settings: Settings, options: ServeOptions, socks: list[socket.socket]):
    """granian's supervisor for the app, server process i accepting from `socks[i]`, with SIGHUP
    forwarded to the server processes."""
    from granian import Granian
    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    from mlkg._procs import children

    class Server(Granian):  # type: ignore[misc,valid-type]
        main_pid = os.getpid()

        def _init_shared_socket(self) -> None:
            """Our sockets (see `listeners`), bound before the URL was printed: granian would bind
            its own in each process as it starts, refusing connections until then."""
            self._holders = [SocketHolder(sock.fileno(), False, options.backlog) for sock in socks]
            self._ssp = None
            self._use(0)

        def _use(self, idx: int) -> None:
            self._shd, self._sfd, self._sso = self._holders[idx], socks[idx].fileno(), socks[idx]

        def _spawn_worker(self, idx, target, callback_loader):
            """Server process `idx` (and the one that replaces it) accepts from `socks[idx]`."""
            self._use(idx % len(socks))
            return super()._spawn_worker(idx, target, callback_loader)

        def _drop_shared_socket(self) -> None:
            self._sso = None  # ours: closed by serve()

        def signal_handler_interrupt(self, *args: object, **kwargs: object) -> None:
            """SIGTERM/SIGINT. In a server process that has not installed its own handlers yet (it
            is still starting), these are the supervisor's, inherited through the fork, and would
            swallow the stop: the process would then serve on until the supervisor killed it
            after `workers_kill_timeout`, or for good if the supervisor was killed first. Such a
            process has nothing to finish, so it ends at once (its query workers end with it)."""
            if os.getpid() != self.main_pid:
                os._exit(0)
            super().signal_handler_interrupt(*args, **kwargs)

        def signal_handler_reload(self, *args: object, **kwargs: object) -> None:
            """SIGHUP: each server process re-reads `var/current` (no restart, no lost request)."""
            if os.getpid() != self.main_pid:
                return  # a server process that has not installed its own handler yet
            for pid in children(self.main_pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)

    host, port = socks[0].getsockname()[:2]
    return Server(
        "mlkg.web:create_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=max(1, options.processes),
        blocking_threads=max(1, options.threads),
        backlog=options.backlog,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=int(options.header_timeout * 1000)),
        websockets=False,
        log_level=LogLevels.error,  # not its advice against more threads than cores: ours mostly wait
        log_dictconfig=GRANIAN_LOGGING,
        respawn_failed_workers=True,
        workers_kill_timeout=max(5, int(2 * (settings.query_timeout or 10))),
    )


def pid_dir(settings: Settings):
    """Where running servers leave their process id (`var/run/serve-<pid>.pid`), for `mlkg reload`."""
    return settings.var_dir / "run"


def write_pidfile(settings: Settings):
    from mlkg._procs import start_time

    folder = pid_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"serve-{os.getpid()}.pid"
    path.write_text(f"{os.getpid()} {start_time(os.getpid())}\n", encoding="utf-8")
    return path


def reload_servers(settings: Settings) -> list[int]:
    """Send SIGHUP to every live `mlkg serve` over `settings.var_dir`; the pids signalled. A pid
    file whose process is gone is removed, also when another process has its pid now (the file
    records when the server started: SIGHUP ends most programs)."""
    from mlkg._procs import start_time

    sent = []
    folder = pid_dir(settings)
    for path in sorted(folder.glob("serve-*.pid")) if folder.is_dir() else []:
        try:
            number, *started = path.read_text(encoding="utf-8").split()
            pid = int(number)
            if started and started[0] != str(start_time(pid)):
                raise ProcessLookupError(pid)  # not the server that wrote it
            os.kill(pid, signal.SIGHUP)
            sent.append(pid)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()  # a server that is gone
    return sent


def serve(settings: Settings, options: ServeOptions, *, echo=print) -> None:
    """Run the server until SIGTERM or SIGINT (see the module doc)."""
    handler = BufferedHandler(sys.stderr)  # one access line per request, written in batches
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # stdout carries only the URL line (scripts read its first line): progress goes to stderr
    store = ensure_store(settings, echo=lambda line: print(line, file=sys.stderr, flush=True))
    import mlkg.web  # imported once here, shared by the forked server processes

    mlkg.web.preload(settings)

    socks = listeners(options.host, options.port, options.backlog, max(1, options.processes))
    host, port = socks[0].getsockname()[:2]
    server = _granian_server(settings, options, socks)
    shown = f"[{host}]" if ":" in host else host
    echo(
        f"mlkg serving http://{shown}:{port}/ (store {store}; {options.processes} processes x "
        f"{options.threads} threads, {settings.workers} query workers each; "
        f"query timeout {settings.query_timeout:g} s)"
    )
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    pidfile = write_pidfile(settings)
    from mlkg import prepare

    preparing = prepare.start(settings)  # the entity index and dumps, written ahead of requests
    try:
        server.serve(
            target_loader=partial(
                _server_app, settings, processes=options.processes, host=options.host
            )
        )
    finally:
        prepare.stop(preparing)
        for sock in socks:
            sock.close()
        with contextlib.suppress(OSError):
            pidfile.unlink()
