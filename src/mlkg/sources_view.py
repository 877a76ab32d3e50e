"""Source documents for browsing: their texts (when MLKG_SOURCES holds them, checked by SHA-256), quotes
of evidence spans, and a document cut into segments with every evidence span highlighted, plus coverage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.term import Node

from mlkg._rows import Backend, select
from mlkg.namespaces import MLKG
from mlkg.provenance import Span, measure_coverage, parse_span

DOCUMENTS_QUERY = """
PREFIX mlkg: <https://w3id.org/mlkg/def/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?doc ?file ?sha ?title ?chars WHERE {
  ?doc a mlkg:SourceDocument ; mlkg:fileName ?file .
  OPTIONAL { ?doc mlkg:sha256 ?sha }
  OPTIONAL { ?doc dcterms:title ?title }
  OPTIONAL { ?doc mlkg:characterCount ?chars }
}
"""

EVIDENCE_QUERY = """
PREFIX mlkg: <https://w3id.org/mlkg/def/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?node ?span ?s ?p ?o ?doc WHERE {
  ?node mlkg:evidence ?span .
  FILTER(STRSTARTS(STR(?span), CONCAT(STR(?doc), "/c")))
  OPTIONAL { ?node a rdf:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o }
}
"""

CONTEXT = 80


@dataclass
class SourceDocument:
    """One source document: its IRI, file, title and, when available, its verified text."""

    iri: str
    stem: str
    file_name: str
    title: str | None
    characters: int | None
    text: str | None = None
    problem: str | None = None  # why the text is unavailable

    def quote(self, span: Span) -> str | None:
        """The text of a span of this document, or None when the text is unavailable."""
        if self.text is None or not (0 <= span.start <= span.end <= len(self.text)):
            return None
        return self.text[span.start : span.end]

    def context(self, span: Span, width: int = CONTEXT) -> tuple[str, str] | None:
        """Up to `width` characters before and after a span, cut at word boundaries."""
        if self.text is None:
            return None
        before = self.text[max(0, span.start - width) : span.start]
        after = self.text[span.end : span.end + width]
        if span.start - width > 0 and " " in before:
            before = "…" + before.split(" ", 1)[1]
        if span.end + width < len(self.text) and " " in after:
            after = after.rsplit(" ", 1)[0] + "…"
        return before, after


@dataclass
class Sources:
    """The source documents of the graph, keyed by IRI, and the folder their texts came from."""

    documents: dict[str, SourceDocument]
    folder: Path

    @property
    def available(self) -> bool:
        """True when every document's text was found and verified."""
        return bool(self.documents) and all(d.text is not None for d in self.documents.values())

    def document(self, iri: Node | str) -> SourceDocument | None:
        """The document with this IRI, or None."""
        return self.documents.get(str(iri))

    def by_stem(self, stem: str) -> SourceDocument | None:
        """The document whose file stem is `stem`, or None."""
        return next((d for d in self.documents.values() if d.stem == stem), None)

    def quote(self, span: Span) -> str | None:
        """The quoted text of a span, or None when its document's text is unavailable."""
        doc = self.documents.get(str(span.doc))
        return doc.quote(span) if doc else None


def read_verified(
    folder: Path, file_name: str, sha256: str | None
) -> tuple[str | None, str | None]:
    """(text, None) for a readable file whose digest matches, else (None, the reason)."""
    path = folder / file_name
    try:
        data = path.read_bytes()
    except OSError:
        return (
            None,
            f"{file_name} is not in {folder} (set MLKG_SOURCES to the folder that holds it)",
        )
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return None, f"{file_name} in {folder} differs from the document the graph was built from"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, f"{file_name} is not UTF-8 text"


def load_sources(backend: Backend, folder: Path, timeout: float | None = None) -> Sources:
    """The graph's source documents, with their texts read from `folder` when present and unchanged."""
    documents: dict[str, SourceDocument] = {}
    for row in select(backend, DOCUMENTS_QUERY, timeout=timeout):
        iri, name = str(row["doc"]), str(row["file"])
        if iri in documents:
            continue
        text, problem = read_verified(folder, name, str(row["sha"]) if "sha" in row else None)
        documents[iri] = SourceDocument(
            iri=iri,
            stem=Path(name).stem,
            file_name=name,
            title=str(row["title"]) if "title" in row else None,
            characters=int(row["chars"]) if "chars" in row else None,
            text=text,
            problem=problem,
        )
    return Sources(documents, folder)


