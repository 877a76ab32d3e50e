"""Spans of source documents: naming them, expanding them to Web Annotation, checking and measuring them.

A span is named by an IRI ``BASE/source/<file stem>/c<start>-<end>`` (character offsets into the file read
as UTF-8, end exclusive). Data files say ``mlkg:evidence <span>``; :func:`expand_spans` adds the
``oa:SpecificResource`` / ``oa:TextPositionSelector`` description that the span IRI stands for.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rdflib import RDF, RDFS, Graph, Literal, Node, URIRef
from rdflib.namespace import SKOS, XSD

from mlkg.errors import SourceError
from mlkg.namespaces import BASE, MLKG, OA, SCHEMA

SPAN_RE = re.compile(r"^(?P<doc>.*/source/(?P<stem>[^/#]+))/c(?P<start>\d+)-(?P<end>\d+)$")
LABELS = (RDFS.label, SKOS.altLabel)
_STOP = {"and", "the", "for", "with", "from", "into", "that", "this", "their", "such", "including",
         "using", "other", "various", "when", "needed", "based", "about", "your", "them", "they"}


@dataclass(frozen=True)
class Span:
    """A character span of one source document."""

    doc: URIRef
    stem: str
    start: int
    end: int

    @property
    def iri(self) -> URIRef:
        return URIRef(f"{self.doc}/c{self.start}-{self.end}")


@dataclass(frozen=True)
class SpanProblem:
    """A span that does not hold: outside its document, or not stating what it is evidence for."""

    node: Node
    span: URIRef
    message: str


def parse_span(iri: Node) -> Span | None:
    """Read a span IRI, or return None if `iri` is not one.

    >>> parse_span(URIRef("https://w3id.org/mlkg/source/000_ab/c10-22")).end
    22
    """
    match = SPAN_RE.match(str(iri))
    if not match:
        return None
    return Span(URIRef(match["doc"]), match["stem"], int(match["start"]), int(match["end"]))


def source_path(sources_dir: Path, file_name: str) -> Path:
    """The path of a source document, or SourceError if it is not there (or `file_name` is a path:
    a document is named by its file name in the sources folder, never read from elsewhere)."""
    if not file_name or Path(file_name).name != file_name or file_name in (".", ".."):
        raise SourceError(
            f"{file_name!r} is not a source document's file name: name a file in "
            f"{str(sources_dir)!r} (MLKG_SOURCES) without a folder",
            file=file_name,
        )
    path = sources_dir / file_name
    if not path.is_file():
        raise SourceError(
            f"source document {file_name!r} not found in {str(sources_dir)!r}; "
            "set MLKG_SOURCES to the folder that holds the source documents",
            file=file_name,
        )
    return path


def read_source(sources_dir: Path, file_name: str) -> str:
    """The text of a source document, read as UTF-8."""
    return source_path(sources_dir, file_name).read_text(encoding="utf-8")


def describe_source(sources_dir: Path, file_name: str) -> tuple[int, str]:
    """(character count, SHA-256 of the bytes) of a source document."""
    data = source_path(sources_dir, file_name).read_bytes()
    return len(data.decode("utf-8")), hashlib.sha256(data).hexdigest()


def locate(text: str, needle: str, nth: int = 1, after: int = 0) -> tuple[int, int]:
    """Offsets of the `nth` occurrence of `needle` in `text` at or after `after`; ValueError if absent.

    >>> locate("a Python, Python", "Python", nth=2)
    (10, 16)
    """
    if not needle:
        raise ValueError("the text to find is empty: a span must hold at least one character")
    if nth < 1 or after < 0:
        raise ValueError(f"occurrences count from 1 and offsets from 0 (got nth={nth}, after={after})")
    pos = after - 1
    for found in range(nth):
        pos = text.find(needle, pos + 1)
        if pos < 0:
            where = f" after offset {after}" if after else ""
            if found == 0:
                raise ValueError(f"{needle!r} does not occur{where}")
            raise ValueError(f"{needle!r} occurs only {found} time{'s' * (found > 1)}{where}, not {nth}")
    return pos, pos + len(needle)


def expand_spans(graph: Graph) -> int:
    """Describe every span IRI used as evidence as an oa:SpecificResource; return how many."""
    spans = {o for o in graph.objects(None, MLKG.evidence) if isinstance(o, URIRef)}
    for iri in spans:
        span = parse_span(iri)
        if span is None:
            continue
        selector = URIRef(f"{iri}#selector")
        graph.add((iri, RDF.type, OA.SpecificResource))
        graph.add((iri, OA.hasSource, span.doc))
        graph.add((iri, OA.hasSelector, selector))
        graph.add((selector, RDF.type, OA.TextPositionSelector))
        graph.add((selector, OA.start, Literal(span.start, datatype=XSD.integer)))
        graph.add((selector, OA.end, Literal(span.end, datatype=XSD.integer)))
    return len(spans)


def normalize(text: str) -> str:
    """Fold case, accents, typographic quotes and white space for matching.

    >>> normalize("Master’s  in   Café"), normalize(" Deep\tLearning ")
    ("master's in cafe", 'deep learning')
    """
    if text.isascii():  # nothing to decompose or fold but case and spaces (most labels; ~6x faster)
        return " ".join(text.split()).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().casefold()


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9+#]+", normalize(text)) if len(t) >= 3 and t not in _STOP]


def _label_supported(span_text: str, label: str) -> bool:
    """True if the span contains the label, or most of its significant words (prefix-stemmed)."""
    norm_span, norm_label = normalize(span_text), normalize(label)
    if norm_label and norm_label in norm_span:
        return True
    words = _tokens(label)
    if not words:
        return False
    stems = {t[:5] for t in _tokens(span_text)}
    hits = sum(1 for w in words if w[:5] in stems)
    return hits / len(words) >= 0.6


def _number_forms(value: Literal) -> list[str]:
    """Ways a number may be written in a text: 108020 as '108,020' or '108020', 45.0 as '45'."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return []
    forms = {str(number)}
    if number == number.to_integral_value():
        whole = int(number)
        forms |= {str(whole), f"{whole:,}"}
    else:
        forms.add(f"{number:,}")
    return sorted(forms)


