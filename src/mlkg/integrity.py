"""Whether a built store reads back whole: every block of each of its indexes read once, so that the
engine checks each block's checksum, and the finding recorded where every server process looks.

Why: `mlkg serve`'s start check (`mlkg.serve.check_store`) opens the store and asks `ASK {}`, which
reads no data block, so a store damaged after its build (bytes overwritten in its files) passed it,
and the damage showed only when a query reached it. A query that streams its answer then fails at
once, but one that aggregates or joins over a damaged block never ends: the engine (pyoxigraph 0.5)
yields the same read error again and again and keeps each one, so its worker ran to the time limit
while its memory grew by ~330 MB/s. Reading every block takes seconds per million triples (figures
in docs/hardening.md), too long for a 1 s start, so `mlkg.prepare` runs `check` in the background
before it writes anything, a reload runs it before the swap, and `mlkg check-store` on demand. The
finding is kept in the build's cache folder (``var/cache/<store id>/store-check.json``), where each
server process's backend looks before every query (`Watch`): a store known to be corrupt is refused
at once, and /health says so.

What is read: the store keeps each quad in nine indexes (RocksDB column families: dspo, dpos, dosp
for the default graph; gspo, gpos, gosp, spog, posg, ospg for the named graphs), the strings of long
terms in id2str, and the named graphs in graphs. Counting the quads reads dspo and gspo whole. The
other indexes can only be read under a prefix, so each query of `BY_TERM` takes every distinct term
(or graph and term) of the named graphs in turn and reads every key under it; a lookup in any named
graph reads the default graph's index as well (dpos, dosp). Each distinct term is written out once,
which reads its strings from id2str (the engine's string functions would not do: they take a
damaged string for an unbound value). The terms come from the named graphs, which hold every triple
of a store `mlkg build` writes (its default graph is their union); in a store whose default graph
held triples of its own, terms found only there would not be looked up.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlkg import filecache
from mlkg.errors import StoreCorruptError, StoreError, is_corruption

log = logging.getLogger("mlkg.integrity")

#: The file, in the build's cache folder, that holds the last finding.
RECORD = "store-check.json"


def _by_term(terms: str, graph: str, lookup: str) -> str:
    """A query with one row per distinct `terms` of the named graphs, given after every key of
    `lookup` (in `graph`) under them has been read: ?z is bound to a predicate, never blank, so no
    key makes a row of its own, and the empty group makes the one row."""
    return (
        f"SELECT {terms} WHERE {{ {{ SELECT DISTINCT {terms} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} }} "
        f"LATERAL {{ {{ GRAPH {graph} {{ {lookup} }} FILTER(isBlank(?z)) }} UNION {{ }} }} }}"
    )


#: The indexes read under a prefix, and the query that reads each (with dpos and dosp, the ones
#: most queries read, early).
BY_TERM = {
    "posg, dpos": _by_term("?p", "?h", "?x ?p ?y BIND(?p AS ?z)"),
    "ospg, dosp": _by_term("?o", "?h", "?x ?z ?o"),
    "spog": _by_term("?s", "?h", "?s ?z ?y"),
    "gpos": _by_term("?g ?p", "?g", "?x ?p ?y BIND(?p AS ?z)"),
    "gosp": _by_term("?g ?o", "?g", "?x ?z ?o"),
}


class _Discard:
    """A binary file that keeps nothing (the answers are read for their reads' sake)."""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        """Nothing to flush."""


def scan(store_dir: Path) -> int:
    """Read every block of the store at `store_dir` (see the module doc); the number of quads.

    :raises StoreCorruptError: at the first damaged block, in the engine's words (file, offset).
    :raises StoreError: when the store cannot be opened or read for another reason.
    """
    import pyoxigraph as ox

    try:
        store = ox.Store.read_only(str(store_dir))
        quads = len(store)  # dspo and gspo, whole
        for _ in store.named_graphs():  # graphs
            pass
        for query in BY_TERM.values():
            store.query(query).serialize(_Discard(), format=ox.QueryResultsFormat.TSV)
    except (OSError, RuntimeError) as exc:
        if is_corruption(exc):
            raise StoreCorruptError.at(store_dir, exc) from None
        raise StoreError(f"cannot read the store at {store_dir}: {exc}; run `mlkg build`") from None
    return quads


@dataclass(frozen=True)
class Finding:
    """What reading a build found: `problem` says why it is corrupt (None: it read back whole)."""

    problem: str | None
    #: When it was found (time.time()); a scan's start.
    checked_at: float
    #: How long the scan took (0 for a damaged block a query came upon).
    seconds: float = 0.0
    quads: int | None = None

    @property
    def whole(self) -> bool:
        """Whether every block read back."""
        return self.problem is None


def record_path(var_dir: Path, store_dir: Path) -> Path:
    """Where the finding on the build at `store_dir` is kept (a path ending in its id will do)."""
    return filecache.build_folder(Path(var_dir), "cache", Path(store_dir).name) / RECORD


def _write(path: Path, finding: Finding) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(asdict(finding)).encode("utf-8")
    filecache.write_atomically(path, lambda out: out.write(body))


def _read(path: Path) -> Finding | None:
    try:
        return Finding(**json.loads(path.read_bytes()))
    except (OSError, ValueError, TypeError):
        return None  # none yet, or not one (a damaged file is scanned for again)


def recorded(var_dir: Path, store_dir: Path) -> Finding | None:
    """The last finding on the build at `store_dir`, if any."""
    return _read(record_path(var_dir, store_dir))


def check(store_dir: Path, var_dir: Path, since: float | None = None) -> Finding:
    """Scan the build at `store_dir` and record the finding; one scan at a time per build (another
    process asking meanwhile waits), and none when a finding was recorded at or after `since`
    (server processes reloading together share one scan).

    :raises StoreError: when the store cannot be opened or read for another reason than damage
        (nothing is recorded then).
    """
    path = record_path(var_dir, store_dir)
    finding: Finding | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with filecache.exclusive(path):
            found = _read(path)
            if since is not None and found is not None and found.checked_at + found.seconds >= since:
                return found  # finished after `since`: its reads are as recent as a new scan's
            finding = _scanned(store_dir)
            _write(path, finding)
    except OSError as exc:  # a read-only var/cache: the finding stands, unrecorded
        log.warning("cannot record the check of the store at %s in %s: %s", store_dir, path.parent, exc)
        if finding is None:
            finding = _scanned(store_dir)
    return finding


def _scanned(store_dir: Path) -> Finding:
    started, clock = time.time(), time.perf_counter()
    try:
        quads, problem = scan(store_dir), None
    except StoreCorruptError as exc:
        quads, problem = None, exc.detail
    return Finding(problem, started, round(time.perf_counter() - clock, 3), quads)


class Watch:
    """The finding on one build as a server process sees it: the file is looked at no more than
    every `interval` s (queries ask before each run) and read again only when it has changed."""

    def __init__(self, var_dir: Path, store_dir: Path, *, interval: float = 0.25) -> None:
        self.path, self.interval = record_path(var_dir, store_dir), interval
        self._next = 0.0
        self._stamp: tuple[int, int, int] | None = None
        self._finding: Finding | None = None
        self._reported: Finding | None = None  # damage this process came upon (if unrecorded)

    def finding(self) -> Finding | None:
        """The last finding recorded, None before the first."""
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            try:
                stat = os.stat(self.path)
                stamp: tuple[int, int, int] | None = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
            except OSError:
                stamp = None
            if stamp != self._stamp:
                self._stamp, self._finding = stamp, _read(self.path) if stamp else None
        return self._finding if self._finding is not None else self._reported

    def problem(self) -> str | None:
        """Why the build is corrupt, if it is known to be."""
        found = self.finding()
        return None if found is None else found.problem

    def report(self, problem: str) -> None:
        """Record the damage a query came upon (so that /health and every process know at once),
        unless it is known already. Not under `check`'s lock: a scan may hold it for seconds."""
        if self.problem() is None:
            self._reported = Finding(problem, time.time())  # kept here if it cannot be written
            _write(self.path, self._reported)
            self._next = 0.0


def run_guarded(
    var_dir: Path, store_dir: Path, target: str, args: tuple, *, timeout: float | None = None
) -> None:
    """`filecache.run_elsewhere` for a child that reads the build at `store_dir` (to write a file
    derived from it): not started on a store known to be corrupt, stopped as soon as it is found
    so (its query might never end), and damage the child comes upon recorded.

    :raises StoreCorruptError: when the store is, or is found, corrupt.
    :raises OSError: when the child fails for another reason.
    """
    check = Watch(var_dir, store_dir, interval=0)
    problem = check.problem()
    if problem is None:
        try:
            filecache.run_elsewhere(target, args, timeout=timeout, abandon=check.problem)
            return
        except OSError as exc:
            if is_corruption(exc):  # its last line of error: the engine's own
                problem = StoreCorruptError.at(store_dir, exc).detail
                check.report(problem)
            elif check.problem() is None:
                raise
            else:
                problem = check.problem()
    raise StoreCorruptError(problem)
