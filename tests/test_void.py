"""The dataset description (VoID + DCAT): real counts, links, in the dumps, at /.well-known/void."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pyoxigraph as ox
import pytest
from exports_helpers import default_graph, fixture_build, named_graphs, open_read_only, rdflib_graph
from pyld import jsonld as pyld
from rdflib import Graph
from rdflib.compare import isomorphic

from mlkg import exports, void
from mlkg.namespaces import BASE

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    settings, meta = fixture_build(str(tmp_path_factory.getbasetemp() / "exports-var"))
    return settings, meta, open_read_only(settings)


@pytest.fixture(scope="module")
def about(fixture):
    settings, meta, store = fixture
    return void.describe(store, meta, settings)


@pytest.fixture(scope="module")
def client(fixture):
    from mlkg.web import create_app

    return create_app({"TESTING": True, "SETTINGS": fixture[0]}).test_client()


def values(about, subject, prop) -> list:
    name = subject.value if isinstance(subject, ox.NamedNode) else str(subject)
    return [t.object for t in about if t.subject.value == name and t.predicate.value == prop]


def one(about, subject, prop):
    found = values(about, subject, prop)
    assert len(found) == 1, (subject, prop, found)
    return found[0]


def test_dataset_iri_is_a_fragment_of_the_description_document(fixture):
    assert str(void.dataset_iri()) == BASE + ".well-known/void#dataset"
    assert str(void.dataset_iri(fixture[0])) == fixture[0].base_iri + ".well-known/void#dataset"


def test_counts_are_the_store_counts(fixture, about):
    """Each figure recomputed here in Python from the store's triples, apart from void.measure."""
    _, _, store = fixture
    triples = default_graph(store)
    dataset = void.dataset_iri()
    assert int(one(about, dataset, void.VOID + "triples").value) == len(triples)
    subjects = {t.subject for t in triples}
    entities = {s for s in subjects if isinstance(s, ox.NamedNode) and s.value.startswith(BASE)}
    assert int(one(about, dataset, void.VOID + "entities").value) == len(entities)
    assert int(one(about, dataset, void.VOID + "distinctSubjects").value) == len(subjects)
    assert int(one(about, dataset, void.VOID + "distinctObjects").value) == len(
        {t.object for t in triples}
    )
    classes = Counter(
        t.object.value
        for t in {
            (t.subject, t.object): t for t in triples if t.predicate.value == RDF_TYPE
        }.values()
    )
    properties = Counter(t.predicate.value for t in triples)
    assert int(one(about, dataset, void.VOID + "classes").value) == len(classes)
    assert int(one(about, dataset, void.VOID + "properties").value) == len(properties)
    parts = {
        one(about, p, void.VOID + "class").value: int(one(about, p, void.VOID + "entities").value)
        for p in values(about, dataset, void.VOID + "classPartition")
    }
    assert parts == dict(classes)
    parts = {
        one(about, p, void.VOID + "property").value: int(one(about, p, void.VOID + "triples").value)
        for p in values(about, dataset, void.VOID + "propertyPartition")
    }
    assert parts == dict(properties)
    subsets = {
        g.value: int(one(about, g, void.VOID + "triples").value)
        for g in values(about, dataset, void.VOID + "subset")
    }
    assert subsets == {name: len(ts) for name, ts in named_graphs(store).items()}


