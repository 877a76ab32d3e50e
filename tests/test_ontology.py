"""ontology/mlkg.ttl: documented terms, version and licence, and every term the data and shapes
use."""

from __future__ import annotations

import pytest
from _foundation import ROOT
from rdflib import OWL, RDF, RDFS, Graph, URIRef
from rdflib.namespace import DCTERMS, SH

from mlkg.config import Settings
from mlkg.namespaces import MLKG
from mlkg.store import GRAPH_BASE, load_dataset, parse_turtle

ONTOLOGY_IRI = URIRef(str(MLKG))
TERM_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
# Vocabularies the data may use without the ontology declaring their terms.
REIFICATION = {RDF.Statement}


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse_turtle(ROOT / "ontology" / "mlkg.ttl")


@pytest.fixture(scope="module")
def data_graphs() -> list[tuple[str, Graph]]:
    """Each data file's graph, as loaded (spans expanded)."""
    settings = Settings()
    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    return [
        (str(g.identifier), g)
        for g in dataset.graphs()
        if str(g.identifier).startswith(GRAPH_BASE + "data/") and len(g)
    ]


def _terms(ontology: Graph) -> list[URIRef]:
    return sorted(
        {s for t in TERM_TYPES for s in ontology.subjects(RDF.type, t) if isinstance(s, URIRef)}
    )


def _declared(ontology: Graph) -> set[URIRef]:
    return set(_terms(ontology)) | {
        s for s in ontology.subjects(RDF.type, None) if isinstance(s, URIRef)
    }


def test_ontology_header(ontology: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    assert ontology.value(ONTOLOGY_IRI, OWL.versionInfo) is not None
    assert isinstance(ontology.value(ONTOLOGY_IRI, DCTERMS.license), URIRef)
    assert ontology.value(ONTOLOGY_IRI, RDFS.label) is not None


def test_every_term_has_an_english_label_and_comment(ontology: Graph) -> None:
    terms = [t for t in _terms(ontology) if str(t).startswith(str(MLKG))]
    assert len(terms) > 100
    missing = []
    for term in terms:
        labels = [
            o for o in ontology.objects(term, RDFS.label) if getattr(o, "language", None) == "en"
        ]
        comments = [
            o for o in ontology.objects(term, RDFS.comment) if getattr(o, "language", None) == "en"
        ]
        if len(labels) != 1 or len(comments) != 1:
            missing.append(str(term))
    assert missing == []


def test_individuals_are_documented_too(ontology: Graph) -> None:
    classes = set(ontology.subjects(RDF.type, OWL.Class))
    individuals = {s for c in classes for s in ontology.subjects(RDF.type, c)}
    assert MLKG.Annual in individuals and MLKG.TypicalRange in individuals
    assert all(
        ontology.value(i, RDFS.label) and ontology.value(i, RDFS.comment) for i in individuals
    )


def test_every_class_used_in_the_data_is_declared(ontology: Graph, data_graphs) -> None:
    """mlkg classes must be declared; other classes must be ones the ontology names (as a
    superclass, domain or range): a typo in a class IRI is caught here."""
    named = {o for o in ontology.objects() if isinstance(o, URIRef)} | set(_terms(ontology))
    undeclared = set()
    for name, graph in data_graphs:
        for cls in set(graph.objects(None, RDF.type)):
            if str(cls).startswith(("http://www.w3.org/ns/oa#",)):  # spans, described by the loader
                continue
            if str(cls).startswith(str(MLKG)):
                if (cls, RDF.type, OWL.Class) not in ontology:
                    undeclared.add((name, str(cls)))
            elif cls not in named and cls not in REIFICATION and cls != OWL.Axiom:
                undeclared.add((name, str(cls)))
    assert sorted(undeclared) == []


def test_every_mlkg_term_used_in_the_data_is_declared(ontology: Graph, data_graphs) -> None:
    declared = _declared(ontology) | {MLKG.skills, ONTOLOGY_IRI}
    unknown = set()
    for name, graph in data_graphs:
        for _, p, o in graph:
            for term in (p, o):
                if (
                    isinstance(term, URIRef)
                    and str(term).startswith(str(MLKG))
                    and term not in declared
                ):
                    unknown.add((name, str(term)))
    assert sorted(unknown) == []


def test_the_shapes_only_name_declared_terms(ontology: Graph) -> None:
    shapes = parse_turtle(ROOT / "ontology" / "shapes.ttl")
    declared = _declared(ontology) | {MLKG.skills}
    shape_names = set(shapes.subjects(RDF.type, SH.NodeShape))
    used = {
        o
        for p in (
            SH.targetClass,
            SH["class"],
            SH.path,
            SH.hasValue,
            SH.targetSubjectsOf,
            SH.targetObjectsOf,
        )
        for o in shapes.objects(None, p)
        if isinstance(o, URIRef) and str(o).startswith(str(MLKG))
    }
    used |= {
        o
        for lst in shapes.objects(None, SH["in"])
        for o in Graph.items(shapes, lst)
        if isinstance(o, URIRef) and str(o).startswith(str(MLKG))
    }
    assert len(used) > 60
    assert sorted(str(t) for t in used - declared - shape_names) == []


def test_subclass_targets_reach_subclasses(ontology: Graph) -> None:
    """The shapes rely on rdfs:subClassOf from the ontology: a programming language is a skill, a
    book a learning resource, a salary figure a Fact."""

    def ancestors(cls: URIRef) -> set[URIRef]:
        return set(ontology.transitive_objects(cls, RDFS.subClassOf))

    assert MLKG.Skill in ancestors(MLKG.ProgrammingLanguage)
    assert MLKG.LearningResource in ancestors(MLKG.Book)
    assert {MLKG.Fact} <= ancestors(MLKG.SalaryFigure) & ancestors(MLKG.CareerPathStep) & ancestors(
        MLKG.Exam
    )
