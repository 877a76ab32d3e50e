"""mlkg.provenance: span IRIs, the span check against the real source documents, coverage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _foundation import real_graphs, require_sources
from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from mlkg.config import Settings
from mlkg.errors import SourceError
from mlkg.namespaces import BASE, MLKG, OA, SCHEMA, SOURCE
from mlkg.provenance import (
    LABELS,
    Span,
    check_spans,
    describe_source,
    expand_spans,
    is_entity,
    load_texts,
    locate,
    measure_coverage,
    normalize,
    parse_span,
    read_source,
)

DOC = URIRef(SOURCE + "t1")


def span(start: int, end: int, doc: URIRef = DOC) -> URIRef:
    return URIRef(f"{doc}/c{start}-{end}")


# ---------------------------------------------------------------- the real documents


@pytest.fixture(scope="module")
def real_texts() -> dict[URIRef, str]:
    """The text of every source document the real data describes (fails in CI if they are
    missing)."""
    settings = Settings()
    require_sources(settings)
    return load_texts(real_graphs().data, settings.sources_dir)


def test_every_real_span_holds(real_texts: dict[URIRef, str]) -> None:
    graph = real_graphs().data
    assert len(real_texts) == 3
    problems = check_spans(graph, real_texts)
    assert [f"{p.node} {p.span}: {p.message}" for p in problems] == []
    assert sum(1 for _ in graph.subject_objects(MLKG.evidence)) > 500


def test_sources_ttl_describes_the_real_files() -> None:
    settings = Settings()
    folder = require_sources(settings)
    graph = real_graphs().data
    docs = sorted(graph.subjects(RDF.type, MLKG.SourceDocument))
    assert len(docs) == 3
    for doc in docs:
        count, digest = describe_source(folder, str(graph.value(doc, MLKG.fileName)))
        assert graph.value(doc, MLKG.characterCount).toPython() == count
        assert str(graph.value(doc, MLKG.sha256)) == digest


def test_a_real_statement_moved_to_another_span_is_caught(real_texts: dict[URIRef, str]) -> None:
    """A real reified statement whose evidence is moved to the document's first characters."""
    real = real_graphs().data
    statement = next(
        st
        for st in sorted(real.subjects(RDF.type, RDF.Statement), key=str)
        if isinstance(real.value(st, RDF.object), URIRef)
        and real.value(real.value(st, RDF.object), RDFS.label) is not None
        and str(real.value(real.value(st, RDF.object), RDFS.label)).lower()
        not in "machine learning engineer"
    )
    small = Graph()
    for p, o in real.predicate_objects(statement):
        small.add((statement, p, o))
    target = real.value(statement, RDF.object)
    for name in LABELS:  # a span may state the object by its label or an alternative one
        for label in real.objects(target, name):
            small.add((target, name, label))
    for doc in real.subjects(RDF.type, MLKG.SourceDocument):
        for p, o in real.predicate_objects(doc):
            small.add((doc, p, o))
    assert check_spans(small, real_texts) == []  # as the curators wrote it
    old = next(small.objects(statement, MLKG.evidence))
    small.remove((statement, MLKG.evidence, None))
    moved = URIRef(f"{parse_span(old).doc}/c0-3")
    small.add((statement, MLKG.evidence, moved))
    [problem] = check_spans(small, real_texts)
    assert problem.node == statement and problem.span == moved
    assert problem.message.startswith("span text does not state ")


def test_a_real_entity_pointed_beyond_its_document_is_caught(real_texts: dict[URIRef, str]) -> None:
    real = real_graphs().data
    entity = sorted(real.subjects(RDF.type, MLKG.University))[0]
    old = sorted(real.objects(entity, MLKG.evidence))[0]
    doc = parse_span(old).doc
    length = len(real_texts[doc])
    small = Graph()
    small.add((entity, RDFS.label, real.value(entity, RDFS.label)))
    beyond = URIRef(f"{doc}/c{length - 2}-{length + 40}")
    small.add((entity, MLKG.evidence, beyond))
    [problem] = check_spans(small, real_texts)
    assert (
        problem.message
        == f"offsets {length - 2}-{length + 40} lie outside the document ({length} characters)"
    )


def test_missing_source_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SourceError, match=r"not found in .*set MLKG_SOURCES"):
        read_source(tmp_path / "nowhere", "000_2e7917045f463258.txt")


def test_missing_sources_fail_in_ci(tmp_path, monkeypatch) -> None:
    """Outside CI a missing document folder skips the real-document tests; in CI it fails them."""
    settings = Settings().with_overrides(sources_dir=tmp_path / "nowhere")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="in CI the documents must be present"):
        require_sources(settings)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="source documents not found"):
        require_sources(settings)


# ---------------------------------------------------------------- span IRIs


def test_parse_span_reads_doc_stem_and_offsets() -> None:
    parsed = parse_span(URIRef(f"{SOURCE}001_0b6844ca2443a5b9/c2103-2111"))
    assert parsed == Span(
        URIRef(f"{SOURCE}001_0b6844ca2443a5b9"), "001_0b6844ca2443a5b9", 2103, 2111
    )
    assert parsed.iri == URIRef(f"{SOURCE}001_0b6844ca2443a5b9/c2103-2111")