_NUMERIC = {XSD.decimal, XSD.integer, XSD.nonNegativeInteger, XSD.double, XSD.float, XSD.int, XSD.gYear}


def _value_supported(span_text: str, value: Literal) -> bool:
    if value.datatype in _NUMERIC:
        digits_span = normalize(span_text)
        return any(re.search(rf"(?<![\d,.]){re.escape(f)}(?![\d])", digits_span) for f in _number_forms(value))
    if value.datatype in (XSD.boolean, XSD.duration, XSD.date, XSD.gYearMonth):
        return True  # stated in words ("no prerequisites", "two-hour"); the span is read by a curator
    return _label_supported(span_text, str(value))


def _labels(graph: Graph, node: Node) -> list[str]:
    return [str(o) for p in LABELS for o in graph.objects(node, p)]


def _candidates_supported(graph: Graph, span_text: str, node: Node) -> bool:
    """Does the span state `node`: its label, its value, or (for a Fact) any value or named neighbour?"""
    if isinstance(node, Literal):
        return _value_supported(span_text, node)
    if any(_label_supported(span_text, label) for label in _labels(graph, node)):
        return True
    is_fact = (node, RDF.type, None) in graph and any(
        (t, RDFS.subClassOf, MLKG.Fact) in graph or t == MLKG.Fact for t in graph.objects(node, RDF.type)
    )
    if is_fact or (node, RDF.type, RDF.Statement) in graph:
        for p, o in graph.predicate_objects(node):
            if p in (MLKG.evidence, RDF.type, RDF.subject, RDF.predicate):
                continue
            if isinstance(o, Literal) and o.datatype in _NUMERIC and _value_supported(span_text, o):
                return True
            if isinstance(o, Literal) and p in (SCHEMA.name, MLKG.measure) and _label_supported(span_text, str(o)):
                return True
            if isinstance(o, URIRef) and any(_label_supported(span_text, lab) for lab in _labels(graph, o)):
                return True
            if isinstance(o, URIRef) and p == RDF.object and _candidates_supported(graph, span_text, o):
                return True
    return False


