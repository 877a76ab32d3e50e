"""The entity index: every IRI of the graph under the base with its labels and types, loaded once per
store version; label search (case- and accent-insensitive, prefix matches, exact label first) and
near-match suggestions for unknown IRIs.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import heapq
import itertools
import json
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, RDFS, URIRef
from rdflib.namespace import DCTERMS, SKOS
from rdflib.term import Node

from mlkg import filecache, integrity
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
#: How many keys, those most alike by trigrams, a misspelt name is compared with letter by letter.
FUZZY_CANDIDATES = 500


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
        # every normalized key in one string, one per line (a key has no line break: normalize
        # folds white space to single spaces), and where each starts: a word of the query is
        # looked for there by str.find, at C speed, rather than in each key in turn
        self._text = "\n".join(k[1] for k in self._keys)
        lengths = (len(k[1]) + 1 for k in self._keys[:-1])
        self._starts = array("l", itertools.accumulate(lengths, initial=0))
        self._grams: dict[str, array] | None = None  # trigram -> keys, made when suggest first asks

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
        word-prefix matches, then substrings; ties go to the data's entities before ontology terms,
        then to better-connected entities, then to shorter labels, then by label and IRI.
        """
        q = normalize(query)[:MAX_QUERY]
        if not q:
            return []
        q_words = q.split()
        best: dict[str, Hit] = {}
        keys = self._keys
        rest: list[int] = []  # keys that are neither the query nor start with it
        # every match holds each word of the query: only the keys that hold its longest are ranked
        for position in self._holding(max(q_words, key=len)):
            entry, key, is_label, text = keys[position]
            if types is not None and not types.intersection(entry.types):
                continue
            if key.startswith(q):
                _keep(best, Hit(entry, text, (0 if key == q else 2) + (0 if is_label else 1)))
            else:
                rest.append(position)
        # the rest rank below every exact or prefix match: when those fill the page, skip the rest
        if len(best) < limit and rest:
            if len(q_words) == 1:  # each of `rest` holds q, at the start of one of its words or not
                starting = self._word_starts(q)
                for position in rest:
                    entry, _, is_label, text = keys[position]
                    rank = 4 if position in starting else 6
                    _keep(best, Hit(entry, text, rank + (0 if is_label else 1)))
            else:
                for position in rest:
                    entry, key, is_label, text = keys[position]
                    rank = _rank(q, q_words, key)
                    if rank is not None:
                        _keep(best, Hit(entry, text, rank * 2 + (0 if is_label else 1)))
        return heapq.nsmallest(limit, best.values(), key=_order)

    def _word_starts(self, word: str) -> set[int]:
        """The positions in `_keys` of the keys where `word` begins one of their words (see
        `_rank`); none when `word` holds a character that separates words."""
        if _WORD_BREAK.search(word):
            return set()
        starts = self._starts
        return {
            bisect.bisect_right(starts, match.start()) - 1
            for match in re.finditer(rf"(?<![^\n{_BREAKS}]){re.escape(word)}", self._text)
        }

    def _holding(self, word: str) -> Iterator[int]:
        """The positions in `_keys` of the keys that contain `word` (which has no line break), in
        order."""
        text, starts = self._text, self._starts
        last = len(starts) - 1
        found = text.find(word)
        while found != -1:
            position = bisect.bisect_right(starts, found) - 1
            yield position
            if position == last:
                return
            found = text.find(word, starts[position + 1])

    def suggest(self, text: str, limit: int = 5) -> list[Entry]:
        """Near matches for an unknown IRI or misspelt name: search hits, then fuzzy label matches."""
        tail = text.rstrip("/").rsplit("/", 1)[-1]
        words = re.sub(r"[-_+.%]", " ", tail).strip()
        found = [h.entry for h in self.search(words, limit=limit)] if words else []
        if len(found) < limit and words:
            wanted = normalize(words)
            labels: dict[str, Entry] = {}  # the keys most alike by trigrams, first entry of each
            for position in self._alike(wanted):
                labels.setdefault(self._keys[position][1], self._keys[position][0])
            for match in difflib.get_close_matches(wanted, list(labels), n=limit, cutoff=0.6):
                if labels[match] not in found:
                    found.append(labels[match])
        return found[:limit]

    def _alike(self, text: str, most: int = FUZZY_CANDIDATES) -> list[int]:
        """The positions in `_keys` of the `most` keys that share the most trigrams with `text`
        (ties: the earlier key), in `_keys` order: what the fuzzy match then compares character by
        character, instead of every key (~0.45 s for 85,000 keys here)."""
        if self._grams is None:
            grams: dict[str, list[int]] = {}
            for position, (_, key, _, _) in enumerate(self._keys):
                for gram in _trigrams(key):
                    grams.setdefault(gram, []).append(position)
            self._grams = {gram: array("i", positions) for gram, positions in grams.items()}
        shared: Counter[int] = Counter()
        for gram in _trigrams(text):
            shared.update(self._grams.get(gram, ()))
        best = heapq.nsmallest(most, shared.items(), key=lambda item: (-item[1], item[0]))
        return sorted(position for position, _ in best)

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


def _keep(best: dict[str, Hit], hit: Hit) -> None:
    """Keep `hit` as its entity's if it ranks better than the one kept so far (or is the first)."""
    current = best.get(hit.entry.iri)
    if current is None or hit.rank < current.rank:
        best[hit.entry.iri] = hit


def _order(hit: Hit) -> tuple:
    """The sort key of search hits (a total order: no two entities tie)."""
    label = hit.entry.label or ""
    return (
        hit.rank,
        hit.entry.iri.startswith(TERMS),
        -hit.entry.degree,
        len(label),
        label.casefold(),
        hit.entry.iri,
    )


def _trigrams(text: str) -> set[str]:
    """The three-character pieces of `text` with a space either side (so a word's start and end
    count), each once.

    >>> sorted(_trigrams("ml"))
    [' ml', 'ml ']
    """
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


#: What separates the words of a key (in a regular expression's character class).
_BREAKS = r"\s\-/(),"
_WORD_BREAK = re.compile(f"[{_BREAKS}]+")


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
    key_words = _WORD_BREAK.split(key)
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
    (`mlkg.filecache`). Not on a store known to be corrupt, where its query may never end: the
    writer is stopped as soon as that is found (`mlkg.integrity.run_guarded`).

    :raises StoreCorruptError: when the store is known to be corrupt, or found so meanwhile.
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
                    integrity.run_guarded(
                        var_dir, store_dir, "mlkg.search:write_index_file", job, timeout=timeout
                    )
        except OSError as exc:
            raise StoreError(f"cannot write the entity index under {folder}: {exc}") from exc
    return path
