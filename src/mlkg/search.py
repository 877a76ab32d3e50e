"""The entity index: every IRI of the graph under the base with its labels and types, loaded once per
store version; label search (case- and accent-insensitive, prefix matches, exact label first) and
near-match suggestions for unknown IRIs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, RDFS, URIRef
from rdflib.namespace import DCTERMS, SKOS
from rdflib.term import Node

from mlkg import filecache
from mlkg._rows import Backend, select
from mlkg.errors import StoreError
from mlkg.namespaces import BASE, MLKG, SCHEMA
from mlkg.provenance import normalize, parse_span

GENID = BASE + ".well-known/genid/"
TERMS = str(MLKG)

INDEX_QUERY = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX schema: <http://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?e ?p ?v ?degree ?base WHERE {
  {
    ?e ?p ?v .
    VALUES ?p { rdf:type rdfs:label skos:altLabel schema:name dcterms:title }
  } UNION {
    SELECT ?e (COUNT(*) AS ?degree) WHERE { { ?e ?x ?y } UNION { ?y ?x ?e } } GROUP BY ?e
  }
  FILTER(isIRI(?e) && STRSTARTS(STR(?e), STR(?base)))
}
"""

MAX_QUERY = 200


@dataclass(slots=True)
class Entry:
    """One entity of the graph: its labels, direct types and number of triples it takes part in."""

    iri: str
    label: str | None = None
    alt_labels: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    degree: int = 0

    @property
    def searchable(self) -> bool:
        """Entities with a label of their own (spans, statements and selectors have none)."""
        return self.label is not None


@dataclass(frozen=True)
class Hit:
    """A search result: the entry, the text that matched, and the rank of the match (lower is better)."""

    entry: Entry
    matched: str
    rank: int


def fallback_label(iri: str) -> str:
    """A readable name for an entity without a label, derived from its IRI.

    >>> fallback_label("https://w3id.org/mlkg/source/000_ab/c10-22")
    'characters 10–22 of 000_ab'
    >>> fallback_label("https://w3id.org/mlkg/skill/deep-learning")
    'deep learning'
    """
    span = parse_span(URIRef(iri))
    if span is not None:
        return f"characters {span.start}–{span.end} of {span.stem}"
    if "#" in iri:
        base, frag = iri.rsplit("#", 1)
        return f"{frag} of {fallback_label(base)}"
    if iri.startswith(GENID):
        return f"node {iri[len(GENID) :][:8]}"
    tail = iri.rstrip("/").rsplit("/", 1)[-1]
    return tail.replace("-", " ").replace("_", " ") if tail else iri