def iter_evidence(graph: Graph) -> Iterator[tuple[Node, URIRef]]:
    """Every (node, span IRI) pair in the graph."""
    for node, span in graph.subject_objects(MLKG.evidence):
        if isinstance(span, URIRef):
            yield node, span


def load_texts(graph: Graph, sources_dir: Path) -> dict[URIRef, str]:
    """The text of every mlkg:SourceDocument in the graph, keyed by its IRI."""
    texts = {}
    for doc in graph.subjects(RDF.type, MLKG.SourceDocument):
        name = graph.value(doc, MLKG.fileName)
        if name is not None:
            texts[URIRef(doc)] = read_source(sources_dir, str(name))
    return texts


def check_spans(graph: Graph, texts: dict[URIRef, str]) -> list[SpanProblem]:
    """Check every span: its document is known, its offsets lie inside, and it states what it supports."""
    problems: list[SpanProblem] = []
    for node, iri in sorted(iter_evidence(graph)):
        span = parse_span(iri)
        if span is None:
            problems.append(SpanProblem(node, iri, f"evidence <{iri}> is not a span IRI (…/source/<doc>/c<start>-<end>)"))
            continue
        text = texts.get(span.doc)
        if text is None:
            problems.append(SpanProblem(node, iri, f"span names an unknown source document <{span.doc}>"))
            continue
        if span.start >= span.end:
            problems.append(SpanProblem(node, iri, f"offsets {span.start}-{span.end} are empty or reversed: the end "
                                        "offset is exclusive and must exceed the start"))
            continue
        if not (0 <= span.start < span.end <= len(text)):
            problems.append(SpanProblem(node, iri, f"offsets {span.start}-{span.end} lie outside the document ({len(text)} characters)"))
            continue
        target = node
        if (node, RDF.type, RDF.Statement) in graph:
            target = graph.value(node, RDF.object)
        if not _candidates_supported(graph, text[span.start:span.end], target) and not (
            target is not node and _candidates_supported(graph, text[span.start:span.end], node)
        ):
            what = _labels(graph, target) or [str(target)]
            problems.append(SpanProblem(node, iri, f"span text does not state {what[0]!r}"))
    return problems


@dataclass(frozen=True)
class Coverage:
    """How much of one document's content lines the spans touch."""

    doc: URIRef
    lines: int
    covered_lines: int
    uncovered: list[tuple[int, str]]

    @property
    def ratio(self) -> float:
        return self.covered_lines / self.lines if self.lines else 1.0


def measure_coverage(graph: Graph, texts: dict[URIRef, str], ignore: Iterable[str] = ()) -> list[Coverage]:
    """Per document, the share of non-blank lines that at least one span overlaps."""
    ignored = {normalize(x) for x in ignore}
    result = []
    for doc, text in sorted(texts.items()):
        spans = [s for _, iri in iter_evidence(graph) if (s := parse_span(iri)) and s.doc == doc]
        lines, covered, uncovered, offset = 0, 0, [], 0
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            start, end = offset, offset + len(line)
            offset = end
            if not line.strip() or normalize(line) in ignored:
                continue
            lines += 1
            if any(s.start < end and s.end > start for s in spans):
                covered += 1
            else:
                uncovered.append((number, line.strip()))
        result.append(Coverage(doc, lines, covered, uncovered))
    return result


def is_entity(iri: Node, base: str = BASE) -> bool:
    """True for IRIs of the graph's own entities (not ontology terms, not spans)."""
    s = str(iri)
    return isinstance(iri, URIRef) and s.startswith(base) and not s.startswith(str(MLKG)) and parse_span(iri) is None
