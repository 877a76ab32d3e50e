"""The dataset description (VoID and DCAT): what the built store holds, where to get it, what it is
from.

Served at `/.well-known/void` and written into every dump. Counts are taken from the store itself
(its default graph, the union of all files), so they are the real figures of the build in service.
Every triple of the description has a subject of its own — the description document, the dataset
`dataset_iri()`, its partitions and distributions (fragments of the description document), or a
named graph IRI — so the description never repeats or contradicts a triple of the data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import URIRef

from mlkg import __version__
from mlkg.build import StoreMeta
from mlkg.config import Settings
from mlkg.namespaces import BASE, PREFIXES

VOID = "http://rdfs.org/ns/void#"
DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
MLKG_DEF = BASE + "def/"

TITLE = "mlkg: a knowledge graph of the machine-learning-engineer career"
DESCRIPTION = (
    "Roles, skills, tools, education, certifications, organizations, learning resources, salary "
    "figures and career paths of the machine-learning-engineer career, as stated by three source "
    "documents, with every fact traced to a span of its document."
)
# The licence the ontology declares (its dcterms:license), used for the data as well.
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
KEYWORDS = ("machine learning", "careers", "skills", "knowledge graph")
DESCRIPTION_PATH = ".well-known/void"
# Vocabularies the description itself uses, declared besides those the data uses.
OWN_VOCABULARIES = (VOID, DCAT, DCTERMS, FOAF)
EXTRA_NAMESPACES = {
    "foaf": FOAF,
    "sssom": "https://w3id.org/sssom/",
    "semapv": "https://w3id.org/semapv/vocab/",
}


@dataclass(frozen=True)
class Dump:
    """One downloadable dump: URL suffix, media type, W3C format IRI and a title."""

    suffix: str
    media_type: str
    format_iri: str
    title: str


DUMPS: tuple[Dump, ...] = (
    Dump("ttl", "text/turtle", "http://www.w3.org/ns/formats/Turtle", "Turtle"),
    Dump("jsonld", "application/ld+json", "http://www.w3.org/ns/formats/JSON-LD", "JSON-LD"),
    Dump("nt", "application/n-triples", "http://www.w3.org/ns/formats/N-Triples", "N-Triples"),
    Dump("rdf", "application/rdf+xml", "http://www.w3.org/ns/formats/RDF_XML", "RDF/XML"),
    Dump(
        "trig",
        "application/trig",
        "http://www.w3.org/ns/formats/TriG",
        "TriG (one named graph per file)",
    ),
    Dump(
        "nq",
        "application/n-quads",
        "http://www.w3.org/ns/formats/N-Quads",
        "N-Quads (one named graph per file)",
    ),
)


def description_iri(settings: Settings | None = None) -> URIRef:
    """The IRI of the description document (served at /.well-known/void).

    >>> str(description_iri())
    'https://w3id.org/mlkg/.well-known/void'
    """
    return URIRef((settings.base_iri if settings else BASE) + DESCRIPTION_PATH)


def dataset_iri(settings: Settings | None = None) -> URIRef:
    """The IRI of the mlkg dataset that the VoID description describes (for links from elsewhere).

    >>> str(dataset_iri())
    'https://w3id.org/mlkg/.well-known/void#dataset'
    """
    return URIRef(f"{description_iri(settings)}#dataset")


def _slug(iri: str) -> str:
    """A readable fragment for a class or property IRI: ``prefix-local``, else a short hash.

    >>> _slug("https://w3id.org/mlkg/def/Role")
    'mlkg-Role'
    """
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", local):
            return f"{prefix}-{local}"
    return "h" + hashlib.sha256(iri.encode()).hexdigest()[:12]


def _count(store: ox.Store, query: str) -> int:
    row = next(iter(store.query(query)))
    return int(row[0].value)


def _rows(store: ox.Store, query: str) -> list[tuple]:
    return [tuple(row) for row in store.query(query)]


def _namespace(iri: str) -> str | None:
    """The namespace of a term IRI among the known prefixes, if any."""
    known = sorted({*PREFIXES.values(), *EXTRA_NAMESPACES.values()}, key=len, reverse=True)
    return next((ns for ns in known if iri.startswith(ns) and len(iri) > len(ns)), None)


@dataclass(frozen=True)
class Statistics:
    """The figures of a store that the description reports."""

    triples: int
    entities: int
    distinct_subjects: int
    distinct_objects: int
    classes: list[tuple[str, int]]
    properties: list[tuple[str, int]]
    graphs: list[tuple[str, int]]
    sources: list[str]
    examples: list[str]
    ontology_version: str | None


def measure(store: ox.Store, base: str = BASE) -> Statistics:
    """Count the store's default graph (the union) and its named graphs."""
    space = base.replace("\\", "\\\\").replace('"', '\\"')
    return Statistics(
        triples=_count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"),
        entities=_count(
            store,
            f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o "
            f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{space}")) }}',
        ),
        distinct_subjects=_count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }"),
        distinct_objects=_count(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }"),
        classes=[
            (c.value, int(n.value))
            for c, n in _rows(
                store,
                "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c FILTER(isIRI(?c)) } "
                "GROUP BY ?c ORDER BY ?c",
            )
        ],
        properties=[
            (p.value, int(n.value))
            for p, n in _rows(
                store, "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY ?p"
            )
        ],
        graphs=[
            (g.value, int(n.value))
            for g, n in _rows(
                store,
                "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
                "GROUP BY ?g ORDER BY ?g",
            )
        ],
        sources=[
            d.value
            for (d,) in _rows(
                store, f"SELECT ?d WHERE {{ ?d a <{MLKG_DEF}SourceDocument> }} ORDER BY ?d"
            )
        ],
        examples=[
            r.value
            for (r,) in _rows(
                store, f"SELECT ?r WHERE {{ ?r a <{MLKG_DEF}Role> }} ORDER BY ?r LIMIT 3"
            )
        ],
        ontology_version=next(
            (
                v.value
                for (v,) in _rows(
                    store,
                    f"SELECT ?v WHERE {{ <{MLKG_DEF}> "
                    "<http://www.w3.org/2002/07/owl#versionInfo> ?v } LIMIT 1",
                )
            ),
            None,
        ),
    )


