"""Check that the build in service reads back whole, then write what its pages and downloads need
before anyone asks for it: the entity index, then every dump (plain and gzip).

`mlkg serve` starts this in a process of its own (`start`) at a lower CPU priority, so that the
first entity page or download of a large graph does not wait for work that can be done at once
(at 1M triples the entity index took ~11 s to write here, a Turtle dump ~6 s, a JSON-LD one ~10 s).
Each file is written as a request would write it (`mlkg.filecache`): once, atomically, under a
lock, so a request that asks meanwhile waits for the same file rather than writing its own.

The check (`mlkg.integrity`: every block of the store read once, ~25-35 s at 1M triples here) is
done here because this process is already apart from the server, started once per `mlkg serve`
rather than once per server process, and at a lower priority; and it comes first because on a
damaged store the entity index's query can run for ever (with no time limit here) while its memory
grows. A corrupt store is reported (ERROR, and in the record every server process reads for
/health) and nothing is written for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

from mlkg import _procs as procs
from mlkg._logbuffer import LOG_FORMAT
from mlkg.config import Settings

log = logging.getLogger("mlkg.prepare")

#: How much lower than the server's the CPU priority of the preparing process is (nice(2)).
NICENESS = 10
_MAIN = "from mlkg.prepare import main; main()"


def start(settings: Settings) -> subprocess.Popen | None:
    """Start preparing the store in service in a child process (None for a remote store)."""
    if settings.store_url:
        return None
    child = subprocess.Popen(
        [sys.executable, "-c", _MAIN, str(os.getpid())], stdin=subprocess.PIPE, close_fds=True
    )
    assert child.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        child.stdin.write(pickle.dumps(settings))
        child.stdin.close()
    # collected as soon as it ends, so that no zombie is left beside the server until it stops
    threading.Thread(target=child.wait, name="mlkg-prepare-wait", daemon=True).start()
    return child


def running(parent: int) -> list[int]:
    """The preparing processes among the descendants of `parent` (a `mlkg serve`), for the tests and
    benchmarks that measure a server in its settled state (or what else it runs)."""
    return [pid for pid in procs.descendants(parent) if _MAIN in procs.command_line(pid)]


def stop(child: subprocess.Popen | None) -> None:
    """End the preparing process (a file it was writing is left unwritten, never half-written)."""
    if child is not None:
        procs.stop(child, timeout=5)


def prepare(settings: Settings, store_dir: Path) -> None:
    """Check that the build at `store_dir` reads back whole, then write its entity index and every
    dump that is not written yet.

    :raises StoreCorruptError: when a block of it is damaged (nothing is written then).
    :raises StoreError: when a file cannot be written (what is written so far stays).
    """
    from mlkg import exports, integrity
    from mlkg.build import load_meta
    from mlkg.errors import StoreCorruptError
    from mlkg.search import index_file

    meta = load_meta(store_dir)
    finding = integrity.check(store_dir, settings.var_dir)
    if finding.problem is not None:
        raise StoreCorruptError(finding.problem)
    log.info("the store at %s reads back whole: every block of its indexes (%s quads) read in "
             "%.1f s", store_dir, finding.quads, finding.seconds)
    index_file(store_dir, settings.var_dir, settings.base_iri)
    for export in exports.EXPORTS:
        for compressed in (False, True):
            exports.cached_export(settings, store_dir, meta, export, compressed=compressed)


def main() -> None:
    """The preparing process: settings from stdin; ends with its parent (SIGTERM)."""
    from mlkg.build import current_store
    from mlkg.errors import MlkgError, StoreCorruptError

    procs.end_with_parent(int(sys.argv[1]))  # and on SIGTERM from `stop`
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server; it stops us
    os.nice(NICENESS)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    settings = pickle.loads(sys.stdin.buffer.read())
    try:
        store_dir = current_store(settings)
        prepare(settings, store_dir)
    except StoreCorruptError as exc:
        log.error("%s", exc.detail)
        sys.exit(1)
    except MlkgError as exc:
        log.warning("could not prepare the store's files ahead of requests: %s", exc.detail)
        sys.exit(1)
