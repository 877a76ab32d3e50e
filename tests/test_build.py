"""mlkg.build: deterministic stores, swapped in atomically; a failing build keeps the previous
store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from _foundation import ROOT, mini_settings
from rdflib import BNode

from mlkg.build import (
    GENID,
    KEEP_STORES,
    build,
    current_store,
    load_meta,
    skolemize,
)
from mlkg.config import Settings
from mlkg.errors import DataError, StoreError, ValidationFailedError
from mlkg.store import GRAPH_BASE, load_dataset

DOC = "doc-002.ttl"


def _edit(settings: Settings, old: str, new: str) -> None:
    path = settings.data_dirs[0] / DOC
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _in_service(settings: Settings) -> tuple[Path, int]:
    """The store `var/current` points at, and how many default-graph triples it answers with."""
    folder = current_store(settings)
    store = ox.Store.read_only(str(folder))
    count = len(list(store.quads_for_pattern(None, None, None, ox.DefaultGraph())))
    return folder, count


def _stores(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.var_dir / "stores").iterdir())


@pytest.fixture()
def mini(tmp_path: Path) -> Settings:
    """The mini fixture (document 002's facts) copied into a private folder, with a private var/."""
    return mini_settings(tmp_path)


# ---------------------------------------------------------------- determinism


def test_two_builds_of_the_same_data_are_identical(tmp_path: Path) -> None:
    metas, dumps = [], []
    for name in ("a", "b"):
        settings = mini_settings(tmp_path / name)
        metas.append(build(settings))
        store = ox.Store.read_only(str(current_store(settings)))
        dumps.append(sorted(str(q) for q in store))
    first, second = metas
    assert (first.id, first.content_hash, first.triples, first.quads, first.graphs) == (
        second.id,
        second.content_hash,
        second.triples,
        second.quads,
        second.graphs,
    )
    assert dumps[0] == dumps[1] and len(dumps[0]) == first.quads


def test_real_data_builds_to_the_same_store_twice(built: Settings, tmp_path: Path) -> None:
    """The real data (built once for the session by conftest) builds again to the same id and
    hash."""
    first = load_meta(current_store(built))
    again = build(Settings().with_overrides(var_dir=tmp_path / "var"))
    assert (again.id, again.content_hash, again.triples) == (
        first.id,
        first.content_hash,
        first.triples,
    )


def test_skolemization_is_deterministic_and_complete(mini: Settings) -> None:
    runs = [skolemize(load_dataset(mini.ontology_dir, mini.data_dirs)) for _ in range(2)]
    assert sorted(map(str, runs[0])) == sorted(map(str, runs[1]))
    terms = [t for quad in runs[0] for t in quad[:3]]
    assert not any(isinstance(t, BNode) for t in terms)
    assert any(str(t).startswith(GENID) for t in terms)


def test_rebuilding_unchanged_data_reuses_the_store(mini: Settings) -> None:
    first = build(mini)
    second = build(mini)
    assert second.id == first.id
    assert _stores(mini) == [first.id]
    assert current_store(mini).name == first.id


def test_a_build_writes_the_entity_index_of_its_store(mini: Settings) -> None:
    from mlkg.search import index_file_name, read_index_file

    meta = build(mini)
    index = read_index_file(mini.var_dir / "cache" / meta.id / index_file_name(mini.base_iri))
    labelled = [e for e in index.entries.values() if e.label]
    assert labelled and all(e.iri.startswith(mini.base_iri) for e in index.entries.values())


def test_the_entity_index_is_there_before_current_points_at_the_store(
    mini: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was written after the swap: a server that noticed the new store in between had its
    entity pages and searches wait for it (~11 s at 1M triples)."""
    import mlkg.build as build_module
    from mlkg.search import index_file_name

    seen: list[bool] = []
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == mini.store_link:
            store = Path(os.readlink(src)).name
            seen.append((mini.var_dir / "cache" / store / index_file_name(mini.base_iri)).exists())
        return real_replace(src, dst)

    monkeypatch.setattr(build_module.os, "replace", replace)
    build(mini)
    assert seen == [True]


def test_store_holds_the_union_and_one_graph_per_file(mini: Settings) -> None:
    meta = build(mini)
    folder = current_store(mini)
    assert load_meta(folder) == meta
    store = ox.Store.read_only(str(folder))
    default = list(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    assert len(default) == meta.triples
    names = {str(g.value) for g in store.named_graphs()}
    assert len(names) == meta.graphs
    assert {
        GRAPH_BASE + "data/doc-002",
        GRAPH_BASE + "data/sources",
        GRAPH_BASE + "ontology/mlkg",
    } <= names
    assert len(list(store)) == meta.quads
    assert not any(
        isinstance(q.subject, ox.BlankNode) or isinstance(q.object, ox.BlankNode) for q in default
    )
    sources = ox.NamedNode(GRAPH_BASE + "data/sources")
    doc = ox.NamedNode("https://w3id.org/mlkg/source/002_c3e35048ae458ff3")
    assert list(store.quads_for_pattern(doc, None, None, sources))


# ------------------------------------------------------- failing builds keep the previous store


def test_invalid_data_keeps_the_previous_store(mini: Settings) -> None:
    build(mini)
    before = _in_service(mini)
    _edit(mini, 'schema:minValue "69000"^^xsd:decimal', 'schema:minValue "169000"^^xsd:decimal')
    with pytest.raises(ValidationFailedError) as info:
        build(mini)
    detail = info.value.detail
    assert detail.startswith("1 violation(s); the previous store is unchanged:")
    assert (
        "data/doc-002: <https://w3id.org/mlkg/salary/002-ml-engineer-range>: the range's minimum "
        "169000 "
        "is above its maximum 150000"
    ) in detail
    assert _in_service(mini) == before


def test_a_span_that_does_not_state_its_value_fails_the_build(mini: Settings) -> None:
    build(mini)
    before = _in_service(mini)
    _edit(
        mini,
        "mlkg:evidence d2:c994-1000 .\n\n<org/forbes>",
        "mlkg:evidence d2:c1002-1012 .\n\n<org/forbes>",
    )
    with pytest.raises(
        ValidationFailedError,
        match=r"industry/retail> mlkg:evidence: span text does not state 'retail'",
    ):
        build(mini)
    assert _in_service(mini) == before


def test_malformed_turtle_names_file_and_line_and_keeps_the_store(mini: Settings) -> None:
    build(mini)
    before = _in_service(mini)
    _edit(
        mini,
        "<org/forbes> a mlkg:Company ;",
        '<org/forbes> a mlkg:Company ;;\n    rdfs:label "x"@en "y" ;',
    )
    with pytest.raises(DataError) as info:
        build(mini)
    path = mini.data_dirs[0] / DOC
    assert info.value.detail.startswith(f"{path}:")
    assert ": malformed Turtle" in info.value.detail
    line = info.value.extra["line"]
    assert isinstance(line, int) and 30 <= line <= 45
    assert _in_service(mini) == before


def test_failure_while_writing_leaves_no_half_written_store(
    mini: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlkg.build as build_module

    first = build(mini)
    before = _in_service(mini)
    _edit(
        mini, 'rdfs:label "retail"@en ;', 'rdfs:label "retail"@en ; skos:altLabel "retailing"@en ;'
    )

    def failing_fill(path: Path, quads: list) -> None:
        path.mkdir()
        (path / "half-written").write_bytes(b"\0" * 1024)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_module, "_fill", failing_fill)
    with pytest.raises(
        StoreError, match="No space left on device; the previous store is still in service"
    ):
        build(mini)
    assert _in_service(mini) == before
    assert _stores(mini) == [first.id]  # no temporary folder left, no second store


KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
import mlkg.build as b
from mlkg.config import Settings

settings = Settings().with_overrides(data_dirs=(Path(sys.argv[1]),), var_dir=Path(sys.argv[2]))
real_fill = b._fill

def dying_fill(path, quads):
    real_fill(path, quads[: len(quads) // 2])
    os.kill(os.getpid(), signal.SIGKILL)  # killed half-way through writing, no clean-up

b._fill = dying_fill
b.build(settings, check_sources=False)
"""


def test_a_build_killed_while_writing_leaves_the_previous_store(mini: Settings) -> None:
    first = build(mini)
    before = _in_service(mini)
    _edit(
        mini, 'rdfs:label "retail"@en ;', 'rdfs:label "retail"@en ; skos:altLabel "retailing"@en ;'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(mini.data_dirs[0]), str(mini.var_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _in_service(mini) == before
    leftovers = [name for name in _stores(mini) if name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the dead build's half-written folder, never in service

    second = build(mini)  # the next build succeeds and removes what the dead one left
    assert second.id != first.id
    assert current_store(mini).name == second.id
    assert not [name for name in _stores(mini) if name.startswith(".")]


OTHER_BUILD = """
import sys
from pathlib import Path
import mlkg.build as b
from mlkg.config import Settings

b.build(Settings().with_overrides(data_dirs=(Path(sys.argv[1]),), var_dir=Path(sys.argv[2])),
        check_sources=False)
"""


def test_two_builds_of_the_same_data_at_once_keep_the_store_the_first_one_installed(
    mini: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build that finished second deleted the store the first had put in service (and a
    server may have opened) and renamed its own copy over it."""
    import mlkg.build as build_module

    real_fill = build_module._fill
    installed: list[int] = []

    def fill_while_another_build_finishes(path: Path, quads: list) -> None:
        real_fill(path, quads)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        subprocess.run(
            [sys.executable, "-c", OTHER_BUILD, str(mini.data_dirs[0]), str(mini.var_dir)],
            env=env, check=True, timeout=120,
        )
        installed.append(current_store(mini).stat().st_ino)

    monkeypatch.setattr(build_module, "_fill", fill_while_another_build_finishes)
    meta = build(mini, check_sources=False)
    assert current_store(mini).name == meta.id
    assert current_store(mini).stat().st_ino == installed[0]  # the same folder, never replaced
    assert _stores(mini) == [meta.id]  # and no temporary folder left


def test_old_stores_are_pruned_but_the_current_one_stays(mini: Settings) -> None:
    ids = []
    for n in range(KEEP_STORES + 1):
        _edit(
            mini,
            'rdfs:label "retail"@en ;',
            f'rdfs:label "retail"@en ; skos:altLabel "retail {n}"@en ;',
        )
        ids.append(build(mini, check_sources=False).id)
    kept = _stores(mini)
    assert len(kept) == KEEP_STORES
    assert ids[-1] in kept and current_store(mini).name == ids[-1]
    assert ids[0] not in kept


# ---------------------------------------------------------------- no store yet


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings().with_overrides(var_dir=tmp_path)
    with pytest.raises(StoreError, match=r"no built store .* run `mlkg build` first"):
        current_store(settings)
    (tmp_path / "broken").mkdir()
    with pytest.raises(StoreError, match=r"has no readable meta\.json"):
        load_meta(tmp_path / "broken")


def test_skolemize_names_blank_nodes_by_content_and_survives_cycles() -> None:
    """Equal content gives equal IRIs across parses; a blank-node cycle does not recurse forever."""
    from rdflib import Dataset

    from mlkg.build import GENID, skolemize

    text = """@prefix ex: <http://example.org/> .
    ex:s ex:p [ ex:q "v" ] .
    _:a ex:next _:b . _:b ex:next _:a ."""
    first, second = Dataset(), Dataset()
    first.default_graph.parse(data=text, format="turtle")
    second.default_graph.parse(data=text, format="turtle")
    one, two = skolemize(first), skolemize(second)
    assert sorted(map(str, one)) == sorted(map(str, two))
    assert all(str(term).startswith(GENID) for q in one for term in (q[0], q[2])
               if not str(term).startswith(("http://example.org/", "v")))
