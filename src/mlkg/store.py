"""Load the ontology and data files into one Dataset, one named graph per file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from rdflib import BNode, Dataset, Graph, Node, URIRef

from mlkg.errors import DataError
from mlkg.namespaces import BASE, PREFIXES
from mlkg.provenance import expand_spans

GRAPH_BASE = BASE + "graph/"


def graph_iri(path: Path) -> URIRef:
    """The named graph that holds one file's triples: BASE/graph/<folder>/<stem>."""
    return URIRef(f"{GRAPH_BASE}{path.parent.name}/{path.stem}")


def bind_prefixes(graph: Graph) -> Graph:
    """Bind mlkg's prefixes on `graph` and return it."""
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=True, replace=True)
    return graph


def parse_turtle(path: Path, graph: Graph | None = None) -> Graph:
    """Parse one Turtle file; DataError with the file and line if it is malformed."""
    graph = graph if graph is not None else Graph()
    try:
        graph.parse(path, format="turtle")
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from exc
    except Exception as exc:  # rdflib raises several parser error types; all mean "bad Turtle"
        message = str(exc)
        line = re.search(r"line (\d+)", message)
        where = f"{path}:{line.group(1)}" if line else str(path)
        first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        detail = re.sub(r"\s+", " ", message).strip()[:400] or first
        raise DataError(f"{where}: malformed Turtle: {detail}", file=str(path),
                        line=int(line.group(1)) if line else None) from exc
    return graph


def turtle_files(dirs: Iterable[Path]) -> list[Path]:
    """Every .ttl file under the given folders, in a stable order."""
    files: list[Path] = []
    for folder in dirs:
        if not folder.is_dir():
            raise DataError(f"{folder}: data folder not found", file=str(folder))
        files.extend(sorted(folder.glob("*.ttl")))
    return files


def is_shapes_file(path: Path) -> bool:
    """True for a SHACL shapes file of the ontology folder: ``shapes.ttl`` or ``shapes-<topic>.ttl``.

    >>> is_shapes_file(Path("ontology/shapes-esco.ttl")), is_shapes_file(Path("ontology/mlkg.ttl"))
    (True, False)
    """
    return path.suffix == ".ttl" and (path.stem == "shapes" or path.stem.startswith("shapes-"))


def shapes_files(ontology_dir: Path) -> list[Path]:
    """The shapes files of the ontology folder (shapes.ttl first), which are never loaded as data."""
    return sorted((p for p in ontology_dir.glob("shapes*.ttl") if is_shapes_file(p)),
                  key=lambda p: (p.name != "shapes.ttl", p.name))


def load_dataset(ontology_dir: Path, data_dirs: Iterable[Path]) -> Dataset:
    """Ontology, shapes excluded, and data: one named graph per file, spans expanded in their graph."""
    dataset = bind_prefixes(Dataset())
    data_dirs = list(data_dirs)
    data_files = turtle_files(data_dirs)
    if not data_files:  # the ontology alone would build, validate and go in service as the graph
        folders = ", ".join(str(folder) for folder in data_dirs)
        raise DataError(f"no data files (*.ttl) in {folders}: nothing to load "
                        "(is MLKG_HOME the project folder?)", file=folders)
    for path in turtle_files([ontology_dir]) + data_files:
        if is_shapes_file(path):
            continue
        graph = dataset.graph(graph_iri(path))
        parse_turtle(path, graph)
        expand_spans(graph)
    return dataset


def union_graph(dataset: Dataset) -> Graph:
    """All triples of the dataset in one plain rdflib Graph (what SHACL and the span check read)."""
    graph = bind_prefixes(Graph())
    for s, p, o, _ in dataset.quads((None, None, None, None)):
        graph.add((s, p, o))
    return graph


def source_file_of(dataset: Dataset) -> dict[Node, str]:
    """For each subject (IRI or blank node), the data file (graph name) it is first described in."""
    origin: dict[Node, str] = {}
    for s, _, _, g in dataset.quads((None, None, None, None)):
        if isinstance(s, (URIRef, BNode)) and s not in origin and g is not None:
            origin[s] = str(g).removeprefix(GRAPH_BASE)
    return origin
