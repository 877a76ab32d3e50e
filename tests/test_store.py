"""mlkg.store: Turtle files into one Dataset, one named graph per file; clear errors for bad
files."""

from __future__ import annotations

from pathlib import Path

import pytest
from _foundation import MINI_DATA, ROOT
from rdflib import RDF, BNode, Graph, URIRef

from mlkg.errors import DataError
from mlkg.namespaces import MLKG, OA, PREFIXES, SOURCE
from mlkg.store import (
    GRAPH_BASE,
    bind_prefixes,
    graph_iri,
    load_dataset,
    parse_turtle,
    source_file_of,
    turtle_files,
    union_graph,
)

ONTOLOGY = ROOT / "ontology"
GOOD = "@prefix ex: <https://example.org/> .\nex:a ex:b ex:c .\n"


def test_graph_iri_names_folder_and_stem() -> None:
    assert graph_iri(Path("/x/data/doc-001a.ttl")) == URIRef(GRAPH_BASE + "data/doc-001a")
    assert graph_iri(Path("ontology/mlkg.ttl")) == URIRef(GRAPH_BASE + "ontology/mlkg")


def test_bind_prefixes_binds_every_prefix() -> None:
    graph = bind_prefixes(Graph())
    bound = {prefix: str(ns) for prefix, ns in graph.namespaces()}
    assert all(bound.get(prefix) == ns for prefix, ns in PREFIXES.items())


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (GOOD + "ex:a ex:b .\n", 3),  # a triple without an object
        (GOOD + '\n\nex:a ex:b "open string .\n', 5),  # an unterminated string
        ("ex:a ex:b ex:c .\n", 1),  # an undeclared prefix
    ],
)
def test_malformed_turtle_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "broken.ttl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        parse_turtle(path)
    assert info.value.detail.startswith(f"{path}:{line}: malformed Turtle")
    assert info.value.extra == {"file": str(path), "line": line}
    assert "Traceback" not in info.value.detail


def test_non_utf8_turtle_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.ttl"
    path.write_bytes(
        GOOD.encode()
        + '<https://example.org/x> <https://example.org/y> "café" .\n'.encode("latin-1")
    )
    with pytest.raises(DataError, match="not UTF-8 text"):
        parse_turtle(path)


def test_missing_file_and_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        parse_turtle(tmp_path / "absent.ttl")
    with pytest.raises(DataError, match="data folder not found"):
        turtle_files([tmp_path / "absent"])


def test_a_data_folder_without_data_files_is_a_clear_error(tmp_path: Path) -> None:
    """An empty data folder (or one of .ttl.bak files) loaded the ontology alone: `mlkg build`
    put a store without any data in service, and `mlkg validate` said it conformed."""
    (tmp_path / "notes.md").write_text("moved away", encoding="utf-8")
    with pytest.raises(DataError, match=r"no data files \(\*\.ttl\) in .*: nothing to load"):
        load_dataset(ONTOLOGY, [tmp_path])


def test_turtle_files_are_sorted_and_ttl_only(tmp_path: Path) -> None:
    for name in ("b.ttl", "a.ttl", "notes.md", "c.ttl.bak"):
        (tmp_path / name).write_text(GOOD, encoding="utf-8")
    assert [p.name for p in turtle_files([tmp_path])] == ["a.ttl", "b.ttl"]


def test_load_dataset_keeps_one_named_graph_per_file() -> None:
    dataset = load_dataset(ONTOLOGY, [MINI_DATA])
    names = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert {
        GRAPH_BASE + "ontology/mlkg",
        GRAPH_BASE + "data/doc-002",
        GRAPH_BASE + "data/sources",
    } <= names
    assert not any("shapes" in name for name in names)  # shapes files are never data
    doc = dataset.graph(URIRef(GRAPH_BASE + "data/doc-002"))
    assert (
        URIRef(SOURCE + "002_c3e35048ae458ff3/c126-132"),
        RDF.type,
        OA.SpecificResource,
    ) in doc  # spans in their file's graph
    sources = dataset.graph(URIRef(GRAPH_BASE + "data/sources"))
    assert (None, OA.hasSource, None) not in sources


def test_union_graph_holds_every_triple_once() -> None:
    dataset = load_dataset(ONTOLOGY, [MINI_DATA])
    union = union_graph(dataset)
    distinct = {(s, p, o) for s, p, o, _ in dataset.quads((None, None, None, None))}
    assert len(union) == len(distinct)
    assert (
        URIRef("https://w3id.org/mlkg/skill/python"),
        RDF.type,
        MLKG.ProgrammingLanguage,
    ) in union


def test_source_file_of_names_files_of_iris_and_blank_nodes() -> None:
    dataset = load_dataset(ONTOLOGY, [MINI_DATA])
    origin = source_file_of(dataset)
    assert origin[URIRef("https://w3id.org/mlkg/salary/002-ml-engineer-range")] == "data/doc-002"
    assert origin[URIRef("https://w3id.org/mlkg/source/002_c3e35048ae458ff3")] in {
        "data/sources",
        "data/doc-002",
    }
    assert origin[MLKG.Role] == "ontology/mlkg"
    statements = [s for s in union_graph(dataset).subjects(RDF.type, RDF.Statement)]
    assert statements and all(
        isinstance(s, BNode) and origin[s] == "data/doc-002" for s in statements
    )


def test_a_malformed_data_file_stops_loading(tmp_path: Path) -> None:
    (tmp_path / "good.ttl").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.ttl").write_text(GOOD + "ex:a ex:b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.ttl:\d+: malformed Turtle"):
        load_dataset(ONTOLOGY, [tmp_path])
