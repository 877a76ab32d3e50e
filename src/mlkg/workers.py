"""A pool of query worker processes, each holding the built store open read-only.

Why processes: pyoxigraph cannot be interrupted (it ignores signals during a query), and a thread
stuck in a runaway query cannot be stopped. So each query runs in a worker process; when it passes
its time limit the worker is killed (SIGKILL: the CPU work stops at once), the client is answered,
and a fresh worker takes its place (a worker starts in about 0.08 s here).

Workers are plain subprocesses running `mlkg._worker` (which imports little, to start fast), started
by one long-lived thread so that Linux's parent-death signal kills them if the front process dies.
Messages are pickled `engine.Request` objects one way and ("ok", RunResult) or ("error", class name,
detail, extra) the other, framed as `multiprocessing.connection.Connection` frames them over a
socket pair (this end is a Connection).

Fair share: each running query is marked with its client (`mlkg.fairuse.CLIENT`). A query that
finds every worker busy while one client holds at least two more of them than its own client does
stops that client's longest-running query, once it has run `PREEMPT_AFTER` s, and takes the
replacement worker: one client's runaway queries (four cross joins from one address fill the
4 workers of a default `mlkg serve`) cannot keep every other client waiting out the time limit.
Clients holding equal shares wait for each other, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

from mlkg.engine import Request, RunResult
from mlkg.fairuse import CLIENT

log = logging.getLogger("mlkg.workers")

READY_TIMEOUT = 60.0
#: Longest wait (s) between tries to start a worker that would not start.
RETRY_MAX = 30.0
#: How long (s) a query runs before it may be stopped to make room for another client's query.
PREEMPT_AFTER = 0.5
#: How often (s) a query waiting for a worker looks again for one it may make room on.
WAIT_STEP = 0.1
#: What a worker process runs (`python -c`, not `-m`: that would import runpy as well).
WORKER_MAIN = (
    "import sys; from mlkg._worker import main; "
    "main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))"
)
#: How long (s) the pool waits for a worker that closed its end to exit, to learn how it ended.
EXIT_WAIT = 2.0


class _Worker:
    """A worker process and the front's end of its pipe."""

    __slots__ = ("client", "conn", "pid", "preempted", "process", "ready", "served", "since")

    def __init__(self, process: subprocess.Popen, conn: Connection) -> None:
        self.process, self.conn, self.pid, self.served = process, conn, process.pid, 0
        self.ready = False  # it has opened the store and greeted the pool
        self.client: str | None = None  # whose query it runs, and since when (monotonic)
        self.since = 0.0
        self.preempted = 0  # stopped to make room for another client's query: how many its client held

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.conn.close()


class _Waiter:
    """A query waiting for a worker: its client, since when, and the worker it is handed."""

    __slots__ = ("arrived", "client", "worker")

    def __init__(self, client: str | None) -> None:
        self.client, self.arrived = client, time.monotonic()
        self.worker: _Worker | None = None


class WorkerGone(Exception):
    """The worker died while running a query (crash, out of memory, or killed)."""


class QueryTimeout(Exception):
    """The query ran past its limit; the worker has been killed."""


class WorkerOutOfMemory(Exception):
    """The query needed more than the `memory_mb` MiB a worker may use; its worker aborted."""

    def __init__(self, memory_mb: int) -> None:
        super().__init__(f"a query worker ran out of its {memory_mb} MiB")
        self.memory_mb = memory_mb


class PoolBusy(Exception):
    """No worker became free in time."""


class Preempted(Exception):
    """The query was stopped to make room for another client's: its client held `held` of the
    pool's `size` workers while that one waited (its worker has been replaced)."""

    def __init__(self, held: int, size: int, ran: float) -> None:
        super().__init__(f"stopped after {ran:.1f} s; the client held {held} of {size} workers")
        self.held, self.size, self.ran = held, size, ran


class PoolError(Exception):
    """A worker reported an error: (class name, detail, extra)."""

    def __init__(self, name: str, detail: str, extra: dict) -> None:
        super().__init__(detail)
        self.name, self.detail, self.extra = name, detail, extra


