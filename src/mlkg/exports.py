"""Whole-graph dumps of the built store in six RDF formats, streamed, and cached per build.

Graph formats (Turtle, JSON-LD, N-Triples, RDF/XML) hold the store's default graph — the union of
all files — followed by the dataset description (:mod:`mlkg.void`). Dataset formats (TriG, N-Quads)
hold the description in the default graph and each file's triples in its own named graph, so
provenance per file survives; their union is the default graph of the other dumps. Writing streams
triple by triple from the store, so memory stays bounded whatever the size of the graph; the web
layer serves dumps from files cached under ``var/exports/<store id>/`` (plain and gzip), written
once per build."""

from __future__ import annotations

import copy
import gzip
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from mlkg import filecache, integrity, jsonld, void
from mlkg.build import StoreMeta, current_store, load_meta
from mlkg.config import Settings
from mlkg.errors import ParameterError, StoreCorruptError, StoreError
from mlkg.formats import FORMATS

log = logging.getLogger("mlkg.exports")

# Bump when the bytes of a dump change for the same store (part of the ETag and the cache key).
EXPORT_VERSION = "2"
CHUNK = 1 << 16

_OX_FORMATS: dict[str, ox.RdfFormat | None] = {
    "turtle": ox.RdfFormat.TURTLE,
    "jsonld": None,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "trig": ox.RdfFormat.TRIG,
    "nquads": ox.RdfFormat.N_QUADS,
}


@dataclass(frozen=True)
class Export:
    """A dump format: `suffix` (as in /export.ttl), `name` (as in formats.FORMATS), media type."""

    suffix: str
    name: str
    media_type: str
    dataset: bool

    @property
    def rdf_format(self) -> ox.RdfFormat | None:
        """pyoxigraph's serializer for the format; None for JSON-LD (mlkg.jsonld writes it)."""
        return _OX_FORMATS[self.name]


EXPORTS: tuple[Export, ...] = tuple(
    Export(f.suffix, f.name, f.media_type, f.kind == "dataset")
    for f in FORMATS
    if f.kind in ("graph", "dataset") and f.name in _OX_FORMATS
)


def export_for(name: str) -> Export:
    """The export named by a suffix (``ttl``), a format name (``turtle``) or a media type.

    :raises ParameterError: naming the formats on offer.

    >>> export_for("nq").media_type
    'application/n-quads'
    >>> export_for("text/turtle").suffix, export_for("TTL").suffix
    ('ttl', 'ttl')
    """
    for export in EXPORTS:
        if name.lower() in (export.suffix, export.name, export.media_type):
            return export
    raise ParameterError(
        f"unknown export format {name!r}; use one of {[e.suffix for e in EXPORTS]} "
        f"(or {[e.name for e in EXPORTS]})",
        parameter="format",
        available=[e.suffix for e in EXPORTS],
    )


def open_store(settings: Settings) -> tuple[ox.Store, StoreMeta]:
    """The store in service, opened read-only, and its meta.json.

    :raises StoreError: if there is no built store or it cannot be opened.
    """
    path = current_store(settings)
    meta = load_meta(path)
    try:
        return ox.Store.read_only(str(path)), meta
    except OSError as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}; run `mlkg build`") from exc


def graph_triples(store: ox.Store) -> Iterator[ox.Triple]:
    """The triples of the store's default graph, grouped by subject."""
    for quad in store.quads_for_pattern(None, None, None, ox.DefaultGraph()):
        yield quad.triple


def named_graph_quads(store: ox.Store) -> Iterator[ox.Quad]:
    """The quads of every named graph, graph by graph in IRI order."""
    for graph in sorted(store.named_graphs(), key=str):
        yield from store.quads_for_pattern(None, None, None, graph)


def write_triples(triples: Iterable[ox.Triple], export: Export, out: IO[bytes]) -> None:
    """Stream `triples` in a graph format (JSON-LD compacted with mlkg's context) to `out`."""
    if export.dataset:
        raise ValueError(f"{export.suffix} is a dataset format; use write_quads")
    if export.rdf_format is None:
        jsonld.write_jsonld(triples, out)
    else:
        ox.serialize(triples, out, export.rdf_format, prefixes=void.prefixes())


def write_quads(quads: Iterable[ox.Quad], export: Export, out: IO[bytes]) -> None:
    """Stream `quads` in a dataset format (TriG, N-Quads) to `out`."""
    if not export.dataset:
        raise ValueError(f"{export.suffix} is a graph format; use write_triples")
    ox.serialize(quads, out, export.rdf_format, prefixes=void.prefixes())


def write_export(
    store: ox.Store, export: Export, out: IO[bytes], *, description: Iterable[ox.Triple] = ()
) -> None:
    """Stream the dump of `store` in `export`'s format to the binary file `out`.

    `description` (the VoID triples) goes last: after the graph's triples, or into the default
    graph after the named graphs of a dataset format; so it may be computed lazily, while the
    first bytes are already out. IRIs are written in full or with the usual prefixes, never
    relative to a base (relative references to other hosts trip some RDF/XML parsers).
    """
    if export.dataset:
        write_quads(
            chain(
                named_graph_quads(store),
                (ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in description),
            ),
            export,
            out,
        )
    else:
        write_triples(chain(graph_triples(store), description), export, out)


