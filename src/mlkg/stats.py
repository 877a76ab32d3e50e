"""Counts per class of the data (entities typed directly with a class of the ontology)."""

from __future__ import annotations

from rdflib import RDF, RDFS, URIRef

from mlkg.config import Settings
from mlkg.store import load_dataset, union_graph


def class_counts(settings: Settings) -> list[tuple[str, URIRef, int]]:
    """(class label, class IRI, number of instances), largest first, for every class with instances."""
    graph = union_graph(load_dataset(settings.ontology_dir, settings.data_dirs))
    counts: dict[URIRef, int] = {}
    for _, cls in graph.subject_objects(RDF.type):
        if isinstance(cls, URIRef):
            counts[cls] = counts.get(cls, 0) + 1
    rows = []
    for cls, count in counts.items():
        if str(cls).startswith(("http://www.w3.org/2002/07/owl#", str(RDFS))):
            continue
        label = graph.value(cls, RDFS.label)
        rows.append((str(label) if label else graph.namespace_manager.normalizeUri(cls), cls, count))
    return sorted(rows, key=lambda r: (-r[2], r[0]))
