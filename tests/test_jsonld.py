"""JSON-LD: the published context, readable compaction, and two independent processors agreeing."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pyoxigraph as ox
import pytest
from exports_helpers import default_graph, fixture_build, open_read_only, rdflib_graph, real_build
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pyld import jsonld as pyld
from rdflib import OWL, RDF, Graph
from rdflib.compare import isomorphic

from mlkg import exports, jsonld
from mlkg.store import parse_turtle

XSD = "http://www.w3.org/2001/XMLSchema#"
CTX = jsonld.load_context()


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    settings, meta = fixture_build(str(tmp_path_factory.getbasetemp() / "exports-var"))
    return settings, meta, open_read_only(settings)


@pytest.fixture(scope="module")
def document(fixture) -> dict:
    settings, meta, store = fixture
    out = io.BytesIO()
    exports.write_export(
        store,
        exports.export_for("jsonld"),
        out,
        description=exports.description(settings, store, meta),
    )
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def expected(fixture) -> set[ox.Triple]:
    settings, meta, store = fixture
    return default_graph(store) | set(exports.description(settings, store, meta))


def pyld_triples(document: dict, **options) -> set[ox.Triple]:
    """The RDF that PyLD (an independent JSON-LD 1.1 processor) reads from `document`."""
    nquads = pyld.to_rdf(document, {"format": "application/n-quads", **options})
    return same_doubles({q.triple for q in ox.parse(nquads, ox.RdfFormat.N_QUADS)})


def same_doubles(triples) -> set[ox.Triple]:
    """Write every numeric xsd:double as Python's repr of its value.

    PyLD rewrites the lexical form of a *string* typed xsd:double ("1500" becomes "1.5E3"), which
    the JSON-LD 1.1 algorithm does only for JSON numbers; the value is the same, so compare values.
    """
    out = set()
    for t in triples:
        o = t.object
        if isinstance(o, ox.Literal) and o.datatype.value == XSD + "double":
            with contextlib.suppress(ValueError):
                o = ox.Literal(repr(float(o.value)), datatype=o.datatype)
        out.add(ox.Triple(t.subject, t.predicate, o))
    return out


def node(document: dict, iri_text: str) -> dict:
    return next(n for n in document["@graph"] if n["id"] == iri_text)


# ---------------------------------------------------------------- the context file


def test_context_is_a_json_ld_context_with_prefixes_and_terms():
    raw = json.loads(jsonld.CONTEXT_PATH.read_text(encoding="utf-8"))["@context"]
    assert raw["id"] == "@id" and raw["type"] == "@type"
    assert raw["mlkg"] == "https://w3id.org/mlkg/def/" and raw["kg"] == "https://w3id.org/mlkg/"
    assert CTX.terms["name"].iri == "http://www.w3.org/2000/01/rdf-schema#label"
    assert (
        CTX.terms["skills"].iri == "https://w3id.org/mlkg/def/requiresSkill"
        and CTX.terms["skills"].type == "@id"
    )
    assert CTX.terms["price"].type == XSD + "decimal"
    assert (
        CTX.terms["year"].type == XSD + "gYear" and CTX.terms["validFor"].type == XSD + "duration"
    )
    assert CTX.terms["created"].type == XSD + "date"


def test_each_property_has_one_key_and_no_key_looks_like_an_iri_scheme():
    iris = [t.iri for t in CTX.terms.values()]
    assert len(iris) == len(set(iris)), "two keys for one property"
    schemes = {"http", "https", "urn", "mailto", "file", "data", "tag", "ftp", "_"}
    raw = json.loads(jsonld.CONTEXT_PATH.read_text(encoding="utf-8"))["@context"]
    assert not schemes & set(raw)
    assert all(
        re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name) for name in raw if not name.startswith("@")
    )


def test_every_ontology_term_has_a_readable_key():
    """Keys stay readable as the ontology grows: each mlkg class and property has a term."""
    ontology = parse_turtle(jsonld.CONTEXT_PATH.parents[2] / "ontology" / "mlkg.ttl")
    properties = {
        str(p)
        for kind in (OWL.ObjectProperty, OWL.DatatypeProperty)
        for p in ontology.subjects(RDF.type, kind)
    }
    classes = {str(c) for c in ontology.subjects(RDF.type, OWL.Class)}
    missing_properties = sorted(properties - set(CTX.by_property))
    missing_classes = sorted(classes - set(CTX.vocab))
    assert not missing_properties, f"add keys to src/mlkg/context.jsonld for {missing_properties}"
    assert not missing_classes, f"add class terms to src/mlkg/context.jsonld for {missing_classes}"


def test_coerced_datatypes_agree_with_the_ontology_ranges():
    ontology = parse_turtle(jsonld.CONTEXT_PATH.parents[2] / "ontology" / "mlkg.ttl")
    from rdflib import RDFS

    for prop in ontology.subjects(RDF.type, OWL.DatatypeProperty):
        term = CTX.by_property.get(str(prop))
        range_ = ontology.value(prop, RDFS.range)
        if term is None or range_ is None:
            continue
        if str(range_) == XSD + "string":
            assert term.type is None and term.language is None, term.name
        else:
            assert term.type == str(range_), term.name


# ---------------------------------------------------------------- compaction is readable


def test_dump_is_compacted_not_expanded(document):
    assert isinstance(document["@context"], dict) and "@graph" in document
    role = node(document, "kg:role/machine-learning-engineer")
    assert role["type"] == "Role"
    assert role["name"] == "machine learning engineer"
    assert set(role["skills"]) == {"kg:skill/python", "kg:skill/statistics"}
    assert {"@value": "Machine-Learning-Ingenieur", "@language": "de"} in role["altNames"]
    assert "ML engineer" in role["altNames"]  # English needs no value object under an @en key
    assert list(role)[:3] == ["id", "type", "name"]
    assert not any(key.startswith("http") for n in document["@graph"] for key in n)


def test_values_are_typed_by_the_context(document, fixture):
    salary = node(document, "kg:salary/fixture-median")
    assert salary["statistic"] == "Median" and salary["payPeriod"] == "Annual"
    assert salary["currency"] == "USD" and salary["maxOpenEnded"] is False
    assert salary["forRole"] == "kg:role/machine-learning-engineer"
    assert (
        isinstance(salary["value"], str) and salary["year"] == "2024"
    )  # typed by the key, lexical kept
    growth = node(document, "kg:growth/fixture")
    assert growth["projected"] is True
    odd = node(document, "kg:dataset/fixture-odd")
    assert odd["value"] == {"@value": "1500", "@type": "xsd:double"}  # a double under a decimal key
    assert odd["sha256"] == {"@value": "abc", "@type": "https://example.org/custom#type"}
    assert set(odd["measure"]) == {"42", "", "en"}  # strings stay strings


def test_value_objects_where_the_key_does_not_fit():
    name = CTX.terms["name"]
    assert jsonld.compact_value(CTX, name, ox.Literal("Géron", language="fr")) == {
        "@value": "Géron",
        "@language": "fr",
    }
    assert jsonld.compact_value(CTX, name, ox.Literal("plain")) == {"@value": "plain"}
    count = CTX.terms["courseCount"]
    assert (
        jsonld.compact_value(CTX, count, ox.Literal("5", datatype=ox.NamedNode(XSD + "integer")))
        == 5
    )
    assert (
        jsonld.compact_value(CTX, count, ox.Literal("007", datatype=ox.NamedNode(XSD + "integer")))
        == "007"
    )
    big = ox.Literal("12345678901234567890", datatype=ox.NamedNode(XSD + "integer"))
    assert jsonld.compact_value(CTX, count, big) == "12345678901234567890"
    price = CTX.terms["price"]
    assert jsonld.compact_value(
        CTX, price, ox.Literal("5", datatype=ox.NamedNode(XSD + "integer"))
    ) == {"@value": "5", "@type": "xsd:integer"}
    assert jsonld.compact_value(CTX, None, ox.NamedNode("https://example.org/x")) == {
        "@id": "https://example.org/x"
    }
    assert jsonld.compact_value(CTX, None, ox.BlankNode("b1")) == {"@id": "_:b1"}


# ---------------------------------------------------------------- two processors agree


def test_pyld_reads_exactly_the_store_triples(document, expected):
    assert pyld_triples(document) == same_doubles(expected)


def test_rdflib_agrees_with_pyld(document, expected):
    parsed = Graph().parse(data=json.dumps(document), format="json-ld")
    assert isomorphic(parsed, rdflib_graph(expected))
    pyld_graph = rdflib_graph(pyld_triples(document))
    assert isomorphic(rdflib_graph(same_doubles(expected)), pyld_graph)


def test_the_published_context_works_by_reference(document, expected):
    """A document that refers to /context.jsonld by URL reads the same (a loader serves it)."""

    def loader(url, options=None):
        assert url == jsonld.CONTEXT_URL, url
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": json.loads(jsonld.CONTEXT_PATH.read_text(encoding="utf-8")),
        }

    by_reference = {**document, "@context": jsonld.CONTEXT_URL}
    assert pyld_triples(by_reference, documentLoader=loader) == same_doubles(expected)


def test_streamed_and_in_memory_documents_agree(fixture):
    _, _, store = fixture
    triples = sorted(default_graph(store), key=str)
    out = io.BytesIO()
    jsonld.write_jsonld(triples, out)
    assert pyld_triples(json.loads(out.getvalue())) == pyld_triples(
        jsonld.compact_document(triples)
    )


# ---------------------------------------------------------------- any literal survives

LANGS = st.sampled_from(["en", "fr", "de", "en-GB", "fr-CA", "ja", "uk"])
DATATYPES = st.sampled_from(
    [
        XSD + t
        for t in (
            "string",
            "integer",
            "decimal",
            "boolean",
            "double",
            "gYear",
            "duration",
            "date",
            "nonNegativeInteger",
        )
    ]
    + ["https://example.org/custom#type"]
)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
PROPS = st.sampled_from(
    [*sorted(CTX.by_property), "https://example.org/p", "http://schema.org/name"]
)


@st.composite
def literals(draw):
    kind = draw(st.sampled_from(["lang", "typed", "int", "bool"]))
    if kind == "lang":
        return ox.Literal(draw(TEXT), language=draw(LANGS))
    if kind == "int":
        return ox.Literal(
            str(draw(st.integers(-(10**20), 10**20))), datatype=ox.NamedNode(XSD + "integer")
        )
    if kind == "bool":
        return ox.Literal(
            draw(st.sampled_from(["true", "false", "1", "0"])),
            datatype=ox.NamedNode(XSD + "boolean"),
        )
    return ox.Literal(draw(TEXT), datatype=ox.NamedNode(draw(DATATYPES)))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            PROPS,
            st.one_of(
                literals(),
                st.sampled_from(
                    [
                        ox.NamedNode("https://w3id.org/mlkg/def/Annual"),
                        ox.NamedNode("https://w3id.org/mlkg/role/x"),
                        ox.NamedNode("https://example.org/y"),
                        ox.BlankNode("b0"),
                    ]
                ),
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_triples_round_trip_through_pyld(rows):
    triples = {
        ox.Triple(ox.NamedNode(f"https://w3id.org/mlkg/x/{s}"), ox.NamedNode(p), o)
        for s, p, o in rows
    }
    document = jsonld.compact_document(sorted(triples, key=str))
    back = pyld_triples(json.loads(json.dumps(document)))
    assert canonical(back) == canonical(same_doubles(triples))


def canonical(triples) -> set[str]:
    """Triples with blank nodes canonically relabelled (RDFC-1.0), terms exact, as strings."""
    dataset = ox.Dataset(
        [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples]
    )
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return {str(q) for q in dataset}


# ---------------------------------------------------------------- the real data


def test_real_data_json_ld_reads_the_same_in_pyld_and_rdflib(tmp_path_factory):
    """The curators' data as it stands (unvalidated): both processors give back the store."""
    settings, meta = real_build(str(tmp_path_factory.getbasetemp() / "real-var"))
    store = open_read_only(settings)
    out = io.BytesIO()
    exports.write_export(
        store,
        exports.export_for("jsonld"),
        out,
        description=exports.description(settings, store, meta),
    )
    document = json.loads(out.getvalue())
    expected = default_graph(store) | set(exports.description(settings, store, meta))
    assert pyld_triples(document) == same_doubles(expected)
    assert isomorphic(Graph().parse(data=out.getvalue(), format="json-ld"), rdflib_graph(expected))
    geron = next(n for n in document["@graph"] if n.get("name") == "Aurélien Géron")
    assert geron["id"].startswith("kg:person/")