@dataclass
class Support:
    """What one span supports: an entity or fact (node), or a statement (subject, predicate, object)."""

    node: Node
    subject: Node | None = None
    predicate: Node | None = None
    object: Node | None = None


@dataclass
class Segment:
    """A run of a document's text and the spans covering it (innermost first)."""

    text: str
    start: int
    spans: list[Span] = field(default_factory=list)
    anchors: list[Span] = field(default_factory=list)  # spans starting here


@dataclass
class DocumentView:
    """A document with its evidence: segments to render, what each span supports, and coverage."""

    document: SourceDocument
    supports: dict[Span, list[Support]]
    segments: list[Segment]
    line_coverage: float | None
    char_coverage: float | None
    lines: int
    covered_lines: int


def document_evidence(
    backend: Backend, doc: SourceDocument, timeout: float | None = None
) -> dict[Span, list[Support]]:
    """Every span of the document with what it supports, in one query."""
    rows = select(backend, EVIDENCE_QUERY, {"doc": URIRef(doc.iri)}, timeout=timeout)
    supports: dict[Span, list[Support]] = {}
    for row in rows:
        span = parse_span(row["span"])
        if span is None or str(span.doc) != doc.iri:
            continue
        supports.setdefault(span, []).append(
            Support(row["node"], row.get("s"), row.get("p"), row.get("o"))
        )
    return dict(sorted(supports.items(), key=lambda kv: (kv[0].start, kv[0].end)))


def segment(text: str, spans: Iterable[Span]) -> list[Segment]:
    """Cut `text` at every span boundary; each segment lists the spans that cover it.

    >>> d = URIRef("https://w3id.org/mlkg/source/x")
    >>> [(s.text, len(s.spans)) for s in segment("abcdef", [Span(d, "x", 1, 3), Span(d, "x", 2, 5)])]
    [('a', 0), ('b', 1), ('c', 2), ('de', 1), ('f', 0)]
    """
    spans = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    starting: dict[int, list[Span]] = {}
    ending: dict[int, list[Span]] = {}
    for s in spans:
        starting.setdefault(s.start, []).append(s)
        ending.setdefault(s.end, []).append(s)
    active: set[Span] = set()
    segments = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        active.difference_update(ending.get(start, ()))
        active.update(starting.get(start, ()))
        covering = sorted(active, key=lambda s: (s.end - s.start, s.start))
        segments.append(Segment(text[start:end], start, covering, starting.get(start, [])))
    return segments


def char_coverage(text: str, spans: Iterable[Span]) -> float:
    """The share of the text's non-space characters inside at least one span.

    >>> d = URIRef("https://w3id.org/mlkg/source/x")
    >>> char_coverage("ab cd", [Span(d, "x", 0, 2)])
    0.5
    """
    covered = bytearray(len(text))
    for s in spans:
        covered[max(0, s.start) : min(len(text), s.end)] = b"\x01" * (
            min(len(text), s.end) - max(0, s.start)
        )
    content = [i for i, ch in enumerate(text) if not ch.isspace()]
    return sum(covered[i] for i in content) / len(content) if content else 1.0


def document_view(
    backend: Backend, doc: SourceDocument, timeout: float | None = None
) -> DocumentView:
    """The document's evidence spans, segments to highlight and coverage (segments need the text)."""
    supports = document_evidence(backend, doc, timeout=timeout)
    if doc.text is None:
        return DocumentView(doc, supports, [], None, None, 0, 0)
    graph = Graph()
    for span in supports:
        graph.add((span.doc, MLKG.evidence, span.iri))
    coverage = measure_coverage(graph, {URIRef(doc.iri): doc.text})[0]
    return DocumentView(
        doc,
        supports,
        segment(doc.text, supports),
        coverage.ratio,
        char_coverage(doc.text, supports),
        coverage.lines,
        coverage.covered_lines,
    )
