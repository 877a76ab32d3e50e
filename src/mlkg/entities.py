"""Entity pages without HTML: where an IRI is served, what the graph says about it (one CONSTRUCT),
and the page model — properties grouped and labelled, values formatted with their units, currency and
period, incoming links, and the evidence behind each statement.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, unquote_to_bytes

import pyoxigraph as ox
from rdflib import RDF, RDFS, Literal, URIRef
from rdflib.namespace import SKOS, XSD
from rdflib.term import Node

from mlkg._rows import NO_CAP, Backend, Triple, construct
from mlkg.backends import GRAPH_FORMATS
from mlkg.formats import OutputFormat, formats_of
from mlkg.labels import curie
from mlkg.namespaces import BASE, MLKG, OA, PREFIXES, SCHEMA
from mlkg.provenance import Span, parse_span
from mlkg.snapshot import Snapshot

#: The first path segments of the IRI scheme (data/README.md), plus ontology terms and skolem IRIs.
ENTITY_PREFIXES: tuple[str, ...] = (
    "role",
    "title",
    "skill",
    "skill-group",
    "tool",
    "tech-category",
    "responsibility",
    "degree-level",
    "field",
    "degree",
    "certification",
    "course",
    "exam",
    "offer",
    "org",
    "university",
    "person",
    "book",
    "podcast",
    "channel",
    "website",
    "journal",
    "industry",
    "application",
    "place",
    "salary",
    "growth",
    "career-path",
    "language",
    "experience-level",
    "work-arrangement",
    "dataset",
    "school-list",
    "tuition",
    "source",
    "def",
    ".well-known/genid",
)
GENID = BASE + ".well-known/genid/"
_UNRESERVED = set(string.ascii_letters + string.digits + "-._~")
_KEEP_IN_PATH = "/:@!$&'()*+,;=-._~%"

DESCRIBE_QUERY = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX mlkg: <https://w3id.org/mlkg/def/>
CONSTRUCT {
  ?s ?p ?o . ?o rdfs:label ?ol .
  ?o ?np ?no .
  ?x ?q ?s . ?x rdfs:label ?xl .
  ?st ?sp ?so .
} WHERE {
  { ?s ?p ?o . OPTIONAL { ?o rdfs:label ?ol } }
  UNION {
    ?s ?p0 ?o . FILTER(isIRI(?o))
    FILTER(STRSTARTS(STR(?o), "https://w3id.org/mlkg/.well-known/genid/")
           || STRSTARTS(STR(?o), CONCAT(STR(?s), "#")))
    ?o ?np ?no .
  }
  UNION { ?s ?p1 ?o . FILTER EXISTS { ?o a ?ft . VALUES ?ft { %(facts)s } } ?o ?np ?no . }
  UNION { ?x ?q ?s . OPTIONAL { ?x rdfs:label ?xl } }
  UNION { ?st rdf:subject ?s . ?st ?sp ?so . }
  UNION { ?st rdf:object ?s ; rdf:subject ?z1 . ?st ?sp ?so . }
  UNION { ?st mlkg:evidence ?s ; rdf:subject ?z2 . ?st ?sp ?so . }
}
"""

#: Predicates shown in a page's header rather than in its property table.
HEADER_PREDICATES = {
    RDF.type,
    RDFS.label,
    SKOS.altLabel,
    SCHEMA.description,
    SKOS.definition,
    RDFS.comment,
    MLKG.evidence,
}
DESCRIPTION_PREDICATES = (SKOS.definition, SCHEMA.description, RDFS.comment)
MONEY_PREDICATES = {SCHEMA.value, SCHEMA.minValue, SCHEMA.maxValue, SCHEMA.price}
CURRENCY_PREDICATES = (SCHEMA.currency, SCHEMA.priceCurrency)
PERIOD_PREDICATES = (MLKG.payPeriod, MLKG.billingPeriod)
PERCENT_PREDICATES = {MLKG.admissionRate, MLKG.graduationRate, MLKG.percentChange}
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥", "CNY": "CN¥"}
_NUMERIC = {
    XSD.decimal,
    XSD.integer,
    XSD.nonNegativeInteger,
    XSD.positiveInteger,
    XSD.int,
    XSD.long,
    XSD.double,
    XSD.float,
}