def test_description_says_what_where_and_from_what(fixture, about):
    settings, meta, _ = fixture
    dataset = void.dataset_iri()
    assert one(about, dataset, void.DCTERMS + "title").language == "en"
    assert one(about, dataset, void.DCTERMS + "description").value
    assert one(about, dataset, void.DCTERMS + "license").value == void.LICENSE
    assert meta.id in one(about, dataset, void.DCAT + "version").value
    modified = one(about, dataset, void.DCTERMS + "modified").value
    assert dt.datetime.fromisoformat(modified.replace("Z", "+00:00")).timestamp() == int(
        meta.built_at
    )
    assert {s.value for s in values(about, dataset, void.DCTERMS + "source")} == {
        BASE + "source/fixture_a"
    }
    assert one(about, dataset, void.VOID + "sparqlEndpoint").value == settings.base_iri + "sparql"
    dumps = {d.value for d in values(about, dataset, void.VOID + "dataDump")}
    assert dumps == {f"{settings.base_iri}export.{e.suffix}" for e in exports.EXPORTS}
    vocabularies = {v.value for v in values(about, dataset, void.VOID + "vocabulary")}
    assert {
        "https://w3id.org/mlkg/def/",
        "http://schema.org/",
        "http://www.w3.org/2004/02/skos/core#",
        "http://rdfs.org/ns/void#",
        "http://www.w3.org/ns/dcat#",
    } <= vocabularies
    for dist in values(about, dataset, void.DCAT + "distribution"):
        url = one(about, dist, void.DCAT + "downloadURL").value
        suffix = url.rsplit(".", 1)[1]
        assert one(about, dist, void.DCAT + "mediaType").value.endswith(
            exports.export_for(suffix).media_type
        )
    assert one(
        about, void.description_iri(), "http://xmlns.com/foaf/0.1/primaryTopic"
    ) == ox.NamedNode(str(dataset))


def test_description_stays_apart_from_the_data(fixture, about):
    """No description triple repeats or contradicts the data: its subjects are its own."""
    _, _, store = fixture
    graph_names = set(named_graphs(store))
    own = str(void.description_iri())
    for subject in void.subjects(about):
        assert subject == own or subject.startswith(own + "#") or subject in graph_names, subject
    assert not set(about) & default_graph(store)


def test_well_known_void_is_turtle_by_default_with_validators(client, about, fixture):
    response = client.get("/.well-known/void")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    assert isomorphic(Graph().parse(data=response.data, format="turtle"), rdflib_graph(about))
    assert response.headers["ETag"] and fixture[1].id in response.headers["ETag"]
    assert response.last_modified.timestamp() == int(fixture[1].built_at)
    assert (
        client.get(
            "/.well-known/void", headers={"If-None-Match": response.headers["ETag"]}
        ).status_code
        == 304
    )


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "xml"),
    ],
)
def test_well_known_void_negotiates(client, about, accept, fmt):
    response = client.get("/.well-known/void", headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == accept
    assert isomorphic(Graph().parse(data=response.data, format=fmt), rdflib_graph(about))
    assert "Accept" in response.headers["Vary"]


def test_well_known_void_json_ld_is_compacted_and_pyld_agrees(client, about):
    document = client.get("/.well-known/void?format=jsonld").json
    assert isinstance(document["@context"], dict)
    node = next(n for n in document["@graph"] if n["id"] == "kg:.well-known/void#dataset")
    assert node["title"].startswith("mlkg") and node["license"] == void.LICENSE
    nquads = pyld.to_rdf(document, {"format": "application/n-quads"})
    assert {q.triple for q in ox.parse(nquads, ox.RdfFormat.N_QUADS)} == set(about)


def test_well_known_void_html_page_for_browsers(client, fixture):
    response = client.get(
        "/.well-known/void", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b"Figures" in response.data and fixture[1].id.encode() in response.data
    assert b'href="/ontology"' in response.data


def test_well_known_void_refuses_what_it_cannot_produce(client):
    response = client.get("/.well-known/void", headers={"Accept": "application/pdf"})
    assert response.status_code == 406 and response.mimetype == "application/problem+json"
    assert "text/turtle" in response.json["detail"]
    bad = client.get("/.well-known/void?format=xlsx", headers={"Accept": "application/json"})
    assert bad.status_code == 406 and "'xlsx'" in bad.json["detail"]


def test_real_counts_in_the_dump_match_meta(fixture, about):
    _, meta, _ = fixture
    assert int(one(about, void.dataset_iri(), void.VOID + "triples").value) == meta.triples


def test_json_description_document_is_valid_json(client):
    assert json.loads(
        client.get("/.well-known/void", headers={"Accept": "application/ld+json"}).data
    )
