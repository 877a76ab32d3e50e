"""Files derived from one build (dumps, the entity index, the dataset description), written once
and never half-written.

Each is written under a lock that one thread of one process holds at a time (`exclusive`: the
server processes of `mlkg serve` share the folder), to a temporary name renamed into place
(`write_atomically`), and by a child process (`run_elsewhere`): serializing a large graph is
seconds of work under the interpreter lock, which would starve every other thread of a server
process meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import importlib
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from mlkg._procs import alive, end_with_parent

#: What the child process runs; it reads ("module:function", args), pickled, from stdin.
_CHILD_MAIN = "from mlkg.filecache import _child_main; _child_main()"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the right to write `path` (and files named after it): one thread of this process, and
    one process (a lock file `.<name>.lock` beside it)."""
    with _thread_lock(path), (path.parent / f".{path.name}.lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


#: Folders of var/ that hold one sub-folder of derived files per build (named by its store id):
#: dumps, and what the server reads (the entity index, the dataset description).
ROOTS = ("exports", "cache")


def build_folder(var_dir: Path, root: str, build: str) -> Path:
    """The folder of `root` ("exports" or "cache") for the build (store id) `build`."""
    if root not in ROOTS:
        raise ValueError(f"not a folder of derived files: {root!r}")
    return var_dir / root / build


def prune(var_dir: Path) -> None:
    """Remove the derived files of builds that are no longer in var/stores."""
    stores = var_dir / "stores"
    for root in ROOTS:
        folder = var_dir / root
        if not folder.is_dir():
            continue
        for build in folder.iterdir():
            if build.is_dir() and not (stores / build.name).is_dir():
                shutil.rmtree(build, ignore_errors=True)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path` (removed on error)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def being_written(path: Path) -> Path | None:
    """The temporary file a live process is writing `path` into (`write_atomically`), or None."""
    prefix = f".{path.name}."
    found = []
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid, dot, tid = tmp.name[len(prefix) : -len(".tmp")].partition(".")
        if not (dot and pid.isdigit() and tid.isdigit()) or not alive(int(pid)):
            continue  # another file's temporary (".x.gz.…"), or a writer that was killed
        with contextlib.suppress(OSError):
            found.append((tmp.stat().st_mtime_ns, tmp))
    return max(found)[1] if found else None


#: How often (s) `run_elsewhere` asks whether to give up on its child.
POLL = 0.5


def per_build_limit(query_timeout: float | None) -> float | None:
    """The time limit (s) of work done once per build for every request (the entity index, the
    dataset description, the check before a swap): 30 × the query limit; None when queries have none.

    >>> per_build_limit(10.0), per_build_limit(None)
    (300.0, None)
    """
    return 30 * query_timeout if query_timeout else None


def run_elsewhere(
    target: str,
    args: tuple,
    *,
    timeout: float | None = None,
    abandon: Callable[[], str | None] | None = None,
) -> None:
    """Call `target` ("module:function") with `args` in a child Python process and wait for it.

    `abandon`, asked every POLL s while it runs, gives a reason to stop waiting: the store was
    found corrupt meanwhile, on which the child's query might never end.

    :raises OSError: with the child's own last line of error when it failed, or when it ran past
        `timeout` s or was abandoned (it is killed).
    """
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD_MAIN, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = None if timeout is None else time.monotonic() + timeout
    sent: bytes | None = pickle.dumps((target, args))
    try:
        while True:
            wait = POLL if abandon is not None else None
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                wait = left if wait is None else min(wait, left)
            try:
                _, err = child.communicate(sent, timeout=wait)
                break
            except subprocess.TimeoutExpired:
                sent = None  # sent once: communicate goes on with what it has not written yet
                if deadline is not None and time.monotonic() >= deadline:
                    raise OSError(
                        f"the process writing it ran past {timeout:g} s and was stopped"
                    ) from None
                reason = abandon() if abandon is not None else None
                if reason:
                    raise OSError(f"stopped the process writing it: {reason}") from None
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    if child.returncode < 0:
        raise OSError(f"the process writing it was killed by signal {-child.returncode}")
    if child.returncode != 0:
        said = err.decode("utf-8", "replace").strip().splitlines()
        raise OSError(said[-1] if said else f"the process writing it exited {child.returncode}")


def _child_main() -> None:
    """The child's main: one call from stdin; on failure, one line saying why on stderr. It ends
    if the process that started it does (that thread waits for it meanwhile)."""
    end_with_parent(int(sys.argv[1]))
    try:
        target, args = pickle.loads(sys.stdin.buffer.read())
        module, _, name = target.partition(":")
        getattr(importlib.import_module(module), name)(*args)
    except Exception as exc:  # noqa: BLE001  (the parent reports it, as an OSError)
        print(f"{exc}", file=sys.stderr)
        sys.exit(1)