# ---------------------------------------------------------------- IRIs and paths


def path_to_iri(raw_path: str, base: str = BASE) -> str:
    """The IRI served at a request path (RFC 3987: %-escapes of unreserved or non-ASCII characters
    are decoded; reserved ones such as %2F stay escaped).

    >>> path_to_iri("/skill/caf%C3%A9")
    'https://w3id.org/mlkg/skill/café'
    >>> path_to_iri("/skill/a%2fb+c%20d")
    'https://w3id.org/mlkg/skill/a%2Fb+c%20d'
    """

    def decode(match: re.Match[str]) -> str:
        raw = unquote_to_bytes(match.group(0))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return match.group(0).upper()
        return "".join(c if (c in _UNRESERVED or ord(c) > 127) else f"%{ord(c):02X}" for c in text)

    path = raw_path.split("?", 1)[0].lstrip("/")
    return base + re.sub(r"(?:%[0-9A-Fa-f]{2})+", decode, path)


def iri_to_path(iri: Node | str, base: str = BASE) -> str | None:
    """The local path that serves an IRI under the base, or None for other IRIs.

    >>> iri_to_path("https://w3id.org/mlkg/skill/café")
    '/skill/caf%C3%A9'
    >>> iri_to_path("http://schema.org/Person") is None
    True
    """
    text = str(iri)
    if not text.startswith(base):
        return None
    local, _, fragment = text[len(base) :].partition("#")
    path = "/" + quote(local, safe=_KEEP_IN_PATH)
    return path + ("#" + quote(fragment, safe=_KEEP_IN_PATH) if fragment else "")


def split_suffix(path: str) -> tuple[str, OutputFormat | None]:
    """Split a format suffix (.ttl, .jsonld, .nt, .rdf) off a path.

    >>> split_suffix("/skill/python.ttl")[1].name
    'turtle'
    >>> split_suffix("/skill/python")
    ('/skill/python', None)
    """
    for fmt in formats_of("graph"):
        ending = "." + fmt.suffix
        if path.endswith(ending) and len(path) > len(ending):
            return path[: -len(ending)], fmt
    return path, None


def class_key(iri: str) -> str:
    """The key of a class in /classes/<key>: the local name for mlkg terms, else a CURIE.

    >>> class_key("https://w3id.org/mlkg/def/Skill"), class_key("http://schema.org/Person")
    ('Skill', 'schema:Person')
    """
    if iri.startswith(str(MLKG)):
        return iri[len(str(MLKG)) :]
    return curie(iri)


def class_from_key(key: str) -> str:
    """The class IRI for a /classes/<key> key.

    >>> class_from_key("schema:Person"), class_from_key("Skill")
    ('http://schema.org/Person', 'https://w3id.org/mlkg/def/Skill')
    """
    prefix, sep, local = key.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix] + local
    return str(MLKG) + key


# ---------------------------------------------------------------- queries


def describe_query(fact_classes: Iterable[str]) -> str:
    """The describe query; `fact_classes` (mlkg:Fact and its subclasses, from the ontology) are the
    types of linked nodes whose own properties are included.

    >>> "VALUES ?ft { <https://w3id.org/mlkg/def/Fact> }" in describe_query([str(MLKG.Fact)])
    True
    """
    iris = sorted({str(URIRef(c)) for c in fact_classes if _SAFE_IRI.fullmatch(str(c))})
    return DESCRIBE_QUERY % {"facts": " ".join(f"<{c}>" for c in iris) or "<urn:x-mlkg:none>"}


_SAFE_IRI = re.compile(r"[^<>\"{}|^`\\\s]+")


