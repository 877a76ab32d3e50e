"""Helpers of the foundation tests: the real graph loaded once, small extracts of it, and the
mini fixture.

The shape tests validate small graphs (the ontology plus the few triples around one real entity),
not the whole data each time; `extract` cuts such a graph out of the real data.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, Dataset, Graph, URIRef

from mlkg.config import Settings
from mlkg.namespaces import MLKG
from mlkg.provenance import expand_spans, is_entity
from mlkg.store import bind_prefixes, load_dataset, parse_turtle, union_graph

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
MINI_DATA = TESTS / "data" / "foundation" / "data"


@dataclass(frozen=True)
class RealGraphs:
    """The real data (union of all files, spans expanded), the ontology and the shapes."""

    dataset: Dataset
    data: Graph
    ontology: Graph
    shapes: Graph


def _shapes_paths(ontology_dir: Path) -> list[Path]:
    try:
        from mlkg.store import shapes_files
    except ImportError:  # older store.py: shapes.ttl only
        return [ontology_dir / "shapes.ttl"]
    return shapes_files(ontology_dir)


def load_ontology(settings: Settings) -> Graph:
    """The ontology files (shapes excluded) in one graph."""
    graph = Graph()
    shapes = set(_shapes_paths(settings.ontology_dir))
    for path in sorted(settings.ontology_dir.glob("*.ttl")):
        if path not in shapes:
            parse_turtle(path, graph)
    return graph


def load_shapes(settings: Settings) -> Graph:
    """Every shapes file of the ontology folder in one graph."""
    graph = Graph()
    for path in _shapes_paths(settings.ontology_dir):
        parse_turtle(path, graph)
    return graph


@functools.cache
def real_graphs() -> RealGraphs:
    """Load the project's real data, ontology and shapes (once per test session)."""
    settings = Settings()
    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    return RealGraphs(dataset, union_graph(dataset), load_ontology(settings), load_shapes(settings))


def instances(graph: Graph, cls: URIRef, having: tuple[URIRef, ...] = ()) -> list[URIRef]:
    """Entities typed directly with `cls` that have every property in `having`, in IRI order."""
    return sorted(
        s
        for s in set(graph.subjects(RDF.type, cls))
        if isinstance(s, URIRef) and all((s, p, None) in graph for p in having)
    )


def _copy_subject(source: Graph, target: Graph, node) -> None:
    for triple in source.triples((node, None, None)):
        target.add(triple)


def _copy_brief(source: Graph, target: Graph, node) -> None:
    for p in (RDF.type, RDFS.label):
        for o in source.objects(node, p):
            target.add((node, p, o))


def _is_fact(graph: Graph, node) -> bool:
    return any(
        (cls, RDFS.subClassOf, MLKG.Fact) in graph or cls == MLKG.Fact
        for cls in graph.objects(node, RDF.type)
    )


def extract(graph: Graph, focus: URIRef) -> Graph:
    """The triples around `focus`: its own, the statements about it, the type and label of its
    neighbours (both directions) and their links to it, neighbours that are mlkg:Fact nodes in
    full (with the type and label of their own neighbours), and the source documents. Spans are
    described as the loader does. Only the focus is complete: its neighbours may not conform."""
    small = bind_prefixes(Graph())
    _copy_subject(graph, small, focus)
    for statement in graph.subjects(RDF.subject, focus):
        _copy_subject(graph, small, statement)
    neighbours = {o for o in graph.objects(focus) if is_entity(o)}
    neighbours |= {s for s in graph.subjects(None, focus) if is_entity(s)}
    for node in neighbours:
        _copy_brief(graph, small, node)
        for p in graph.predicates(node, focus):
            small.add((node, p, focus))
        if _is_fact(graph, node):
            _copy_subject(graph, small, node)
            for second in graph.objects(node):
                if is_entity(second):
                    _copy_brief(graph, small, second)
    for doc in graph.subjects(RDF.type, MLKG.SourceDocument):
        _copy_subject(graph, small, doc)
    expand_spans(small)
    return small


def mini_settings(tmp_path: Path, *, data: Path = MINI_DATA) -> Settings:
    """Settings over a private copy of a data folder (default: the mini fixture) and a private
    var/. Builds check spans against the source documents: without them this skips (fails in CI)."""
    settings = Settings()
    require_sources(settings)
    folder = tmp_path / "data"
    shutil.copytree(data, folder, ignore=shutil.ignore_patterns("README.md"))
    return settings.with_overrides(data_dirs=(folder,), var_dir=tmp_path / "var")


def require_sources(settings: Settings) -> Path:
    """The folder of the source documents; skip outside CI if it is missing, fail in CI."""
    folder = settings.sources_dir
    names = ["000_2e7917045f463258.txt", "001_0b6844ca2443a5b9.txt", "002_c3e35048ae458ff3.txt"]
    if all((folder / name).is_file() for name in names):
        return folder
    reason = f"source documents not found in {folder} (set MLKG_SOURCES)"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason}; in CI the documents must be present")
    pytest.skip(reason)
