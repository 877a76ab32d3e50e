"""The main loop of one query worker process, started by `mlkg.workers.WorkerPool` (`WORKER_MAIN`).

It lives apart from the pool so that a worker imports only what it needs: pyoxigraph, pickle,
`mlkg.engine` and `mlkg._nonet` (which takes its network access away before it opens the store).
Importing `mlkg.workers` as well (logging, subprocess, threading, sockets,
`multiprocessing.connection`) made a worker take about twice as long to start, and a server process
waits for its first worker before it answers.

Messages are framed as `multiprocessing.connection.Connection` frames them, so that the pool's end
of the socket pair is a plain Connection: a 4-byte big-endian signed length, then the bytes; a
message over 2 GiB has the length -1, then an 8-byte unsigned length.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
from time import perf_counter as clock

_SHORT = struct.Struct("!i")
_LONG = struct.Struct("!Q")
#: After a query that took longer than this (s), the worker returns freed heap memory to the system.
TRIM_AFTER = 0.05


def _read_exact(fd: int, size: int) -> bytes:
    """`size` bytes from `fd`; EOFError when the other end closed first."""
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the pool closed the connection")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def recv_frame(fd: int) -> bytes:
    """One message, as `Connection.send_bytes` sent it."""
    (size,) = _SHORT.unpack(_read_exact(fd, 4))
    if size == -1:
        (size,) = _LONG.unpack(_read_exact(fd, 8))
    return _read_exact(fd, size)


def send_frame(fd: int, data: bytes) -> None:
    """One message, as `Connection.recv_bytes` reads it."""
    size = len(data)
    header = _SHORT.pack(size) if size <= 0x7FFFFFFF else _SHORT.pack(-1) + _LONG.pack(size)
    view = memoryview(header + data) if size < 1 << 16 else None
    if view is None:  # a large answer: do not copy it to prepend the header
        _write_all(fd, memoryview(header))
        view = memoryview(data)
    _write_all(fd, view)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def _set_death_signal(parent: int):
    """Ask Linux to kill this process when its parent dies; exit now if it already has. Returns
    libc (None where it cannot be loaded)."""
    libc = None
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)
    return libc


def main(store_dir: str, fd: int, parent: int, memory_mb: int = 0) -> None:
    """Open the store, greet the pool, then answer requests until the connection closes.

    With `memory_mb`, the process's data (heap) may not grow past that many MiB: a query that needs
    more makes the engine's allocation fail, which aborts the process (SIGABRT), and the pool
    answers that the query used too much memory. Without it, a query that piles up rows (a
    GROUP_CONCAT over a cross join) or the engine looping on a damaged block grows by tens to
    hundreds of MB a second until the time limit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    libc = _set_death_signal(parent)
    if memory_mb > 0:
        import resource

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    trim = getattr(libc, "malloc_trim", None)
    from mlkg._nonet import deny_network

    sandboxed = deny_network()  # no query can make this process connect anywhere (see _nonet)
    import pyoxigraph as ox

    from mlkg.engine import error_tuple, execute

    dumps, loads = pickle.dumps, pickle.loads
    protocol = pickle.HIGHEST_PROTOCOL
    try:
        store = ox.Store.read_only(store_dir)
    except Exception as exc:  # noqa: BLE001  (OSError, or RuntimeError for a corrupt store)
        detail = f"cannot open the store at {store_dir}: {exc}; run `mlkg build`"
        send_frame(fd, dumps(("error", "StoreError", detail, {}), protocol=protocol))
        return
    send_frame(fd, dumps(("ready", os.getpid(), sandboxed), protocol=protocol))
    while True:
        try:
            request = loads(recv_frame(fd))
        except (EOFError, OSError):
            return
        started = clock()
        try:
            reply = ("ok", execute(store, request))
        except BaseException as exc:  # noqa: BLE001  (every failure goes back to the pool as a message)
            reply = ("error", *error_tuple(exc, store_dir))
        send_frame(fd, dumps(reply, protocol=protocol))
        if trim is not None and clock() - started > TRIM_AFTER:
            trim(0)  # give back what a heavy query left in the heap (glibc keeps freed memory)

