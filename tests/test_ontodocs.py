"""Ontology documentation: classes, properties, shapes in words, data examples; built, served."""

from __future__ import annotations

import re

import pytest
from exports_helpers import FIXTURE, build_store, fixture_build, open_read_only
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import OWL, SH

from mlkg import build as build_module
from mlkg import ontodocs
from mlkg.store import parse_turtle, shapes_files

SHAPES_PREFIXES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    settings, meta = fixture_build(str(tmp_path_factory.getbasetemp() / "exports-var"))
    return settings, meta, open_read_only(settings)


@pytest.fixture(scope="module")
def docs(fixture):
    settings, _, store = fixture
    shapes, origins = ontodocs.load_shapes(settings.ontology_dir)
    return ontodocs.ontology_docs(
        ontodocs.ontology_graph(store), shapes, store, shape_origins=origins
    )


def test_every_class_and_property_of_the_ontology_is_documented(fixture, docs):
    ontology = parse_turtle(fixture[0].ontology_dir / "mlkg.ttl")
    classes = {str(c) for c in ontology.subjects(RDF.type, OWL.Class)}
    properties = {
        str(p)
        for k in (OWL.ObjectProperty, OWL.DatatypeProperty)
        for p in ontology.subjects(RDF.type, k)
    }
    assert {c.iri for c in docs.classes} == classes
    assert {p.iri for p in docs.properties} == properties
    assert docs.title and docs.version and docs.license


def test_classes_show_hierarchy_domains_counts_and_examples(docs):
    role = next(c for c in docs.classes if c.curie == "mlkg:Role")
    assert role.label == "role" and role.comment
    assert {r.text for r in role.superclasses} >= {"schema:Occupation", "esco:Occupation"}
    assert "mlkg:requiresSkill" in {r.text for r in role.domain_of}
    assert role.count == 2  # the fixture's two roles
    assert [e.subject.text for e in role.examples] == [
        "data scientist",
        "machine learning engineer",
    ]
    assert role.examples[0].subject.href == "/role/data-scientist"
    skill = next(c for c in docs.classes if c.curie == "mlkg:Skill")
    assert "mlkg:ProgrammingLanguage" in {r.text for r in skill.subclasses}
    assert any(r.href == "#mlkg-ProgrammingLanguage" for r in skill.subclasses)


def test_properties_show_domain_range_use_and_examples(docs):
    requires = next(p for p in docs.properties if p.curie == "mlkg:requiresSkill")
    assert requires.kind == "object property"
    assert [r.text for r in requires.domain] == ["mlkg:Role"] and [
        r.text for r in requires.range
    ] == ["skos:Concept"]
    assert requires.count == 2
    assert {(e.subject.text, e.value.text) for e in requires.examples} == {
        ("machine learning engineer", "Python"),
        ("machine learning engineer", "statistics"),
    }
    related = next(p for p in docs.properties if p.curie == "mlkg:relatedRole")
    assert "SymmetricProperty" in related.characteristics
    year = next(p for p in docs.properties if p.curie == "mlkg:year")
    assert year.kind == "datatype property" and year.examples[0].value.text.startswith("“20")


def test_every_shape_of_every_shapes_file_is_documented(fixture, docs):
    named = set()
    for path in shapes_files(fixture[0].ontology_dir):
        graph = parse_turtle(path)
        named |= {str(s) for s in graph.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)}
    assert {s.iri for s in docs.shapes} == named
    assert any(s.source == "shapes-esco.ttl" for s in docs.shapes)


def test_shape_constraints_are_said_in_words(docs):
    mapping = next(s for s in docs.shapes if s.curie == "mlkg:EscoMappingShape")
    assert mapping.source == "shapes-esco.ttl"
    assert mapping.targets and "SPARQL" in mapping.targets[0] and "owl:Axiom" in mapping.targets[0]
    source = next(c for c in mapping.properties if c.path == "owl:annotatedSource")
    assert "exactly 1" in source.rules and "node kind sh:IRI" in source.rules
    assert any(rule.startswith("matches /^https://w3id[.]org/mlkg/") for rule in source.rules)
    assert source.message.startswith("a mapping record needs exactly one owl:annotatedSource")
    kind = next(c for c in mapping.properties if c.path == "owl:annotatedProperty")
    assert "one of skos:exactMatch, skos:closeMatch" in kind.rules
    reason = next(c for c in mapping.properties if c.path == "rdfs:comment")
    assert "language one of en" in reason.rules and "value length ≥ 30" in reason.rules
    assert mapping.sparql and "FILTER NOT EXISTS" in mapping.sparql[0][1]
    link = next(s for s in docs.shapes if s.curie == "mlkg:EscoLinkShape")
    exact = next(c for c in link.properties if c.path == "skos:exactMatch")
    assert any(rule.startswith("0 to 1 values that satisfy") for rule in exact.rules)