# ---------------------------------------------------------------- the description, per build

_descriptions: dict[tuple[str, str, float, str], list[ox.Triple]] = {}
_description_lock = threading.Lock()


def description(
    settings: Settings, store: ox.Store, meta: StoreMeta, *, elsewhere: Path | None = None
) -> list[ox.Triple]:
    """The VoID description of a build: computed once per build and base IRI (its statistics read
    the whole graph: ~6 s at 1M triples here), kept in memory and in a file under
    ``var/cache/<store id>/``, which other processes (server processes, dump writers) read.

    `elsewhere` (the build's folder), for a server process: the file is written by a child process
    when it is missing, as dumps and the entity index are, rather than computed here, where it held
    the interpreter for seconds and, over a damaged block, would never end (`mlkg.integrity`).

    :raises StoreCorruptError: when the store is known, or found, to be corrupt (and the
        description is not known yet: its counts would never end).
    :raises StoreError: with `elsewhere`, when the child process could not write it, saying why.
    """
    key = (meta.id, meta.content_hash, meta.built_at, settings.base_iri)
    with _description_lock:
        if key not in _descriptions:
            found = integrity.recorded(settings.var_dir, Path(meta.id))
            if found is not None and found.problem is not None:
                raise StoreCorruptError(found.problem)
            if len(_descriptions) > 8:
                _descriptions.clear()
            _descriptions[key] = _described(settings, store, meta, elsewhere)
        return _descriptions[key]


def _description_path(settings: Settings, meta: StoreMeta) -> Path:
    tag = hashlib.sha256(f"{export_key(settings)}\n{meta.built_at!r}".encode()).hexdigest()[:8]
    return filecache.build_folder(settings.var_dir, "cache", meta.id) / f"void-{tag}.nt"


def _described(
    settings: Settings, store: ox.Store, meta: StoreMeta, elsewhere: Path | None
) -> list[ox.Triple]:
    path = _description_path(settings, meta)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with filecache.exclusive(path):
                if not path.exists() and elsewhere is not None:
                    job = (settings, Path(elsewhere), meta, path)
                    integrity.run_guarded(
                        settings.var_dir, elsewhere, "mlkg.exports:_write_description_of", job,
                        timeout=filecache.per_build_limit(settings.query_timeout),
                    )
                elif not path.exists():
                    return _write_description(settings, store, meta, path)
        return [q.triple for q in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)]
    except (OSError, SyntaxError) as exc:
        if elsewhere is not None:  # never computed here: say why the child could not write it
            raise StoreError(
                f"cannot write the dataset description under {path.parent}: {exc}"
            ) from exc
        log.warning("the dataset description is not cached (%s): computing it", exc)
        return void.describe(store, meta, settings)


def _write_description(
    settings: Settings, store: ox.Store, meta: StoreMeta, path: Path
) -> list[ox.Triple]:
    """Compute the description of `store` and write it at `path`."""
    triples = void.describe(store, meta, settings)
    filecache.write_atomically(path, lambda out: ox.serialize(triples, out, ox.RdfFormat.N_TRIPLES))
    return triples


def _write_description_of(settings: Settings, store_dir: Path, meta: StoreMeta, path: Path) -> None:
    """`_write_description` of the build at `store_dir`, in a child process of `_described`."""
    _write_description(settings, ox.Store.read_only(str(store_dir)), meta, path)


# ---------------------------------------------------------------- cached files, for HTTP


def export_key(settings: Settings) -> str:
    """What, besides the store, decides a dump's bytes: the export code version and the base IRI.

    >>> len(export_key(Settings()))
    8
    """
    return hashlib.sha256(f"{EXPORT_VERSION}\n{settings.base_iri}".encode()).hexdigest()[:8]


def etag(settings: Settings, meta: StoreMeta, export: Export, *, compressed: bool = False) -> str:
    """The entity tag of a dump: tied to the store's content id, the export key and the encoding."""
    return f"{meta.id}-{export_key(settings)}-{export.suffix}{'-gzip' if compressed else ''}"


def download_name(meta: StoreMeta, export: Export) -> str:
    """The file name a dump is offered under, e.g. ``mlkg-3683661a202bc88f.ttl``."""
    return f"mlkg-{meta.id}.{export.suffix}"