class EntityIndex:
    """All entity IRIs under the base, with labels and types, searchable in memory."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: dict[str, Entry] = {e.iri: e for e in entries}
        self._counts: dict[str, int] | None = None
        self._keys: list[
            tuple[Entry, str, bool, str]
        ] = []  # (entry, normalized key, is_label, text)
        for entry in self.entries.values():
            if not entry.searchable:
                continue
            self._keys.append((entry, normalize(entry.label or ""), True, entry.label or ""))
            for alt in entry.alt_labels:
                self._keys.append((entry, normalize(alt), False, alt))

    def __contains__(self, iri: object) -> bool:
        return str(iri) in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, iri: Node | str) -> Entry | None:
        """The entry of `iri`, or None."""
        return self.entries.get(str(iri))

    def label(self, iri: Node | str) -> str:
        """The label of an entity, or a name derived from its IRI."""
        entry = self.entries.get(str(iri))
        if entry is not None and entry.label:
            return entry.label
        return fallback_label(str(iri))

    def search(self, query: str, limit: int = 10, types: set[str] | None = None) -> list[Hit]:
        """Entities whose label or alternative label matches `query`, best first.

        Ranks: exact label, exact alternative label, label prefix, alternative-label prefix,
        word-prefix matches, then substrings; ties go to the data's entities before ontology terms, then to
        better-connected entities, then to shorter labels.
        """
        q = normalize(query)[:MAX_QUERY]
        if not q:
            return []
        q_words = q.split()
        best: dict[str, Hit] = {}
        for entry, key, is_label, text in self._keys:
            if types is not None and not types.intersection(entry.types):
                continue
            rank = _rank(q, q_words, key)
            if rank is None:
                continue
            rank = rank * 2 + (0 if is_label else 1)
            current = best.get(entry.iri)
            if current is None or rank < current.rank:
                best[entry.iri] = Hit(entry, text, rank)
        hits = sorted(
            best.values(),
            key=lambda h: (
                h.rank,
                h.entry.iri.startswith(TERMS),
                -h.entry.degree,
                len(h.entry.label or ""),
                (h.entry.label or "").casefold(),
            ),
        )
        return hits[:limit]

    def suggest(self, text: str, limit: int = 5) -> list[Entry]:
        """Near matches for an unknown IRI or misspelt name: search hits, then fuzzy label matches."""
        tail = text.rstrip("/").rsplit("/", 1)[-1]
        words = re.sub(r"[-_+.%]", " ", tail).strip()
        found = [h.entry for h in self.search(words, limit=limit)] if words else []
        if len(found) < limit and words:
            labels = {normalize(k[3]): k[0] for k in self._keys}
            for match in difflib.get_close_matches(
                normalize(words), list(labels), n=limit, cutoff=0.6
            ):
                if labels[match] not in found:
                    found.append(labels[match])
        return found[:limit]

    def members(self, classes: set[str]) -> list[Entry]:
        """The entities typed with any of `classes`."""
        return [e for e in self.entries.values() if classes.intersection(e.types)]

    def class_counts(self) -> dict[str, int]:
        """Number of entities per direct type (computed once)."""
        if self._counts is None:
            counts: dict[str, int] = {}
            for entry in self.entries.values():
                for cls in entry.types:
                    counts[cls] = counts.get(cls, 0) + 1
            self._counts = counts
        return self._counts


def _rank(q: str, q_words: list[str], key: str) -> int | None:
    """How well `key` matches the normalized query `q` (0 best), or None.

    >>> _rank("python", ["python"], "python"), _rank("pyt", ["pyt"], "python")
    (0, 1)
    >>> _rank("learn", ["learn"], "deep learning"), _rank("earn", ["earn"], "deep learning")
    (2, 3)
    """
    if key == q:
        return 0
    if key.startswith(q):
        return 1
    if not all(qw in key for qw in q_words):  # cheap test that rules out most keys before splitting
        return None
    key_words = re.split(r"[\s\-/(),]+", key)
    if all(any(w.startswith(qw) for w in key_words) for qw in q_words):
        return 2
    if q in key:
        return 3
    return None


_LABEL_PREDICATES = [str(RDFS.label), str(SCHEMA.name), str(DCTERMS.title)]  # best first
_TYPE, _ALT = str(RDF.type), str(SKOS.altLabel)

#: One row of INDEX_QUERY in plain values: (entity IRI, predicate IRI, value, value is an IRI,
#: value's language, degree); a degree row has None for the predicate and the value.
PlainRow = tuple[str, str | None, str | None, bool, str | None, int | None]


def build_index(rows: Iterable[dict[str, Node]]) -> EntityIndex:
    """An EntityIndex from the rows of :data:`INDEX_QUERY` (labels prefer English, then rdfs:label)."""
    return _index_from(
        (str(row["e"]), None, None, False, None, int(row["degree"]))
        if "degree" in row
        else (
            str(row["e"]),
            str(row["p"]),
            str(row["v"]),
            isinstance(row["v"], URIRef),
            getattr(row["v"], "language", None),
            None,
        )
        for row in rows
    )


def _index_from(rows: Iterable[PlainRow]) -> EntityIndex:
    entries: dict[str, Entry] = {}
    label_rank: dict[str, int] = {}
    for iri, p, v, v_is_iri, language, degree in rows:
        entry = entries.get(iri)
        if entry is None:
            entry = entries[iri] = Entry(iri)
        if degree is not None:
            entry.degree = degree
        elif p == _TYPE:
            if v_is_iri:
                entry.types.append(v)
        elif p == _ALT:
            entry.alt_labels.append(v)
        elif p in _LABEL_PREDICATES:
            rank = _LABEL_PREDICATES.index(p) * 2 + (0 if language in (None, "", "en") else 1)
            if rank < label_rank.get(iri, 99):
                entry.label, label_rank[iri] = v, rank
    for entry in entries.values():
        entry.types.sort()
        entry.alt_labels = sorted(set(entry.alt_labels) - {entry.label})
    return EntityIndex(entries.values())


def load_index(backend: Backend, base: str = BASE, timeout: float | None = None) -> EntityIndex:
    """Load the entity index with one query through `backend`."""
    return build_index(select(backend, INDEX_QUERY, {"base": URIRef(base)}, timeout=timeout))


# ---------------------------------------------------------------- the index as a file, per build

#: Bump when the index file's layout or what goes into it (INDEX_QUERY) changes.
INDEX_FILE_FORMAT = 1


def index_file_name(base: str) -> str:
    """The index file's name for a base IRI (the base decides which IRIs are entities).

    >>> index_file_name("https://w3id.org/mlkg/")
    'entity-index-1-c3adec12.json'
    """
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"entity-index-{INDEX_FILE_FORMAT}-{digest}.json"


def write_index_file(store_dir: Path, base: str, path: Path) -> None:
    """Compute the entity index from the store at `store_dir` and write it to `path` as JSON.

    Run in a child process (`mlkg.filecache.run_elsewhere`): at 1M triples, reading INDEX_QUERY's
    answer through a backend (JSON, then rdflib terms, then entries) was ~28 s of work in the
    server process under the interpreter lock (measured with a load test running); here the rows
    come straight from the engine as plain strings (~11 s alone, in a process of its own).
    """
    try:
        store = ox.Store.read_only(str(store_dir))
    except OSError as exc:
        raise StoreError(f"cannot open the store at {store_dir}: {exc}") from exc
    solutions = store.query(INDEX_QUERY, substitutions={ox.Variable("base"): ox.NamedNode(base)})
    e, p, v, d = (ox.Variable(n) for n in ("e", "p", "v", "degree"))

    def plain() -> Iterator[PlainRow]:
        for row in solutions:
            degree = row[d]
            if degree is not None:
                yield row[e].value, None, None, False, None, int(degree.value)
                continue
            value = row[v]
            language = value.language if isinstance(value, ox.Literal) else None
            yield (
                row[e].value,
                row[p].value,
                value.value,
                isinstance(value, ox.NamedNode),
                language,
                None,
            )

    index = _index_from(plain())
    types = sorted({t for entry in index.entries.values() for t in entry.types})
    number = {t: i for i, t in enumerate(types)}
    document = {
        "format": INDEX_FILE_FORMAT,
        "base": base,
        "types": types,
        "entries": [
            [x.iri, x.label, x.alt_labels, [number[t] for t in x.types], x.degree]
            for x in index.entries.values()
        ],
    }
    filecache.write_atomically(
        path, lambda out: out.write(json.dumps(document, ensure_ascii=False).encode("utf-8"))
    )


def read_index_file(path: Path) -> EntityIndex:
    """The entity index `write_index_file` wrote.

    :raises StoreError: when the file is not one (unreadable, another format).
    """
    try:
        document = json.loads(path.read_bytes())
        found = document.get("format") if isinstance(document, dict) else None
        if found != INDEX_FILE_FORMAT:
            raise ValueError(f"format {found!r}, not {INDEX_FILE_FORMAT}")
        types = document["types"]
        return EntityIndex(
            Entry(iri, label, alts, [types[t] for t in kinds], degree)
            for iri, label, alts, kinds, degree in document["entries"]
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise StoreError(f"cannot read the entity index {path}: {exc}") from exc


def cached_index(
    store_dir: Path, var_dir: Path, base: str, *, timeout: float | None = None
) -> EntityIndex:
    """The entity index of the build at `store_dir`, from its file (see `index_file`).

    :raises StoreError: when it cannot be written or read, saying why.
    """
    return read_index_file(index_file(store_dir, var_dir, base, timeout=timeout))


def index_file(store_dir: Path, var_dir: Path, base: str, *, timeout: float | None = None) -> Path:
    """The entity index file of the build at `store_dir`, in ``var/cache/<store id>/``, written
    first if it is not there: once (other threads and processes wait for it), by a child process
    (`mlkg.filecache`).

    :raises StoreError: when it cannot be written, saying why.
    """
    folder = filecache.build_folder(var_dir, "cache", Path(store_dir).name)
    path = folder / index_file_name(base)
    if not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with filecache.exclusive(path):
                if not path.exists():
                    job = (Path(store_dir), base, path)
                    filecache.run_elsewhere("mlkg.search:write_index_file", job, timeout=timeout)
        except OSError as exc:
            raise StoreError(f"cannot write the entity index under {folder}: {exc}") from exc
    return path