def test_paths_and_rules_of_every_kind():
    graph = Graph().parse(
        data=SHAPES_PREFIXES
        + """
        ex:S a sh:NodeShape ; sh:targetClass ex:C ;
          sh:property [ sh:path ( ex:a ex:b ) ; sh:minCount 1 ; sh:maxCount 3 ;
                        sh:datatype xsd:decimal ;
                        sh:minInclusive 0 ; sh:maxExclusive 100 ] ;
          sh:property [ sh:path [ sh:inversePath [ sh:alternativePath ( ex:c ex:d ) ] ] ;
                        sh:class ex:D ] ;
          sh:property [ sh:path [ sh:zeroOrMorePath ex:e ] ;
                        sh:or ( [ sh:class ex:E ] [ sh:nodeKind sh:Literal ] ) ;
                        sh:uniqueLang true ] ;
          sh:property [ sh:path ex:f ; sh:in ( "a" "b" ) ; sh:languageIn ( "en" "fr" ) ;
                        sh:pattern "^x" ;
                        sh:flags "i" ; sh:severity sh:Warning ] .
    """,
        format="turtle",
    )
    [doc] = ontodocs.shape_docs(graph)
    by_path = {c.path: c.rules for c in doc.properties}
    assert by_path["ex:a/ex:b"] == [
        "between 1 and 3 values",
        "datatype xsd:decimal",
        "value ≥ 0",
        "value < 100",
    ]
    assert by_path["^(ex:c|ex:d)"] == ["each value an instance of ex:D"]
    assert by_path["ex:e*"] == [
        "at most one value per language",
        "at least one of: [each value an instance of ex:E] | [node kind sh:Literal]",
    ]
    assert set(by_path["ex:f"]) == {
        "matches /^x/i",
        "one of 'a', 'b'",
        "language one of en, fr",
        "severity sh:Warning",
    }
    assert doc.targets == ["instances of ex:C (and its subclasses)"]


def test_rendering_escapes_everything(docs):
    docs_with_script = ontodocs.Docs(
        **{**docs.__dict__, "comment": "<script>alert('x')</script> & more"}
    )
    html = ontodocs.render(docs_with_script)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert html.count('<section class="term"') == len(docs.classes) + len(docs.properties)
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate HTML ids"


def test_build_writes_the_docs(tmp_path, monkeypatch):
    """`mlkg build` writes the documentation of the build it installs (validation stubbed)."""
    monkeypatch.setattr(build_module, "validate_dataset", lambda *args, **kwargs: [])
    from mlkg.config import Settings

    settings = Settings().with_overrides(var_dir=tmp_path / "var", data_dirs=(FIXTURE,))
    meta = build_module.build(settings, check_sources=False)
    path = ontodocs.docs_path(settings, meta)
    assert path.exists()
    html = path.read_text(encoding="utf-8")
    assert 'id="mlkg-Role"' in html and 'id="shape-mlkg-EscoMappingShape"' in html
    assert meta.id in html


def test_docs_are_generated_on_demand_when_the_build_did_not(tmp_path):
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    assert not ontodocs.docs_path(settings, meta).exists()
    path = ontodocs.current_docs(settings)
    assert path == ontodocs.docs_path(settings, meta) and path.exists()


def test_ontology_page_is_served_and_linked_from_every_page(fixture):
    from mlkg.web import create_app

    client = create_app({"TESTING": True, "SETTINGS": fixture[0]}).test_client()
    page = client.get("/ontology")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'id="mlkg-Role"' in page.data and b'id="shape-mlkg-EscoLinkShape"' in page.data
    assert b'<nav aria-label="Main">' in page.data and b'href="/ontology"' in page.data
    assert page.data.count(b"<html") == 1  # the fragment sits inside the one page layout
    assert (
        client.get("/ontology", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    )
    for path in ("/export", "/queries"):
        other = client.get(path, headers={"Accept": "text/html"})
        if other.status_code == 200:
            assert b'href="/ontology"' in other.data, path