@pytest.mark.parametrize(
    "text",
    [
        f"{SOURCE}001_x/2103-2111",  # no c
        f"{SOURCE}001_x/c2103",  # no end
        f"{SOURCE}001_x/c-5-10",  # negative
        f"{SOURCE}001_x/cab-cd",  # not numbers
        f"{SOURCE}001_x/c1-2/extra",  # trailing path
        f"{BASE}role/x",  # an entity
        "https://example.org/source/x/c1-2#frag",
    ],
)
def test_parse_span_rejects_other_iris(text: str) -> None:
    assert parse_span(URIRef(text)) is None


def test_expand_spans_describes_each_span_once() -> None:
    g = Graph()
    node = URIRef(BASE + "role/x")
    g.add((node, MLKG.evidence, span(3, 9)))
    g.add((URIRef(BASE + "role/y"), MLKG.evidence, span(3, 9)))
    g.add((node, MLKG.evidence, URIRef("https://example.org/page")))  # not a span: left alone
    assert expand_spans(g) == 2
    selector = URIRef(f"{span(3, 9)}#selector")
    assert (span(3, 9), RDF.type, OA.SpecificResource) in g
    assert (span(3, 9), OA.hasSource, DOC) in g
    assert (selector, OA.start, Literal(3, datatype=XSD.integer)) in g
    assert (selector, OA.end, Literal(9, datatype=XSD.integer)) in g
    assert (URIRef("https://example.org/page"), RDF.type, None) not in g


# ---------------------------------------------------------------- locate and normalize


def test_locate_finds_the_nth_occurrence_after_an_offset() -> None:
    text = "Python, R and Python again; Python"
    assert locate(text, "Python") == (0, 6)
    assert locate(text, "Python", nth=2) == (14, 20)
    assert locate(text, "Python", after=1) == (14, 20)
    assert locate(text, "Python", nth=2, after=1) == (28, 34)
    assert text[slice(*locate(text, "R"))] == "R"


def test_locate_raises_when_absent() -> None:
    with pytest.raises(ValueError, match="'Python' occurs only 3 times, not 4"):
        locate("Python, Python, Python", "Python", nth=4)
    with pytest.raises(ValueError, match="'Scala' does not occur$"):
        locate("abc", "Scala")
    with pytest.raises(ValueError, match="after offset 2"):
        locate("abc", "a", after=2)


@pytest.mark.parametrize(("needle", "nth", "after"), [("", 1, 0), ("a", 0, 0), ("a", -1, 0),
                                                      ("a", 1, -1)])
def test_locate_refuses_what_cannot_name_a_span(needle: str, nth: int, after: int) -> None:
    """Before, --nth 0 gave a span starting at -1 and an empty needle the empty span c0-0."""
    with pytest.raises(ValueError):
        locate("a text", needle, nth=nth, after=after)