def describe(
    backend: Backend,
    iri: str,
    fact_classes: Iterable[str] = (str(MLKG.Fact),),
    timeout: float | None = None,
) -> list[Triple]:
    """What the graph says about `iri`: outgoing and incoming triples, labels of neighbours, nested
    facts and skolem nodes, and the reified statements (with evidence) about it — one query."""
    return construct(backend, describe_query(fact_classes), {"s": URIRef(iri)}, timeout=timeout)


def describe_rdf(
    backend: Backend,
    iri: str,
    fmt: OutputFormat,
    fact_classes: Iterable[str] = (str(MLKG.Fact),),
    timeout: float | None = None,
) -> bytes:
    """The description of `iri` serialized in a graph format, with mlkg's prefixes."""
    result = backend.run(
        describe_query(fact_classes),
        result_format="ntriples",
        substitutions={"s": URIRef(iri)},
        timeout=timeout,
        limit=NO_CAP,
    )
    triples = list(dict.fromkeys(ox.parse(result.body, format=ox.RdfFormat.N_TRIPLES)))
    return ox.serialize(triples, format=GRAPH_FORMATS[fmt.name], prefixes=dict(PREFIXES))


# ---------------------------------------------------------------- formatting


def format_number(value: object) -> str:
    """A number with thousands separators and no trailing zeros.

    >>> format_number(Decimal("112832.0")), format_number(Decimal("3.50")), format_number(40792)
    ('112,832', '3.5', '40,792')
    """
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.normalize():,f}"


def format_money(value: object, currency: str | None) -> str:
    """An amount with its currency symbol or code.

    >>> format_money(Decimal("9695.0"), "USD"), format_money(12, "CHF")
    ('$9,695', '12 CHF')
    """
    number = format_number(value)
    if currency in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[currency] + number
    return f"{number} {currency}" if currency else number


_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def format_duration(value: str) -> str:
    """An xsd:duration in words.

    >>> format_duration("P2Y"), format_duration("PT2H"), format_duration("P1Y6M"), format_duration("P7D")
    ('2 years', '2 hours', '1 year 6 months', '7 days')
    """
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        return value
    names = ("year", "month", "week", "day", "hour", "minute", "second")
    parts = []
    for amount, name in zip(match.groups(), names, strict=True):
        if amount is not None:
            parts.append(f"{amount} {name}" + ("" if amount == "1" else "s"))
    return " ".join(parts)


def format_literal(value: Literal) -> str:
    """A literal for reading: numbers with separators, durations in words, booleans as yes/no.

    >>> format_literal(Literal(True)), format_literal(Literal("P11W", datatype=XSD.duration, normalize=False))
    ('yes', '11 weeks')
    """
    if value.datatype in _NUMERIC:
        return format_number(value)
    if value.datatype == XSD.boolean:
        return "yes" if value.toPython() is True else "no"
    if value.datatype == XSD.duration:
        return format_duration(str(value))
    return str(value)


Props = dict[URIRef, list[Node]]


def _first(props: Props, *predicates: URIRef) -> Node | None:
    for p in predicates:
        if props.get(p):
            return props[p][0]
    return None


def period_phrase(label: str) -> str:
    """How a pay or billing period follows an amount.

    >>> period_phrase("per year"), period_phrase("one-off")
    ('per year', '(one-off)')
    """
    return label if label.startswith("per ") else f"({label})"


def format_value(value: Literal, predicate: URIRef, props: Props, catalog: Snapshot) -> str:
    """A literal formatted for its predicate: money with currency and period, rates as percentages."""
    if predicate in MONEY_PREDICATES and value.datatype in _NUMERIC:
        currency = _first(props, *CURRENCY_PREDICATES)
        text = format_money(value, str(currency) if currency is not None else None)
        if predicate == SCHEMA.maxValue and _is_true(_first(props, MLKG.maxOpenEnded)):
            text += "+"
        period = _first(props, *PERIOD_PREDICATES)
        return f"{text} {period_phrase(catalog.label(period))}" if period is not None else text
    if predicate in PERCENT_PREDICATES or "(%)" in catalog.label(predicate):
        return f"{format_number(value)}%"
    return format_literal(value)