class WorkerPool:
    """`size` worker processes over the store at `store_dir`; `run` sends one request to a free one.

    The first worker starts at once; the others start after it is ready, so that a server answers
    sooner after it is started, and join as they become ready (a request that finds none free waits
    for one, as under load). The constructor returns once the first worker is ready (or raises
    PoolError if it cannot open the store); with `wait=False` it returns at once, while that worker
    starts, and `wait_ready` (or the first `run`) waits for it and raises that error.
    """

    _warned_unsandboxed = False  # said once per process

    def __init__(
        self, store_dir: Path | str, size: int = 2, *, wait: bool = True, memory_mb: int = 0
    ) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.store_dir = str(store_dir)
        self.size = size
        self.memory_mb = memory_mb  # each worker's heap limit (0: none); see mlkg._worker.main
        self._spawn_requests: queue.Queue[queue.Queue | None] = queue.Queue()
        self._spawner = threading.Thread(
            target=self._spawn_loop, name="mlkg-worker-spawner", daemon=True
        )
        self._spawner.start()
        self._free: list[_Worker] = []  # ready and idle, the last freed last (under _lock)
        self._waiters: list[_Waiter] = []  # queries waiting for a worker, in arrival order
        self._all: set[_Worker] = set()
        self._busy: set[_Worker] = set()  # running a query now (under _lock)
        self._starting = 0  # workers being started in the background (under _lock)
        self._lock = threading.Lock()
        self._handed = threading.Condition(self._lock)  # a waiter was handed a worker
        self._closed = False
        self.killed = 0
        self.preempted = 0  # queries stopped to make room for another client's
        self.last_error: str | None = None  # why the last worker that failed to start failed
        self._first_done = threading.Event()  # the first worker is ready, or could not start
        self._first_error: PoolError | None = None
        self._started = False  # wait_ready has returned once (read on every run)
        first = self._start()
        if wait:
            self._first_ready(first)
            self.wait_ready()
        else:
            threading.Thread(
                target=self._first_ready, args=(first,), name="mlkg-worker-start", daemon=True
            ).start()

    def _first_ready(self, first: _Worker) -> None:
        """Wait for the first worker, then start the others."""
        try:
            self._ready(first)
        except PoolError as exc:
            self._first_error = exc
        else:
            self._put_free(first)
            for _ in range(self.size - 1):
                self._add_in_background()
        finally:
            self._first_done.set()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Return once the first worker is ready.

        :raises PoolError: when it could not start (the store would not open), or not in `timeout` s.
        """
        if not self._first_done.wait(timeout):
            raise PoolError("StoreError", "the first query worker is still starting", {})
        if self._first_error is not None:
            raise self._first_error
        self._started = True

    # ------------------------------------------------------------ lifecycle

    def _spawn_loop(self) -> None:
        """Start worker processes on request, from this one long-lived thread (see module doc)."""
        while True:
            reply = self._spawn_requests.get()
            if reply is None:
                while True:  # answer anyone still waiting, then stop
                    try:
                        late = self._spawn_requests.get_nowait()
                    except queue.Empty:
                        return
                    if late is not None:
                        late.put(OSError("the worker pool is closed"))
            try:
                reply.put(self._popen())
            except OSError as exc:
                reply.put(exc)

    def _popen(self) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER_MAIN,
                    self.store_dir,
                    str(theirs.fileno()),
                    str(os.getpid()),
                    str(self.memory_mb),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            theirs.close()
        return _Worker(process, Connection(ours.detach()))

    def _start(self) -> _Worker:
        if self._closed:
            raise PoolError("StoreError", "the worker pool is closed", {})
        reply: queue.Queue = queue.Queue()
        self._spawn_requests.put(reply)
        worker = reply.get()
        if isinstance(worker, OSError):
            raise PoolError("StoreError", f"cannot start a query worker: {worker}", {})
        with self._lock:
            self._all.add(worker)
        return worker

    def _ready(self, worker: _Worker) -> None:
        """Wait for the worker's greeting; raise PoolError if it could not open the store."""
        if not worker.conn.poll(READY_TIMEOUT):
            self._discard(worker)
            raise PoolError(
                "StoreError", f"a query worker did not start within {READY_TIMEOUT:.0f} s", {}
            )
        try:
            message = pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError) as exc:
            out_of_memory = self._out_of_memory(worker)
            self._discard(worker)
            if out_of_memory:
                raise PoolError("StoreError", f"a query worker could not open the store within the "
                                f"{self.memory_mb} MiB it may use; raise MLKG_WORKER_MEMORY_MB "
                                "(opening a store took ~170 MiB here)", {}) from exc
            how = f"exit status {worker.process.returncode}" if str(exc) == "" else str(exc)
            raise PoolError("StoreError", f"a query worker died while starting ({how})", {}) from exc
        if message[0] != "ready":
            self._discard(worker)
            raise PoolError(*message[1:])
        worker.ready = True
        if not message[2] and not WorkerPool._warned_unsandboxed:
            WorkerPool._warned_unsandboxed = True
            log.warning("query workers could not be kept off the network (seccomp unavailable); "
                        "only the query check stands between a SERVICE clause and a connection")

    def _out_of_memory(self, worker: _Worker) -> bool:
        """Whether `worker`, which closed its end, aborted under the heap limit (a failed allocation
        aborts the engine); asked before it is killed to be sure, which would hide how it ended."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(EXIT_WAIT)
        return bool(self.memory_mb) and worker.process.returncode == -signal.SIGABRT

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` and start another in the background."""
        self._discard(worker)
        self._add_in_background()

    def _add_in_background(self) -> None:
        """Start one more worker from a thread; it joins the idle ones once it is ready. A worker
        that cannot start (the store folder gone for a while, no memory) is logged and tried
        again, after 1, 2, 4 … up to RETRY_MAX s, until one starts or the pool closes: before, the
        pool gave up, and once every worker had been replaced so, it had none for good."""
        if self._closed:
            return
        with self._lock:
            self._starting += 1

        def start() -> None:
            try:
                keep_trying()
            finally:
                with self._lock:
                    self._starting -= 1

        def keep_trying() -> None:
            delay = 1.0
            while not self._closed:
                try:
                    fresh = self._start()
                    self._ready(fresh)
                except PoolError as exc:
                    if self._closed:
                        return
                    self.last_error = exc.detail
                    log.error("could not start a query worker (next try in %g s): %s", delay, exc.detail)
                    time.sleep(delay)
                    delay = min(2 * delay, RETRY_MAX)
                    continue
                if self._closed:
                    self._discard(fresh)
                else:
                    self.last_error = None
                    self._put_free(fresh)
                return

        threading.Thread(target=start, name="mlkg-worker-start", daemon=True).start()

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            self._discard(worker)
        self._spawn_requests.put(None)

    @property
    def idle(self) -> int:
        """How many workers are ready and free now."""
        with self._lock:
            return len(self._free)

    @property
    def live(self) -> int:
        """How many workers are ready (busy or idle; not those still starting)."""
        with self._lock:
            return sum(1 for worker in self._all if worker.ready)

    @property
    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        with self._lock:
            return sorted(w.pid for w in self._all)

    # ------------------------------------------------------------ running

    def run(self, request: Request, timeout: float | None) -> RunResult:
        """Run `request` in a free worker, waiting at most `timeout` s for one and `timeout` s for it.

        :raises PoolBusy: when no worker is free in time.
        :raises QueryTimeout: when the query runs past `timeout` (its worker is killed and replaced).
        :raises WorkerGone: when the worker died.
        :raises PoolError: for an error the worker reported.
        """
        if self._closed:
            raise PoolError("StoreError", "the query workers have been stopped", {})
        if not self._started:
            self.wait_ready(READY_TIMEOUT)
        worker = self._take(CLIENT.get(), timeout)
        try:
            worker.conn.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            answered = timeout is None or worker.conn.poll(timeout)
            data = worker.conn.recv_bytes() if answered else b""
        except (EOFError, OSError) as exc:
            if worker.preempted:
                self._replace(worker)
                raise Preempted(worker.preempted, self.size, time.monotonic() - worker.since) from None
            out_of_memory = self._out_of_memory(worker)
            self._replace(worker)
            if out_of_memory:
                log.warning("a query worker ran out of its %d MiB and was replaced", self.memory_mb)
                raise WorkerOutOfMemory(self.memory_mb) from None
            raise WorkerGone(str(exc)) from exc
        except BaseException:  # interrupted mid-request: the worker's state is unknown
            self._replace(worker)
            raise
        finally:
            with self._lock:  # from here on `_make_room` cannot pick it
                self._busy.discard(worker)
                stopped = worker.preempted
        if not answered:
            self.killed += 1
            self._replace(worker)
            raise QueryTimeout()
        reply = pickle.loads(data)
        worker.served += 1
        if stopped:  # picked to make room just as it answered: the answer stands, the worker goes
            self._replace(worker)
        else:
            self._put_free(worker)
        if reply[0] == "ok":
            return reply[1]
        raise PoolError(*reply[1:])

    def _put_free(self, worker: _Worker) -> None:
        """`worker` is free: hand it to the waiting query whose client holds the fewest workers (the
        longest-waiting of those), else keep it for the next query."""
        with self._lock:
            if not self._waiters:
                self._free.append(worker)
                return
            held = Counter(busy.client for busy in self._busy)
            waiter = min(self._waiters, key=lambda w: (held[w.client], w.arrived))
            self._waiters.remove(waiter)
            waiter.worker = self._mark_busy(worker, waiter.client)
            self._handed.notify_all()

    def _mark_busy(self, worker: _Worker, client: str | None) -> _Worker:
        worker.client, worker.since, worker.preempted = client, time.monotonic(), 0
        self._busy.add(worker)
        return worker

    def _take(self, client: str | None, timeout: float | None) -> _Worker:
        """A free worker for `client`'s query, waiting at most `timeout` s; while it waits, it makes
        room (see the module doc) when another client holds more than its share."""
        with self._lock:
            if self._free:
                return self._mark_busy(self._free.pop(), client)
            waiter = _Waiter(client)
            self._waiters.append(waiter)
        deadline = None if timeout is None else waiter.arrived + timeout
        while True:
            self._make_room(client)
            with self._lock:
                if waiter.worker is None:
                    wait = WAIT_STEP if deadline is None else min(WAIT_STEP, deadline - time.monotonic())
                    if wait > 0:
                        self._handed.wait(wait)
                if waiter.worker is not None:
                    return waiter.worker
                if self._closed or (deadline is not None and time.monotonic() >= deadline):
                    self._waiters.remove(waiter)
                    break
        if self._closed:
            raise PoolError("StoreError", "the query workers have been stopped", {})
        if self.last_error is not None and self.live == 0:
            raise PoolError("StoreError", "no query worker could be started: "
                            f"{self.last_error}", {})
        raise PoolBusy()

    def _make_room(self, client: str | None) -> None:
        """Stop the longest-running query of the client holding the most workers, if it holds at
        least two more than `client` and that query has run PREEMPT_AFTER s (not while a worker is
        starting: the next free worker may be this query's, and one query is stopped at a time)."""
        now = time.monotonic()
        with self._lock:
            if self._starting or any(worker.preempted for worker in self._busy):
                return
            held = Counter(worker.client for worker in self._busy)
            mine = held.get(client, 0)
            candidates = [
                worker for worker in self._busy
                if worker.client != client and held[worker.client] >= mine + 2
                and now - worker.since >= PREEMPT_AFTER
            ]
            if not candidates:
                return
            victim = min(candidates, key=lambda w: (-held[w.client], w.since))
            victim.preempted = held[victim.client]
            with contextlib.suppress(ProcessLookupError):  # its run() sees the pipe close,
                victim.process.kill()  # replaces it and says why (or keeps an answer just sent)
            self.preempted += 1
        log.warning("stopped a query of %s after %.1f s to make room for %s: it held %d of %d "
                    "query workers", victim.client, now - victim.since, client, held[victim.client],
                    self.size)


def wait_for_exit(pids: list[int], timeout: float = 5.0) -> bool:
    """True once none of `pids` is alive (polls; for tests and shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                continue
        if not alive:
            return True
        time.sleep(0.02)
    return False