def cached_export(
    settings: Settings,
    store_dir: Path,
    meta: StoreMeta,
    export: Export,
    *,
    compressed: bool = False,
) -> Path:
    """The dump file of the build at `store_dir` in this format (gzip if `compressed`), written on
    first use.

    The file is written once, atomically, by a child process (`mlkg.filecache`), never in the
    calling one: with 1M triples a Turtle dump took 6 s here, and another thread of the writing
    process got the interpreter lock about once every 250 ms meanwhile. Dumps of stores no longer
    built are removed.

    :raises StoreCorruptError: when the store is known, or found, to be corrupt.
    :raises StoreError: if the dump cannot be written, saying why.
    """
    path = dump_path(settings, meta, export)
    folder = path.parent
    target = dump_path(settings, meta, export, compressed=compressed)
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with filecache.exclusive(path):
            if not target.exists():  # else written by another thread or process meanwhile
                job = (settings, Path(store_dir), meta, export.suffix, path, compressed)
                integrity.run_guarded(settings.var_dir, store_dir, "mlkg.exports:_write_files", job)
    except OSError as exc:
        raise StoreError(f"cannot write the {export.suffix} dump under {folder}: {exc}") from exc
    filecache.prune(settings.var_dir)
    return target


def dump_path(
    settings: Settings, meta: StoreMeta, export: Export, *, compressed: bool = False
) -> Path:
    """Where the dump of this build in this format is kept (written or not)."""
    name = f"mlkg-{meta.id}-{export_key(settings)}.{export.suffix}{'.gz' if compressed else ''}"
    return filecache.build_folder(settings.var_dir, "exports", meta.id) / name


_writing: set[Path] = set()
_failed: dict[Path, StoreError] = {}  # why this process's last background write of a dump failed
_writing_lock = threading.Lock()


def start_export(settings: Settings, store_dir: Path, meta: StoreMeta, export: Export) -> None:
    """Have the dump (plain, then gzip) written in the background, unless a thread of this process
    is at it already; a failure is logged and kept for `follow` to raise."""
    path = dump_path(settings, meta, export)
    with _writing_lock:
        if path in _writing:
            return
        _writing.add(path)
        _failed.pop(path, None)

    def write() -> None:
        try:
            cached_export(settings, store_dir, meta, export, compressed=True)
        except StoreError as exc:
            log.error("%s", exc.detail)
            _failed[path] = exc
        finally:
            with _writing_lock:
                _writing.discard(path)

    threading.Thread(target=write, name=f"mlkg-dump-{export.suffix}", daemon=True).start()


def follow(path: Path, *, wait: float = 10.0, idle: float = 300.0) -> Iterator[bytes] | None:
    """The bytes of the dump `path` as a live process writes them, so that a download starts at
    once rather than after the whole file is written (a 1M-triple dump took 6-10 s alone here, and
    several times that under load). None when the file is complete (serve it as a file).

    :raises StoreError: when this process's writer (`start_export`) failed, saying why, or when no
        process starts writing it within `wait` s. While following: when the writer gives up (its
        temporary file goes without the dump appearing) or writes nothing for `idle` s; the answer
        is then cut short, and the client sees it as incomplete.
    """
    deadline = time.monotonic() + wait
    while True:
        if path.exists():
            return None
        failure = _failed.get(path)
        if failure is not None:
            raise copy.copy(failure)
        tmp = filecache.being_written(path)
        if tmp is not None:
            try:
                handle = tmp.open("rb")
                break
            except FileNotFoundError:  # renamed into place, or given up, meanwhile
                continue
        if time.monotonic() > deadline:
            raise StoreError(f"the {path.suffix[1:]} dump is not being written; try again")
        time.sleep(0.02)
    return _tail(handle, tmp, path, idle)


def _tail(handle: IO[bytes], tmp: Path, path: Path, idle: float) -> Iterator[bytes]:
    with handle:
        quiet_since = time.monotonic()
        while True:
            chunk = handle.read(CHUNK)
            if chunk:
                quiet_since = time.monotonic()
                yield chunk
                continue
            if not tmp.exists():
                if path.exists():  # renamed into place: it was closed first, so the rest is here
                    while chunk := handle.read(CHUNK):
                        yield chunk
                    return
                raise StoreError(f"writing {path.name} failed; the download is incomplete")
            if time.monotonic() - quiet_since > idle:
                raise StoreError(f"writing {path.name} stalled; the download is incomplete")
            time.sleep(0.05)


def _write_files(
    settings: Settings, store_dir: Path, meta: StoreMeta, suffix: str, path: Path, compressed: bool
) -> None:
    """Write the dump at `path` (unless it is there) and, if `compressed`, its gzip copy."""
    export = export_for(suffix)
    if not path.exists():
        try:
            store = ox.Store.read_only(str(store_dir))
        except OSError as exc:
            raise StoreError(f"cannot open the store at {store_dir}: {exc}") from exc

        def about() -> Iterator[ox.Triple]:  # computed when the dump reaches it (it goes last)
            yield from description(settings, store, meta)

        filecache.write_atomically(
            path, lambda out: write_export(store, export, out, description=about())
        )
    if compressed:
        filecache.write_atomically(path.with_name(path.name + ".gz"), lambda out: _gzip(path, out))


def _gzip(source: Path, out: IO[bytes]) -> None:
    with (
        source.open("rb") as plain,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed,
    ):
        shutil.copyfileobj(plain, packed, CHUNK)
