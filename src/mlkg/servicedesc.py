"""The SPARQL 1.1 Service Description of the endpoint, as an rdflib Graph.

https://www.w3.org/TR/sparql11-service-description/ — what a client learns with a GET on /sparql:
the endpoint, the language (queries only: no update), result formats, features, the default dataset
(the default graph is the union of the named graphs) and the named graphs with their sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDFS, VOID, XSD

from mlkg.formats import FORMATS
from mlkg.void import dataset_iri

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMAT_NS = Namespace("http://www.w3.org/ns/formats/")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
MLKG_DEF = Namespace("https://w3id.org/mlkg/def/")

#: W3C format IRIs (http://www.w3.org/ns/formats/) of the formats the endpoint writes.
FORMAT_IRIS = {
    "json": FORMAT_NS.SPARQL_Results_JSON,
    "xml": FORMAT_NS.SPARQL_Results_XML,
    "csv": FORMAT_NS.SPARQL_Results_CSV,
    "tsv": FORMAT_NS.SPARQL_Results_TSV,
    "turtle": FORMAT_NS.Turtle,
    "jsonld": FORMAT_NS["JSON-LD"],
    "ntriples": FORMAT_NS["N-Triples"],
    "rdfxml": FORMAT_NS["RDF_XML"],
    "trig": FORMAT_NS.TriG,
    "nquads": FORMAT_NS["N-Quads"],
}


def describe_service(
    endpoint: str,
    graphs: Mapping[str, int],
    *,
    default_triples: int | None = None,
    timeout: float | None = None,
    result_limit: int | None = None,
    formats: Iterable[str] | None = None,
) -> Graph:
    """The service description of the endpoint at `endpoint` serving `graphs` (IRI -> triples).

    >>> g = describe_service("http://localhost/sparql", {"http://ex/g": 3})
    >>> (URIRef("http://localhost/sparql"), SD.endpoint, URIRef("http://localhost/sparql")) in g
    True
    """
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    graph.bind("formats", FORMAT_NS)
    graph.bind("mlkg", MLKG_DEF)
    service = URIRef(endpoint)
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    graph.add(
        (
            service,
            DCTERMS.description,
            Literal(
                "Read-only SPARQL 1.1 endpoint of the mlkg knowledge graph. Updates, SERVICE, LOAD and FROM "
                "IRIs of graphs it does not hold are refused.",
                lang="en",
            ),
        )
    )
    for name in formats or [f.name for f in FORMATS]:
        if name in FORMAT_IRIS:
            graph.add((service, SD.resultFormat, FORMAT_IRIS[name]))
    if timeout is not None:
        graph.add(
            (service, MLKG_DEF.queryTimeout, Literal(f"PT{timeout:g}S", datatype=XSD.duration))
        )
    if result_limit is not None:
        graph.add((service, MLKG_DEF.resultLimit, Literal(result_limit)))

    dataset = BNode()
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDFS.seeAlso, dataset_iri()))  # the VoID/DCAT description at /.well-known/void
    default = BNode()
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    if default_triples is not None:
        graph.add((default, VOID.triples, Literal(default_triples)))
    for iri, triples in sorted(graphs.items()):
        named = BNode()
        described = BNode()
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(iri)))
        graph.add((named, SD.graph, described))
        graph.add((described, RDF.type, SD.Graph))
        graph.add((described, VOID.triples, Literal(triples)))
    return graph