def _is_true(value: Node | None) -> bool:
    return isinstance(value, Literal) and value.toPython() is True


def summarize_figure(props: Props, catalog: Snapshot) -> str | None:
    """A one-line reading of a figure node: amount or range, currency, period and statistic.

    Returns None for nodes without a value, range, price or percentage.
    """
    value = _first(props, SCHEMA.value, SCHEMA.price)
    low, high = _first(props, SCHEMA.minValue), _first(props, SCHEMA.maxValue)
    change = _first(props, MLKG.percentChange)
    currency = _first(props, *CURRENCY_PREDICATES)
    cur = str(currency) if currency is not None else None
    if isinstance(value, Literal):
        text = format_money(value, cur)
    elif isinstance(low, Literal) or isinstance(high, Literal):
        low_text = format_money(low, cur) if isinstance(low, Literal) else "…"
        high_text = format_money(high, cur) if isinstance(high, Literal) else "…"
        if _is_true(_first(props, MLKG.maxOpenEnded)):
            high_text += "+"
        text = f"{low_text} – {high_text}"
    elif isinstance(change, Literal):
        start, end = _first(props, MLKG.startYear), _first(props, MLKG.endYear)
        years = f" from {start} to {end}" if start is not None and end is not None else ""
        projected = " (projected)" if _is_true(_first(props, MLKG.projected)) else ""
        return f"{format_number(change)}% change{years}{projected}"
    else:
        return None
    period = _first(props, *PERIOD_PREDICATES)
    if period is not None:
        text += " " + period_phrase(catalog.label(period))
    statistic = _first(props, MLKG.statistic)
    if statistic is not None:
        text += f" ({catalog.label(statistic)})"
    return text


# ---------------------------------------------------------------- the page model


@dataclass
class ValueView:
    """One value of a property: a literal or a link, with a note and evidence numbers."""

    text: str
    href: str | None = None
    external: bool = False
    lang: str | None = None
    note: str | None = None
    kind: str | None = None
    evidence: list[int] = field(default_factory=list)
    sort_key: tuple = ()


@dataclass
class Group:
    """The values of one predicate, labelled by the ontology."""

    predicate: str
    label: str
    comment: str | None
    href: str | None
    values: list[ValueView]


@dataclass
class EvidenceView:
    """One evidence span: its document, offsets, quote (when the text is available) and what it supports."""

    number: int
    iri: str
    path: str | None
    span: Span
    doc_label: str
    doc_path: str | None
    quote: str | None
    before: str = ""
    after: str = ""
    supports: list[str] = field(default_factory=list)


@dataclass
class Alternate:
    """An RDF rendering of the page."""

    name: str
    label: str
    media_type: str
    href: str


@dataclass
class EntityPage:
    """Everything an entity page shows."""

    iri: str
    path: str
    label: str
    curie: str
    types: list[ValueView]
    descriptions: list[str]
    alt_labels: list[str]
    figure: str | None
    groups: list[Group]
    incoming: list[Group]
    evidence: list[EvidenceView]
    own_evidence: list[int]
    is_fact: bool
    class_key: str | None = None
    member_count: int = 0
    statement: tuple[ValueView, str, ValueView] | None = None
    span: Span | None = None
    alternates: list[Alternate] = field(default_factory=list)
    triples: int = 0


FORMAT_LABELS = {
    "turtle": "Turtle",
    "jsonld": "JSON-LD",
    "ntriples": "N-Triples",
    "rdfxml": "RDF/XML",
}


def alternates(path: str) -> list[Alternate]:
    """The RDF renderings of a page at `path`, one per graph format."""
    return [
        Alternate(f.name, FORMAT_LABELS.get(f.name, f.name), f.media_type, f"{path}.{f.suffix}")
        for f in formats_of("graph")
    ]


