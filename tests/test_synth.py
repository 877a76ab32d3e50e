"""`mlkg synth`: synthetic graphs in mlkg's schema, as conforming as the curated data they copy."""

from __future__ import annotations

import re
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import RDFS

from mlkg.config import Settings
from mlkg.store import load_dataset, parse_turtle, union_graph
from mlkg.synth import synthesize, template, write_synthetic
from mlkg.validation import validate_graph


def _normal(text: str | None) -> str | None:
    return (
        None
        if text is None
        else re.sub(r" \(synthetic \d+\)", "", re.sub(r"(?<=[a-z0-9])z\d+(?![a-z0-9])", "", text))
    )


def test_synthetic_graph_conforms_as_the_data_does(tmp_path: Path) -> None:
    settings = Settings()
    fixed, copied = template(settings)
    synthetic = Graph()
    for triple in synthesize(fixed, copied, triples=len(fixed) + 3 * len(copied)):
        synthetic.add(triple)
    assert len(synthetic) == len(fixed) + 3 * len(copied)  # copies are disjoint
    ontology = Graph()
    for path in sorted(settings.ontology_dir.glob("*.ttl")):
        if path.name != "shapes.ttl":
            parse_turtle(path, ontology)
    shapes = parse_turtle(settings.ontology_dir / "shapes.ttl")
    found = {
        (_normal(v.focus), v.path, _normal(v.message), _normal(v.value))
        for v in validate_graph(synthetic, shapes, ontology)
    }
    copy_zero = Graph()  # the curated data itself, blank nodes skolemized as in the synthetic graph
    for triple in synthesize(fixed, copied, triples=len(fixed) + len(copied)):
        copy_zero.add(triple)
    original = {
        (v.focus, v.path, v.message, v.value) for v in validate_graph(copy_zero, shapes, ontology)
    }
    # Every problem of the synthetic graph is a problem the curated data has (none when it conforms).
    assert found <= {(_normal(f), p, _normal(m), _normal(v)) for f, p, m, v in original}


def test_synthetic_size_labels_and_determinism(tmp_path: Path) -> None:
    first, second = tmp_path / "a.nt", tmp_path / "b.nt"
    written = write_synthetic(first, triples=40_000, seed=3)
    write_synthetic(second, triples=40_000, seed=3)
    assert abs(written - 40_000) < 10_000
    assert first.read_bytes() == second.read_bytes()
    graph = Graph().parse(first, format="nt")
    assert len(graph) == written
    labels = [str(o) for s, o in graph.subject_objects(RDFS.label) if re.search(r"z1$", str(s))]
    assert labels and all(label.endswith("(synthetic 1)") for label in labels)
    data = union_graph(load_dataset(Settings().ontology_dir, Settings().data_dirs))
    classes = {
        o for o in data.objects(None, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"))
    }
    synthetic_classes = {
        o for o in graph.objects(None, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"))
    }
    assert classes <= synthetic_classes
