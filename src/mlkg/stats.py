"""Counts per class of the data (entities typed directly with a class of the ontology)."""

from __future__ import annotations

from rdflib import RDF, RDFS, URIRef

from mlkg.config import Settings
from mlkg.store import GRAPH_BASE, load_dataset, union_graph


def class_counts(settings: Settings) -> list[tuple[str, URIRef, int]]:
    """(class label, class IRI, number of instances), largest first, for classes used by the data files."""
    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    graph = union_graph(dataset)
    typed: set[tuple[URIRef, URIRef]] = set()
    for s, _, cls, g in dataset.quads((None, RDF.type, None, None)):
        if isinstance(cls, URIRef) and not str(g).startswith(GRAPH_BASE + "ontology/"):
            typed.add((s, cls))
    counts: dict[URIRef, int] = {}
    for _, cls in typed:
        counts[cls] = counts.get(cls, 0) + 1
    rows = []
    for cls, count in counts.items():
        if str(cls).startswith(("http://www.w3.org/2002/07/owl#", str(RDFS))):
            continue
        label = graph.value(cls, RDFS.label)
        rows.append((str(label) if label else graph.namespace_manager.normalizeUri(cls), cls, count))
    return sorted(rows, key=lambda r: (-r[2], r[0]))