class _Builder:
    """Turns the triples of :func:`describe` into an :class:`EntityPage`."""

    def __init__(self, iri: str, triples: Iterable[Triple], catalog: Snapshot, base: str) -> None:
        self.iri, self.node, self.catalog, self.base = iri, URIRef(iri), catalog, base
        self.triples = list(triples)
        self.out: dict[Node, Props] = {}
        for s, p, o in self.triples:
            self.out.setdefault(s, {}).setdefault(p, []).append(o)  # type: ignore[arg-type]
        self.statements: dict[tuple[Node, Node, Node], list[Node]] = {}
        for _st, props in self.out.items():
            if RDF.Statement in props.get(RDF.type, []):
                key = (
                    _one(props, RDF.subject),
                    _one(props, RDF.predicate),
                    _one(props, RDF.object),
                )
                self.statements.setdefault(key, []).extend(props.get(MLKG.evidence, []))
        self.evidence: dict[str, EvidenceView] = {}
        self._is_class = catalog.vocabulary.is_class(iri) or iri in catalog.index.class_counts()

    # -- values

    def link(self, node: Node, *, note: str | None = None) -> ValueView:
        """A value for an IRI: an internal link when it is served here, else an external one."""
        iri = str(node)
        path = iri_to_path(iri, self.base)
        entry = self.catalog.index.get(iri)
        kind = self.catalog.vocabulary.label(entry.types[0]) if entry and entry.types else None
        if path is not None:
            text = (
                self.statement_text(node) if self._is_statement(node) else self.catalog.label(iri)
            )
            return ValueView(text, path, note=note, kind=kind, sort_key=(text.casefold(),))
        if self.catalog.vocabulary.is_class(iri) or iri in self.catalog.vocabulary.terms:
            text = self.catalog.label(iri)
        else:
            text = curie(iri) if curie(iri) != iri else iri
        return ValueView(text, iri, external=True, note=note, sort_key=(text.casefold(),))

    def _is_statement(self, node: Node) -> bool:
        props = self.out.get(node)
        if props is not None and RDF.Statement in props.get(RDF.type, []):
            return True
        entry = self.catalog.index.get(node)
        return bool(entry and str(RDF.Statement) in entry.types)

    def statement_text(self, node: Node) -> str:
        """A reified statement read as "subject — predicate → object"."""
        props = self.out.get(node, {})
        s, p, o = _one(props, RDF.subject), _one(props, RDF.predicate), _one(props, RDF.object)
        if s is None or p is None or o is None:
            return self.catalog.label(node)
        obj = format_literal(o) if isinstance(o, Literal) else self.catalog.label(o)
        return f"{self.catalog.label(s)} — {self.catalog.vocabulary.label(p)} → {obj}"

    def value(self, node: Node, predicate: URIRef, props: Props) -> ValueView:
        """A value of `predicate` in a node whose properties are `props`."""
        if isinstance(node, Literal):
            text = format_value(node, predicate, props, self.catalog)
            lang = node.language if node.language and node.language != "en" else None
            number = node.toPython() if node.datatype in _NUMERIC else None
            sort = (
                (0, number, "")
                if isinstance(number, (int, float, Decimal))
                else (1, 0, text.casefold())
            )
            return ValueView(text, lang=lang, sort_key=sort)
        nested = self.out.get(node) if node != self.node else None
        note = summarize_figure(nested, self.catalog) if nested else None
        view = self.link(node, note=note)
        if nested:
            position = _one(nested, SCHEMA.position)
            if isinstance(position, Literal):
                view.sort_key = (int(position), view.text.casefold())
            view.evidence = self.number_all(nested.get(MLKG.evidence, []), f"{view.text}")
        return view

    # -- evidence

    def number(self, span_iri: Node, supports: str) -> int | None:
        """The page's number for an evidence span (assigned on first use)."""
        key = str(span_iri)
        view = self.evidence.get(key)
        if view is None:
            span = parse_span(span_iri)
            if span is None:
                return None
            doc = self.catalog.sources.document(span.doc)
            context = doc.context(span) if doc else None
            view = EvidenceView(
                number=len(self.evidence) + 1,
                iri=key,
                path=iri_to_path(key, self.base),
                span=span,
                doc_label=(doc.title if doc and doc.title else self.catalog.label(span.doc)),
                doc_path=iri_to_path(span.doc, self.base),
                quote=doc.quote(span) if doc else None,
                before=context[0] if context else "",
                after=context[1] if context else "",
            )
            self.evidence[key] = view
        if supports not in view.supports:
            view.supports.append(supports)
        return view.number

    def number_all(self, spans: Iterable[Node], supports: str) -> list[int]:
        """Numbers for several spans, in the order of the spans' positions."""
        ordered = sorted(
            spans,
            key=lambda s: (
                (str(parse_span(s).doc), parse_span(s).start) if parse_span(s) else ("", 0)
            ),
        )
        return [n for s in ordered if (n := self.number(s, supports)) is not None]

    # -- the page

    def has_class_page(self, cls: str) -> bool:
        """Whether /classes/<key> of `cls` lists anything (mlkg.web.ui): a class of the ontology, or
        one with members outside the ontology's terms — as this entity is, unless it is a term."""
        if self.catalog.vocabulary.is_class(cls) or not is_term(self.iri):
            return True
        classes = {cls, *self.catalog.vocabulary.descendants(cls)}
        return any(not is_term(e.iri) for e in self.catalog.index.members(classes))

    def build(self, path: str) -> EntityPage:
        props = self.out.get(self.node, {})
        entry = self.catalog.index.get(self.iri)
        label = (
            self.catalog.label(self.iri)
            if not self._is_statement(self.node)
            else self.statement_text(self.node)
        )
        type_iris = [str(t) for t in props.get(RDF.type, [])] or (entry.types if entry else [])
        is_fact = any(self.catalog.vocabulary.is_fact_class(t) for t in type_iris)
        types = []
        for t in sorted(set(type_iris)):
            label_t = self.catalog.vocabulary.label(t)
            if self.has_class_page(t):
                types.append(ValueView(label_t, f"/classes/{quote(class_key(t), safe=':')}"))
            else:  # owl:Class and the like: their members are ontology terms, which no page lists
                term_path = iri_to_path(t, self.base)
                types.append(ValueView(label_t, term_path or t, external=term_path is None))
        descriptions = list(
            dict.fromkeys(
                str(o)
                for p in DESCRIPTION_PREDICATES
                for o in props.get(p, [])
                if isinstance(o, Literal)
            )
        )
        alt_labels = sorted({str(o) for o in props.get(SKOS.altLabel, [])})
        own = self.number_all(
            props.get(MLKG.evidence, []), f"mentions {label}" if not is_fact else f"states {label}"
        )
        groups = self.outgoing_groups(props)
        incoming = self.incoming_groups()
        page = EntityPage(
            iri=self.iri,
            path=path,
            label=label,
            curie=curie(self.iri),
            types=types,
            descriptions=descriptions,
            alt_labels=alt_labels,
            figure=summarize_figure(props, self.catalog),
            groups=groups,
            incoming=incoming,
            evidence=sorted(self.evidence.values(), key=lambda e: e.number),
            own_evidence=own,
            is_fact=is_fact,
            alternates=alternates(path.split("#")[0]),
            triples=len(self.triples),
        )
        if self._is_class:
            classes = {self.iri, *self.catalog.vocabulary.descendants(self.iri)}
            page.class_key = class_key(self.iri)
            page.member_count = len(self.catalog.index.members(classes))
        if self._is_statement(self.node):
            s, p, o = _one(props, RDF.subject), _one(props, RDF.predicate), _one(props, RDF.object)
            if s is not None and p is not None and o is not None:
                obj = (
                    self.value(o, p, self.out.get(s, {}))
                    if isinstance(o, Literal)
                    else self.link(o)
                )
                page.statement = (self.link(s), self.catalog.vocabulary.label(p), obj)
        page.span = parse_span(self.node)
        if page.span is not None:
            doc = self.catalog.sources.document(page.span.doc)
            quoted = doc.quote(page.span) if doc else None
            if quoted:
                short = " ".join(quoted.split())
                page.label = "“" + (short if len(short) <= 90 else short[:88] + "…") + "”"
        return page

    def outgoing_groups(self, props: Props) -> list[Group]:
        groups = []
        for predicate, objects in props.items():
            if predicate in HEADER_PREDICATES:
                continue
            values = []
            for obj in objects:
                view = self.value(obj, predicate, props)
                spans = self.statements.get((self.node, predicate, obj), [])
                supports = f"{self.catalog.vocabulary.label(predicate)}: {view.text}"
                own = self.number_all(spans, supports)
                view.evidence = own + [n for n in view.evidence if n not in own]
                values.append(view)
            values.sort(key=lambda v: v.sort_key)
            groups.append(self.group(predicate, values))
        groups.sort(
            key=lambda g: (
                g.predicate not in _FIGURE_ORDER,
                _FIGURE_ORDER.get(g.predicate, 0),
                all(v.href for v in g.values),
                g.label.casefold(),
            )
        )
        return groups

    def incoming_groups(self) -> list[Group]:
        by_predicate: dict[Node, list[ValueView]] = {}
        for s, p, o in self.triples:
            if o != self.node or s == self.node or not isinstance(p, URIRef):
                continue
            if p in (RDF.subject, RDF.object) and self._is_statement(s):
                continue
            if p == RDF.type and self._is_class:
                continue
            view = self.link(s)
            if p != MLKG.evidence:
                spans = self.statements.get((s, p, self.node), [])
                view.evidence = self.number_all(
                    spans, f"{view.text} — {self.catalog.vocabulary.label(p)}"
                )
            by_predicate.setdefault(p, []).append(view)
        groups = []
        for predicate, values in by_predicate.items():
            unique = {v.href: v for v in values}
            groups.append(self.group(predicate, sorted(unique.values(), key=lambda v: v.sort_key)))
        groups.sort(key=lambda g: g.label.casefold())
        return groups

    def group(self, predicate: Node, values: list[ValueView]) -> Group:
        vocab = self.catalog.vocabulary
        label = vocab.label(predicate)
        if predicate in PERCENT_PREDICATES or "(%)" in label:
            label = label.replace("(%)", "").strip()
        return Group(
            str(predicate),
            label,
            vocab.comment(predicate),
            iri_to_path(predicate, self.base) or str(predicate),
            values,
        )