def _iso(timestamp: float) -> str:
    return (
        dt.datetime.fromtimestamp(timestamp, dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z")
    )


def describe(
    store: ox.Store, meta: StoreMeta, settings: Settings, stats: Statistics | None = None
) -> list[ox.Triple]:
    """The VoID + DCAT description of the built store `store` (whose meta.json is `meta`)."""
    stats = stats or measure(store)
    base = settings.base_iri
    doc = description_iri(settings)
    dataset = ox.NamedNode(str(dataset_iri(settings)))

    def node(value: str) -> ox.NamedNode:
        return ox.NamedNode(value)

    def frag(name: str) -> ox.NamedNode:
        return ox.NamedNode(f"{doc}#{name}")

    def text(value: str) -> ox.Literal:
        return ox.Literal(value, language="en")

    def plain(value: str) -> ox.Literal:
        return ox.Literal(value)

    def integer(value: int) -> ox.Literal:
        return ox.Literal(str(value), datatype=node(XSD + "integer"))

    def when(value: float) -> ox.Literal:
        return ox.Literal(_iso(value), datatype=node(XSD + "dateTime"))

    a = node(RDF + "type")
    triples: list[ox.Triple] = []

    def add(s: ox.NamedNode, p: str, o) -> None:
        triples.append(ox.Triple(s, node(p) if p != "a" else a, o))

    describe_doc = node(str(doc))
    add(describe_doc, "a", node(VOID + "DatasetDescription"))
    add(describe_doc, DCTERMS + "title", text("VoID and DCAT description of the mlkg dataset"))
    add(describe_doc, FOAF + "primaryTopic", dataset)

    version = f"{__version__}+{meta.id}"
    add(dataset, "a", node(VOID + "Dataset"))
    add(dataset, "a", node(DCAT + "Dataset"))
    add(dataset, DCTERMS + "title", text(TITLE))
    add(dataset, DCTERMS + "description", text(DESCRIPTION))
    add(dataset, DCTERMS + "license", node(LICENSE))
    add(dataset, DCTERMS + "creator", plain("The mlkg developers"))
    add(dataset, DCTERMS + "identifier", plain(meta.id))
    add(dataset, DCAT + "version", plain(version))
    add(dataset, "http://www.w3.org/2002/07/owl#versionInfo", plain(version))
    add(dataset, DCTERMS + "modified", when(meta.built_at))
    add(dataset, DCTERMS + "conformsTo", node(MLKG_DEF))
    add(dataset, DCAT + "landingPage", node(base))
    for keyword in KEYWORDS:
        add(dataset, DCAT + "keyword", text(keyword))
    for source in stats.sources:
        add(dataset, DCTERMS + "source", node(source))
    for example in stats.examples:
        add(dataset, VOID + "exampleResource", node(example))

    add(dataset, VOID + "uriSpace", plain(BASE))
    add(dataset, VOID + "triples", integer(stats.triples))
    add(dataset, VOID + "entities", integer(stats.entities))
    add(dataset, VOID + "distinctSubjects", integer(stats.distinct_subjects))
    add(dataset, VOID + "distinctObjects", integer(stats.distinct_objects))
    add(dataset, VOID + "classes", integer(len(stats.classes)))
    add(dataset, VOID + "properties", integer(len(stats.properties)))

    add(dataset, VOID + "sparqlEndpoint", node(base + "sparql"))
    service = frag("sparql")
    add(dataset, DCAT + "accessService", service)
    for dump in DUMPS:
        add(dataset, VOID + "dataDump", node(f"{base}export.{dump.suffix}"))
    for dump in DUMPS:
        add(dataset, VOID + "feature", node(dump.format_iri))
    for dump in DUMPS:
        add(dataset, DCAT + "distribution", frag(f"dump-{dump.suffix}"))

    vocabularies = (
        {_namespace(iri) for iri, _ in stats.properties}
        | {_namespace(iri) for iri, _ in stats.classes}
        | set(OWN_VOCABULARIES)
    )
    for namespace in sorted(v for v in vocabularies if v):
        add(dataset, VOID + "vocabulary", node(namespace))

    for cls, _ in stats.classes:
        add(dataset, VOID + "classPartition", frag(f"class-{_slug(cls)}"))
    for prop, _ in stats.properties:
        add(dataset, VOID + "propertyPartition", frag(f"property-{_slug(prop)}"))
    for graph, _ in stats.graphs:
        add(dataset, VOID + "subset", node(graph))

    add(service, "a", node(DCAT + "DataService"))
    add(service, DCTERMS + "title", text("mlkg SPARQL endpoint"))
    add(service, DCAT + "endpointURL", node(base + "sparql"))
    add(service, DCAT + "servesDataset", dataset)
    for dump in DUMPS:
        dist = frag(f"dump-{dump.suffix}")
        add(dist, "a", node(DCAT + "Distribution"))
        add(dist, DCTERMS + "title", text(f"{dump.title} dump"))
        add(dist, DCAT + "downloadURL", node(f"{base}export.{dump.suffix}"))
        add(
            dist,
            DCAT + "mediaType",
            node(f"https://www.iana.org/assignments/media-types/{dump.media_type}"),
        )
        add(dist, DCTERMS + "format", node(dump.format_iri))
        add(dist, DCTERMS + "license", node(LICENSE))
    for cls, count in stats.classes:
        part = frag(f"class-{_slug(cls)}")
        add(part, VOID + "class", node(cls))
        add(part, VOID + "entities", integer(count))
    for prop, count in stats.properties:
        part = frag(f"property-{_slug(prop)}")
        add(part, VOID + "property", node(prop))
        add(part, VOID + "triples", integer(count))
    for graph, count in stats.graphs:
        subset = node(graph)
        add(subset, "a", node(VOID + "Dataset"))
        add(subset, DCTERMS + "title", plain(graph.removeprefix(BASE + "graph/")))
        add(subset, VOID + "triples", integer(count))
    return triples


def serialize(triples: list[ox.Triple], format_name: str) -> bytes:
    """The description in a graph format named as in mlkg.formats (JSON-LD: compacted)."""
    from mlkg import jsonld

    if format_name == "jsonld":
        return json.dumps(jsonld.compact_document(triples), ensure_ascii=False, indent=1).encode(
            "utf-8"
        )
    formats = {
        "turtle": ox.RdfFormat.TURTLE,
        "ntriples": ox.RdfFormat.N_TRIPLES,
        "rdfxml": ox.RdfFormat.RDF_XML,
    }
    if format_name not in formats:
        raise ValueError(f"no graph format {format_name!r}")
    return ox.serialize(triples, format=formats[format_name], prefixes=prefixes())


def prefixes() -> dict[str, str]:
    """The prefixes to write a description (or a dump holding one) with."""
    return {**PREFIXES, **EXTRA_NAMESPACES}


def subjects(triples: list[ox.Triple]) -> Iterator[str]:
    """The distinct subjects of a description, in order (to check it stays apart from the data)."""
    seen: set[str] = set()
    for triple in triples:
        if triple.subject.value not in seen:
            seen.add(triple.subject.value)
            yield triple.subject.value
