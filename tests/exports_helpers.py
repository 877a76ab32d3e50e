"""Stores for the export, JSON-LD, VoID, ontology-docs and ESCO tests.

Built the way `mlkg build` writes them (default graph = union, one named graph per file, blank nodes
skolemized) but without the SHACL validation, so that the tests do not depend on the curators' data
being complete at any moment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, URIRef

from mlkg.build import StoreMeta, load_meta, skolemize, write_store
from mlkg.config import Settings
from mlkg.store import load_dataset

ROOT = Path(__file__).resolve().parents[1]
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
FIXTURE = ROOT / "tests" / "data" / "exports"
ESCO_FIXTURE = ROOT / "tests" / "data" / "esco"


def build_store(var_dir: Path, data_dirs: tuple[Path, ...]) -> tuple[Settings, StoreMeta]:
    """Write a store of the real ontology and `data_dirs` into `var_dir`, as var/current."""
    settings = Settings().with_overrides(var_dir=var_dir, data_dirs=data_dirs)
    write_store(settings, skolemize(load_dataset(settings.ontology_dir, settings.data_dirs)))
    return settings, load_meta(settings.store_link.resolve())


@lru_cache(maxsize=1)
def fixture_build(var_dir: str) -> tuple[Settings, StoreMeta]:
    """The fixture data (tests/data/exports) built once per session into `var_dir`."""
    return build_store(Path(var_dir), (FIXTURE,))


@lru_cache(maxsize=1)
def real_build(var_dir: str) -> tuple[Settings, StoreMeta]:
    """The real data (data/, as the curators have it now, unvalidated) built once per session."""
    return build_store(Path(var_dir), Settings().data_dirs)


def open_read_only(settings: Settings) -> ox.Store:
    """The store in service for `settings`, opened read-only."""
    return ox.Store.read_only(str(settings.store_link.resolve()))


def default_graph(store: ox.Store) -> set[ox.Triple]:
    """The triples of a store's default graph."""
    return {q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}


def named_graphs(store: ox.Store) -> dict[str, set[ox.Triple]]:
    """Each named graph of a store as a set of triples."""
    return {
        g.value: {q.triple for q in store.quads_for_pattern(None, None, None, g)}
        for g in store.named_graphs()
    }


def to_rdflib(term):
    """A pyoxigraph term as an rdflib term."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == XSD_STRING:  # RDF 1.1: a plain literal is an xsd:string
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def rdflib_graph(triples) -> Graph:
    """pyoxigraph triples as an rdflib Graph."""
    graph = Graph()
    for t in triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return graph


def rdflib_dataset_graphs(dataset: Dataset) -> dict[str, Graph]:
    """The named graphs of a parsed rdflib Dataset (by name) and its default graph (key '')."""
    graphs: dict[str, Graph] = {}
    for s, p, o, g in dataset.quads((None, None, None, None)):
        name = "" if g is None or str(g) == "urn:x-rdflib:default" else str(g)
        graphs.setdefault(name, Graph()).add((s, p, o))
    return graphs