_FIGURE_ORDER = {
    str(p): i
    for i, p in enumerate(
        (
            SCHEMA.value,
            SCHEMA.minValue,
            SCHEMA.maxValue,
            SCHEMA.price,
            SCHEMA.currency,
            SCHEMA.priceCurrency,
            MLKG.payPeriod,
            MLKG.billingPeriod,
            MLKG.statistic,
            MLKG.scope,
            MLKG.location,
            MLKG.experienceLevel,
            MLKG.forRole,
            MLKG.percentChange,
            MLKG.startYear,
            MLKG.endYear,
            RDF.subject,
            RDF.predicate,
            RDF.object,
            OA.hasSource,
            OA.hasSelector,
            OA.start,
            OA.end,
        )
    )
}


def _one(props: Props, predicate: URIRef) -> Node | None:
    values = props.get(predicate)
    return values[0] if values else None


def build_page(
    iri: str, triples: Iterable[Triple], catalog: Snapshot, *, path: str, base: str = BASE
) -> EntityPage:
    """The page model of `iri` from the triples of :func:`describe`."""
    return _Builder(iri, triples, catalog, base).build(path)


def is_term(iri: str) -> bool:
    """True for the ontology's own terms (classes, properties, individuals and the ontology).

    >>> is_term("https://w3id.org/mlkg/def/Skill"), is_term("https://w3id.org/mlkg/skill/python")
    (True, False)
    """
    return iri.startswith(str(MLKG))
