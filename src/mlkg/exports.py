"""Whole-graph dumps of the built store in six RDF formats, streamed, and cached per build.

Graph formats (Turtle, JSON-LD, N-Triples, RDF/XML) hold the store's default graph — the union of
all files — followed by the dataset description (:mod:`mlkg.void`). Dataset formats (TriG, N-Quads)
hold the description in the default graph and each file's triples in its own named graph, so
provenance per file survives; their union is the default graph of the other dumps. Writing streams
triple by triple from the store, so memory stays bounded whatever the size of the graph; the web
layer serves dumps from files cached under ``var/exports/<store id>/`` (plain and gzip), written
once per build."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from mlkg import jsonld, void
from mlkg.build import StoreMeta, current_store, load_meta
from mlkg.config import Settings
from mlkg.errors import ParameterError, StoreError
from mlkg.formats import FORMATS

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
    >>> export_for("text/turtle").suffix
    'ttl'
    """
    for export in EXPORTS:
        if name in (export.suffix, export.name, export.media_type):
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
    store: ox.Store, export: Export, out: IO[bytes], *, description: Sequence[ox.Triple] = ()
) -> None:
    """Stream the dump of `store` in `export`'s format to the binary file `out`.

    `description` (the VoID triples) goes after the graph's triples, or into the default graph of a
    dataset format. IRIs are written in full or with the usual prefixes, never relative to a base
    (relative references to other hosts trip some RDF/XML parsers).
    """
    if export.dataset:
        write_quads(
            chain(
                (ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in description),
                named_graph_quads(store),
            ),
            export,
            out,
        )
    else:
        write_triples(chain(graph_triples(store), description), export, out)


# ---------------------------------------------------------------- the description, per build

_descriptions: dict[tuple[str, str, str], list[ox.Triple]] = {}
_description_lock = threading.Lock()


def description(settings: Settings, store: ox.Store, meta: StoreMeta) -> list[ox.Triple]:
    """The VoID description of a build (computed once per store and base IRI)."""
    key = (meta.id, meta.content_hash, settings.base_iri)
    with _description_lock:
        if key not in _descriptions:
            if len(_descriptions) > 8:
                _descriptions.clear()
            _descriptions[key] = void.describe(store, meta, settings)
        return _descriptions[key]


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


_file_locks: dict[Path, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _file_locks_guard:
        return _file_locks.setdefault(path, threading.Lock())


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold the right to write `path` (and its gzip copy): one thread of this process, and one
    process (a lock file beside it; `mlkg serve`'s server processes share the cache folder), so
    that a dump is written once, not once per process that is asked for it at the same time."""
    with _lock_for(path), (path.parent / f".{path.name}.lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def cached_export(
    settings: Settings,
    store: ox.Store,
    meta: StoreMeta,
    export: Export,
    *,
    compressed: bool = False,
) -> Path:
    """The dump file of this build in this format (gzip if `compressed`), written on first use.

    Files are written to a temporary name and renamed into place, so a reader never sees a partial
    file; dumps of stores no longer built are removed.

    :raises StoreError: if the cache folder cannot be written.
    """
    folder = settings.var_dir / "exports" / meta.id
    path = folder / f"mlkg-{meta.id}-{export_key(settings)}.{export.suffix}"
    target = path.with_name(path.name + ".gz") if compressed else path
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(path):
            if target.exists():  # written by another thread or process meanwhile
                return target
            if not path.exists():
                _write_atomically(
                    path,
                    lambda out: write_export(
                        store, export, out, description=description(settings, store, meta)
                    ),
                )
            if compressed:
                _write_atomically(target, lambda out: _gzip(path, out))
    except OSError as exc:
        raise StoreError(f"cannot write the {export.suffix} dump under {folder}: {exc}") from exc
    prune_exports(settings)
    return target


def _gzip(source: Path, out: IO[bytes]) -> None:
    with (
        source.open("rb") as plain,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed,
    ):
        shutil.copyfileobj(plain, packed, CHUNK)


def _write_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prune_exports(settings: Settings) -> None:
    """Remove cached dumps of stores that are no longer in var/stores."""
    root = settings.var_dir / "exports"
    stores = settings.var_dir / "stores"
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir() and not (stores / folder.name).is_dir():
            shutil.rmtree(folder, ignore_errors=True)