def test_locate_counts_characters_not_bytes() -> None:
    text = "Aurélien Géron wrote it"
    assert locate(text, "Géron") == (9, 14)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Master’s  in\n Café", "master's in cafe"),  # noqa: RUF001
        ("“Quoted”", '"quoted"'),
        ("  TensorFlow\t", "tensorflow"),
        ("Aurélien Géron", "aurelien geron"),
    ],
)
def test_normalize_folds_case_accents_quotes_and_space(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
@settings(max_examples=300, deadline=None)
def test_normalize_of_ascii_text_is_the_full_fold(raw: str) -> None:
    """The ASCII shortcut answers as the full fold (NFKD, combining marks, quotes, white space)."""
    import re
    import unicodedata

    full = unicodedata.normalize("NFKD", raw)
    full = "".join(c for c in full if not unicodedata.combining(c))
    assert normalize(raw) == re.sub(r"\s+", " ", full).strip().casefold()


# ---------------------------------------------------------------- the span check on small texts

TEXT = (
    "Machine learning engineers earn a median of $108,020 a year.\n"
    "They use Python and TensorFlow.\n"
    "\n"
    "Growth was 344% between 2015 and 2018.\n"
)


def _graph(*triples) -> Graph:
    g = Graph()
    for t in triples:
        g.add(t)
    return g


def _at(needle: str, nth: int = 1) -> URIRef:
    return span(*locate(TEXT, needle, nth=nth))


def test_label_in_span_holds() -> None:
    node = URIRef(BASE + "skill/python")
    g = _graph(
        (node, RDFS.label, Literal("Python", lang="en")), (node, MLKG.evidence, _at("Python"))
    )
    assert check_spans(g, {DOC: TEXT}) == []


def test_label_not_in_span_fails() -> None:
    node = URIRef(BASE + "skill/python")
    g = _graph(
        (node, RDFS.label, Literal("Python", lang="en")), (node, MLKG.evidence, _at("TensorFlow"))
    )
    [problem] = check_spans(g, {DOC: TEXT})
    assert (problem.node, problem.message) == (node, "span text does not state 'Python'")


def test_most_words_of_a_descriptive_label_hold() -> None:
    node = URIRef(BASE + "role/machine-learning-engineer")
    g = _graph(
        (node, RDFS.label, Literal("machine learning engineer", lang="en")),
        (node, MLKG.evidence, _at("Machine learning engineers")),
    )
    assert check_spans(g, {DOC: TEXT}) == []


def test_fact_node_holds_by_one_of_its_figures() -> None:
    node = URIRef(BASE + "salary/x")
    g = _graph(
        (node, RDF.type, MLKG.SalaryFigure),
        (MLKG.SalaryFigure, RDFS.subClassOf, MLKG.Fact),
        (node, RDFS.label, Literal("median ML engineer pay", lang="en")),
        (node, SCHEMA.value, Literal("108020.0", datatype=XSD.decimal)),
        (node, MLKG.evidence, _at("$108,020")),
    )
    assert check_spans(g, {DOC: TEXT}) == []
    g.set((node, SCHEMA.value, Literal("108021.0", datatype=XSD.decimal)))
    [problem] = check_spans(g, {DOC: TEXT})
    assert problem.message == "span text does not state 'median ML engineer pay'"


def test_numbers_do_not_match_inside_longer_numbers() -> None:
    node = URIRef(BASE + "growth/x")
    g = _graph(
        (node, RDF.type, MLKG.GrowthStatistic),
        (MLKG.GrowthStatistic, RDFS.subClassOf, MLKG.Fact),
        (node, MLKG.percentChange, Literal("34.0", datatype=XSD.decimal)),
        (node, MLKG.evidence, _at("344%")),
    )
    assert len(check_spans(g, {DOC: TEXT})) == 1
    g.set((node, MLKG.percentChange, Literal("344.0", datatype=XSD.decimal)))
    assert check_spans(g, {DOC: TEXT}) == []


def test_statement_holds_when_its_span_states_the_object() -> None:
    role, skill, st = URIRef(BASE + "role/x"), URIRef(BASE + "skill/tensorflow"), BNode()
    g = _graph(
        (skill, RDFS.label, Literal("TensorFlow", lang="en")),
        (st, RDF.type, RDF.Statement),
        (st, RDF.subject, role),
        (st, RDF.predicate, MLKG.usesTechnology),
        (st, RDF.object, skill),
        (st, MLKG.evidence, _at("TensorFlow")),
    )
    assert check_spans(g, {DOC: TEXT}) == []
    g.set((st, MLKG.evidence, _at("Python")))
    [problem] = check_spans(g, {DOC: TEXT})
    assert (problem.node, problem.message) == (st, "span text does not state 'TensorFlow'")


def test_statement_with_a_literal_value() -> None:
    growth, st = URIRef(BASE + "growth/x"), BNode()
    g = _graph(
        (st, RDF.type, RDF.Statement),
        (st, RDF.subject, growth),
        (st, RDF.predicate, MLKG.startYear),
        (st, RDF.object, Literal("2015", datatype=XSD.gYear)),
        (st, MLKG.evidence, _at("2015")),
    )
    assert check_spans(g, {DOC: TEXT}) == []
    g.set((st, MLKG.evidence, _at("2018")))
    assert len(check_spans(g, {DOC: TEXT})) == 1


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        (span(40, 400), "offsets 40-400 lie outside the document ("),
        # an empty or reversed span was said to "lie outside the document"
        (span(9, 9), "offsets 9-9 are empty or reversed: the end offset is exclusive and must exceed"),
        (span(20, 10), "offsets 20-10 are empty or reversed: the end offset is exclusive and must"),
        (span(0, 5, URIRef(SOURCE + "t9")), f"span names an unknown source document <{SOURCE}t9>"),
        (
            URIRef("https://example.org/page"),
            "evidence <https://example.org/page> is not a span IRI",
        ),
    ],
)
def test_bad_spans_are_reported(evidence: URIRef, message: str) -> None:
    node = URIRef(BASE + "skill/python")
    g = _graph((node, RDFS.label, Literal("Python", lang="en")), (node, MLKG.evidence, evidence))
    [problem] = check_spans(g, {DOC: TEXT})
    assert problem.message.startswith(message)
    assert problem.span == evidence


# ---------------------------------------------------------------- coverage and entities


def test_coverage_counts_content_lines_touched_by_a_span() -> None:
    node = URIRef(BASE + "skill/python")
    g = _graph((node, MLKG.evidence, _at("Python")))
    [cov] = measure_coverage(g, {DOC: TEXT})
    assert (cov.lines, cov.covered_lines) == (3, 1)
    assert [n for n, _ in cov.uncovered] == [1, 4]
    assert cov.ratio == pytest.approx(1 / 3)
    [ignored] = measure_coverage(g, {DOC: TEXT}, ignore=["Growth was 344% between 2015 and 2018."])
    assert (ignored.lines, ignored.covered_lines) == (2, 1)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (URIRef(BASE + "role/x"), True),
        (URIRef(str(MLKG) + "Role"), False),
        (span(1, 2), False),
        (URIRef("http://schema.org/Person"), False),
        (Literal("x"), False),
    ],
)
def test_is_entity(term, expected: bool) -> None:
    assert is_entity(term) is expected
