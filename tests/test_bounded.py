"""The bounded shape: which queries may run in the web process (mlkg.bounded), read from the same
tokens the endpoint's safety checks read."""

from __future__ import annotations

import pytest

from mlkg.bounded import SinglePattern
from mlkg.sparql import analyze

RDFS = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "


@pytest.mark.parametrize(
    ("query", "limit", "offset"),
    [
        ("SELECT ?p ?o WHERE { <http://e/a> ?p ?o }", None, 0),
        ("select ?p ?o { <http://e/a> ?p ?o . }", None, 0),
        ("SELECT * { ?s ?p ?o } LIMIT 5", 5, 0),
        ("SELECT ?s { ?s a <http://e/C> } OFFSET 3 LIMIT 2", 2, 3),
        (RDFS + 'SELECT ?s { ?s rdfs:label "Python"@en }', None, 0),
        (RDFS + 'SELECT ?s { ?s rdfs:label "5"^^<http://www.w3.org/2001/XMLSchema#integer> }', None, 0),
        ("SELECT ?s { ?s <http://e/n> 42 }", None, 0),
        ("SELECT $s { $s <http://e/ok> true }", None, 0),
        ("ASK { <http://e/a> ?p ?o }", None, 0),
        ("ASK WHERE { ?s ?p ?o }", None, 0),
    ],
)
def test_single_patterns_are_recognised(query: str, limit: int | None, offset: int) -> None:
    info = analyze(query)
    assert info is not None and info.pattern == SinglePattern(limit=limit, offset=offset)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?p { ?s ?p ?s }",  # a repeated variable: the scan skips entries
        "SELECT ?s { ?s ?p ?o FILTER(?o = 1) }",
        "SELECT DISTINCT ?p { ?s ?p ?o }",
        "SELECT REDUCED ?p { ?s ?p ?o }",
        "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
        "SELECT ?s { ?s ?p ?o } ORDER BY ?s",
        "SELECT ?s { ?s ?p ?o } GROUP BY ?s",
        "SELECT ?s { ?s ?p ?o . ?o ?q ?r }",
        "SELECT ?s { ?s ?p ?o ; ?q ?r }",
        "SELECT ?s { ?s ?p ?o , ?r }",
        "SELECT ?s { ?s <http://e/p>/<http://e/q> ?o }",
        "SELECT ?s { ?s <http://e/p>* ?o }",
        "SELECT ?s { ?s ^<http://e/p> ?o }",
        "SELECT ?s { ?s ?p [] }",
        "SELECT ?s { _:b ?p ?s }",
        "SELECT ?s { ?s ?p (1 2) }",
        "SELECT ?s { { ?s ?p ?o } }",
        "SELECT ?s { GRAPH ?g { ?s ?p ?o } }",
        "SELECT ?s { OPTIONAL { ?s ?p ?o } }",
        "SELECT ?s FROM <http://e/g> { ?s ?p ?o }",
        "SELECT ?x { ?s ?p ?o }",  # projects a variable the pattern lacks
        "SELECT ?s { ?s ?p ?o } LIMIT 5 LIMIT 6",
        "SELECT ?s { ?s ?p ?o } VALUES ?s { <http://e/a> }",
        "SELECT ?s { ?s ?p ?o } OFFSET 1.5",
        "CONSTRUCT WHERE { ?s ?p ?o }",
        "DESCRIBE <http://e/a>",
        "SELECT ?s { ?s ?p ?o",
        r"SELECT ?s { ?s ?p ?o } \u004FRDER BY ?s",  # escapes: the engine reads what we cannot
    ],
)
def test_other_shapes_are_not(query: str) -> None:
    info = analyze(query)
    assert info is None or info.pattern is None


def test_fits_bounds_rows_and_offset() -> None:
    assert SinglePattern(None, 0).fits(10_000, 10_000)
    assert not SinglePattern(None, 0).fits(10_001, 10_000)
    assert SinglePattern(50, 0).fits(None, 100)  # the query's own LIMIT bounds it
    assert not SinglePattern(None, 0).fits(None, 100)  # neither LIMIT nor cap
    assert not SinglePattern(10, 101).fits(None, 100)  # an OFFSET is read too
