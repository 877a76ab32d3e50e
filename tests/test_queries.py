"""mlkg.queries: reading query files (header, parameters), checking values, and binding them as RDF
terms so that no value, however hostile, changes what a query means."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from mlkg._sparql_scan import ScanError, scan
from mlkg.catalogue_run import run_canned
from mlkg.errors import ParameterError, QueryFileError
from mlkg.queries import (
    CannedQuery,
    is_iri,
    load_catalogue,
    load_query,
    parse_variable,
    sparql_term,
    values_block,
)

ROOT = Path(__file__).resolve().parents[1]
EX = "http://example.org/"

GOOD = """\
#+ summary: Things under a price
#+ description: >
#+   Things cheaper than `maxPrice`.
#+ tags: [things, prices]
#+ defaults:
#+   - maxPrice: 250
#+ enumerate:
#+   - colour:
#+     - ex:red
#+     - ex:blue
#+ x-choices:
#+   maker: ex:Maker
#+ x-note: anything local
#+ pagination: 2

PREFIX ex: <http://example.org/>
SELECT ?thing ?price WHERE {   # the WHERE group; a comment with { braces }
  ?thing ex:price ?price ; ex:label "a } brace" .
  OPTIONAL { ?thing ex:colour ?c }
  FILTER(?price < ?_maxPrice_number)
  FILTER(!BOUND(?__colour_iri) || ?c = ?__colour_iri)
  FILTER(!BOUND(?__maker_iri) || EXISTS { ?thing ex:maker ?__maker_iri })
} ORDER BY ?price ?thing
"""


def write(tmp_path: Path, text: str, name: str = "things_under_price") -> Path:
    path = tmp_path / f"{name}.rq"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def broken(tmp_path: Path, text: str) -> QueryFileError:
    with pytest.raises(QueryFileError) as info:
        load_query(write(tmp_path, text))
    return info.value


class MemoryBackend:
    """The backend contract over an in-memory pyoxigraph store (for unit tests)."""

    def __init__(self, turtle: str) -> None:
        self.store = ox.Store()
        self.store.load(turtle.encode(), format=ox.RdfFormat.TURTLE)
        self.queries: list[str] = []

    def run(self, query: str, *, result_format: str, substitutions=None, timeout=None):
        assert result_format == "json"
        self.queries.append(query)
        body = self.store.query(query).serialize(format=ox.QueryResultsFormat.JSON)
        return SimpleNamespace(
            body=body, media_type="application/sparql-results+json", form="SELECT"
        )


# ---------------------------------------------------------------- reading files


def test_a_good_file_loads_with_its_header_and_parameters(tmp_path):
    query = load_query(write(tmp_path, GOOD))
    assert (query.name, query.form, query.summary) == (
        "things_under_price",
        "SELECT",
        "Things under a price",
    )
    assert query.description == "Things cheaper than `maxPrice`."
    assert query.tags == ("things", "prices")
    assert query.page_size == 2
    assert query.extensions == {"x-choices": {"maker": "ex:Maker"}, "x-note": "anything local"}
    params = {p.name: p for p in query.parameters}
    assert [p.name for p in query.parameters] == ["maxPrice", "colour", "maker"]
    assert (params["maxPrice"].required, params["maxPrice"].kind, params["maxPrice"].needed) == (
        True,
        "number",
        False,
    )
    assert params["maxPrice"].default == Literal("250", datatype=XSD.decimal)
    assert params["colour"].enum == (URIRef(EX + "red"), URIRef(EX + "blue"))
    assert params["maker"].choices_from == (URIRef(EX + "Maker"),)
    assert not params["colour"].required


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("_maxPrice_number", ("maxPrice", True, "number", XSD.decimal, None)),
        ("_n_decimal", ("n", True, "number", XSD.decimal, None)),
        ("__count_integer", ("count", False, "integer", XSD.integer, None)),
        ("_thing_iri", ("thing", True, "iri", None, None)),
        ("_text_literal", ("text", True, "literal", XSD.string, None)),
        ("__label_en", ("label", False, "language", None, "en")),
        ("_when_xsd_date", ("when", True, "xsd", XSD.date, None)),
        ("_trainingSet_iri", ("trainingSet", True, "iri", None, None)),
    ],
)
def test_grlc_parameter_names(variable, expected):
    assert parse_variable(variable) == expected


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("_name", "declare a type"),
        ("_training_set_iri", "unknown parameter type 'set_iri'"),
        ("_when_xsd_duration", "unknown type xsd:duration"),
        ("___x_iri", "one underscore"),
        ("_page_integer", "reserved"),
        ("_format_literal", "reserved"),
    ],
)
def test_bad_parameter_names(variable, message):
    with pytest.raises(ValueError, match=message):
        parse_variable(variable)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("#+ summary: [unclosed\nSELECT * WHERE { ?s ?p ?o }\n", 1, "bad YAML"),
        (  # the header loader is a safe one: no Python objects from a query file
            ("#+ summary: ok\n#+ tags: !!python/object/apply:os.getcwd []\n"
             "SELECT * WHERE { ?s ?p ?o }\n"),
            2,
            "bad YAML",
        ),
        (
            "#+ summary: ok\n#+ tags: [a]\n#+ endpoint: http://x\nSELECT * WHERE { ?s ?p ?o }\n",
            3,
            "unknown header key 'endpoint'",
        ),
        ("#+ description: no summary\nSELECT * WHERE { ?s ?p ?o }\n", None, "needs a 'summary'"),
        (
            "#+ summary: ok\nSELECT * WHERE {\n  ?s ?p ?o .\n  BIND(1 AS 2)\n  ?a ?b ?c\n}\n",
            4,
            "unparseable SPARQL",
        ),
        ("#+ summary: ok\nSELECT * WHERE {\n  ?s ?p ?_name .\n}\n", 3, "declare a type"),
        (
            "#+ summary: ok\nSELECT * WHERE {\n  ?s ?p ?_x_wibble .\n}\n",
            3,
            "unknown parameter type",
        ),
        ("#+ summary: ok\nSELECT * WHERE { ?s ?p ?_x_iri . ?s ?q ?__x_iri }\n", 2, "written both"),
        (
            "#+ summary: ok\n#+ defaults:\n#+   - nope: 1\nSELECT * WHERE { ?s ?p ?o }\n",
            2,
            "not a parameter",
        ),
        (
            "#+ summary: ok\n#+ defaults:\n#+   - n: abc\nSELECT * WHERE { ?s ?p ?_n_integer }\n",
            2,
            "must be an integer",
        ),
        (
            "#+ summary: ok\n#+ enumerate:\n#+   - n\nSELECT * WHERE { ?s ?p ?_n_iri }\n",
            2,
            "static lists only",
        ),
        (
            "#+ summary: ok\n#+ x-choices:\n#+   n: ex:C\nSELECT * WHERE { ?s ?p ?_n_integer }\n",
            2,
            "only iri",
        ),
        (
            "#+ summary: ok\n#+ pagination: 10\nSELECT * WHERE { ?s ?p ?o } LIMIT 3\n",
            2,
            "own LIMIT",
        ),
        (
            "#+ summary: ok\n#+ pagination: 0\nSELECT * WHERE { ?s ?p ?o }\n",
            2,
            "pagination must be",
        ),
        ("#+ summary: ok\n#+ method: POST\nSELECT * WHERE { ?s ?p ?o }\n", 2, "method must be GET"),
        (
            "#+ summary: ok\nCONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }\n",
            2,
            "CONSTRUCT queries cannot be canned",
        ),
        (
            "#+ summary: ok\nSELECT * WHERE {\n  SERVICE <http://x/sparql> { ?s ?p ?o }\n}\n",
            3,
            "SERVICE is not allowed",
        ),
        (
            "#+ summary: ok\nSELECT ?n WHERE {\n"
            " { SELECT (COUNT(*) AS ?n) WHERE { ?s a ?_kind_iri } }\n}\n",
            3,
            "inside a sub-SELECT",
        ),
        ('#+ summary: ok\nSELECT * WHERE { ?s ?p "unterminated }\n', 2, "unparseable SPARQL"),
    ],
)
def test_a_broken_file_names_the_file_and_line(tmp_path, text, line, message):
    error = broken(tmp_path, text)
    assert message in error.detail
    assert error.extra["file"].endswith("things_under_price.rq")
    assert error.extra["line"] == line
    if line:
        assert f"things_under_price.rq:{line}:" in error.detail


def test_a_file_name_must_be_snake_case(tmp_path):
    with pytest.raises(QueryFileError, match="snake_case"):
        load_query(
            write(tmp_path, "#+ summary: ok\nSELECT * WHERE { ?s ?p ?o }\n", name="Bad-Name")
        )


def test_an_ad_hoc_file_needs_no_header(tmp_path):
    query = load_query(
        write(tmp_path, "SELECT * WHERE { ?s ?p ?o }\n", name="Ad-Hoc"), require_summary=False
    )
    assert query.summary == "Ad-Hoc" and query.parameters == ()


def test_one_broken_file_stops_the_whole_catalogue(tmp_path):
    write(tmp_path, GOOD, name="good")
    write(tmp_path, "#+ summary: [\nSELECT * WHERE { ?s ?p ?o }\n", name="bad")
    with pytest.raises(QueryFileError, match=r"bad\.rq:1"):
        load_catalogue(tmp_path)


def test_every_project_query_loads_with_an_order_for_stable_pages():
    catalogue = load_catalogue(ROOT / "queries")
    assert len(catalogue) >= 25
    for query in catalogue:
        assert query.summary and query.tags, query.name
        if query.form == "SELECT" and query.page_size is not None:
            assert "ORDER BY" in query.text, f"{query.name} is paged but has no ORDER BY"


# ---------------------------------------------------------------- checking values


def params_of(tmp_path) -> CannedQuery:
    return load_query(write(tmp_path, GOOD))


def test_defaults_fill_missing_values_and_empty_counts_as_missing(tmp_path):
    query = params_of(tmp_path)
    assert query.bindings({}) == {"_maxPrice_number": Literal("250", datatype=XSD.decimal)}
    assert query.bindings({"maxPrice": "", "colour": ""}) == query.bindings({})
    bound = query.bindings({"maxPrice": ["99.50"], "colour": EX + "red"})
    assert bound == {
        "_maxPrice_number": Literal("99.5", datatype=XSD.decimal),
        "__colour_iri": URIRef(EX + "red"),
    }


@pytest.mark.parametrize(
    ("args", "parameter", "message"),
    [
        ({"maxPrice": "cheap"}, "maxPrice", "must be a decimal number"),
        ({"maxPrice": "1e999"}, "maxPrice", "must be a decimal number"),
        ({"maxPrice": "NaN"}, "maxPrice", "must be a decimal number"),
        ({"maxPrice": ["1", "2"]}, "maxPrice", "given 2 times"),
        ({"colour": EX + "green"}, "colour", "one of"),
        ({"maker": "not an iri"}, "maker", "absolute IRI"),
        ({"wibble": "1"}, "wibble", "Unknown parameter"),
    ],
)
def test_bad_values_name_the_parameter_and_type(tmp_path, args, parameter, message):
    with pytest.raises(ParameterError, match=message) as info:
        params_of(tmp_path).bindings(args)
    assert info.value.extra["parameter"] == parameter
    assert info.value.status == 400


def test_a_missing_required_parameter_names_it_and_its_type(tmp_path):
    query = load_query(
        write(tmp_path, "#+ summary: ok\nSELECT * WHERE { ?s ?p ?_when_xsd_date }\n")
    )
    with pytest.raises(ParameterError, match="Missing required parameter 'when'") as info:
        query.bindings({})
    assert info.value.extra == {"parameter": "when", "expected": "xsd:date"}


@pytest.mark.parametrize(
    ("suffix", "raw", "term"),
    [
        ("integer", "-0042", Literal("-42", datatype=XSD.integer)),
        ("number", "1e-05", Literal("0.00001", datatype=XSD.decimal)),
        ("number", "+12.500", Literal("12.5", datatype=XSD.decimal)),
        ("literal", "plain", Literal("plain")),
        ("fr", "bonjour", Literal("bonjour", lang="fr")),
        ("xsd_date", "2024-02-29", Literal("2024-02-29", datatype=XSD.date)),
        ("xsd_gYear", "2023", Literal("2023", datatype=XSD.gYear)),
        ("xsd_boolean", "true", Literal("true", datatype=XSD.boolean)),
    ],
)
def test_values_become_typed_terms(tmp_path, suffix, raw, term):
    query = load_query(
        write(tmp_path, f"#+ summary: ok\nSELECT * WHERE {{ ?s ?p ?_v_{suffix} }}\n")
    )
    assert query.bindings({"v": raw}) == {f"_v_{suffix}": term}


@pytest.mark.parametrize(
    ("suffix", "raw"),
    [
        ("integer", "4.2"),
        ("integer", "1" * 101),
        ("xsd_date", "2023-02-30"),
        ("xsd_date", "July 2023"),
        ("xsd_gYear", "23"),
        ("xsd_boolean", "yes"),
        ("literal", "x" * 1001),
        ("iri", "http://x/" + "a" * 2100),
    ],
)
def test_ill_typed_values_are_refused(tmp_path, suffix, raw):
    query = load_query(
        write(tmp_path, f"#+ summary: ok\nSELECT * WHERE {{ ?s ?p ?_v_{suffix} }}\n")
    )
    with pytest.raises(ParameterError, match="Parameter 'v' must be"):
        query.bindings({"v": raw})


# ---------------------------------------------------------------- binding


def test_values_go_at_the_start_of_the_top_level_where_group(tmp_path):
    query = params_of(tmp_path)
    text = query.render(query.bindings({"colour": EX + "red"}), page=3)
    _, _, rest = text.partition("WHERE {")
    assert rest.startswith(
        ' VALUES (?_maxPrice_number ?__colour_iri) { ("250"^^<http://www.w3.org/2001/XMLSchema'
        "#decimal> <http://example.org/red>) } "
    )
    assert "?__maker_iri" not in text.split("VALUES", 1)[1].split("}", 1)[0]  # unbound: absent
    assert text.rstrip().endswith("LIMIT 3 OFFSET 4")
    assert text.count("\n") == GOOD.count("\n") + 2  # line numbers of the file are kept


IN_PLACE = """\
#+ summary: ok
PREFIX ex: <http://example.org/>
SELECT ?thing ?given WHERE {
  VALUES (?x) { (1) }
  ?thing ex:maker ?_maker_iri .
  OPTIONAL { ?thing ex:colour ?c . FILTER(?c != ?__colour_iri) }
  FILTER(BOUND(?__colour_iri) || ?_maker_iri = ex:acme)
  BIND(?_maker_iri AS ?given)
  MINUS { ?_maker_iri ex:price ?p }
} ORDER BY ?thing
"""


def test_an_iri_value_is_also_written_in_place_where_it_means_the_same(tmp_path):
    query = load_query(write(tmp_path, IN_PLACE, name="in_place"))
    text = query.render(query.bindings({"maker": EX + "acme", "colour": EX + "red"}))
    where = text.split("WHERE {", 1)[1]
    assert where.startswith(
        " VALUES (?_maker_iri ?__colour_iri) { (<http://example.org/acme> <http://example.org/red>) }"
    )
    assert "?thing ex:maker <http://example.org/acme> ." in where
    assert "FILTER(?c != <http://example.org/red>)" in where  # inside OPTIONAL too
    assert "FILTER(BOUND(?__colour_iri) || <http://example.org/acme> = ex:acme)" in where
    assert "BIND(<http://example.org/acme> AS ?given)" in where
    assert "MINUS { ?_maker_iri ex:price ?p }" in where  # MINUS keeps its shared variable
    ox.Store().query(text)  # parses


def test_literal_values_stay_in_values_and_unbound_variables_stay_as_they_are(tmp_path):
    query = load_query(write(tmp_path, GOOD))
    text = query.render(query.bindings({}))
    assert "?price < ?_maxPrice_number" in text
    assert "EXISTS { ?thing ex:maker ?__maker_iri }" in text


def test_writing_an_iri_in_place_keeps_the_answers(tmp_path):
    store = ox.Store()
    store.load(
        b"@prefix ex: <http://example.org/> . ex:a ex:maker ex:acme ; ex:colour ex:red . "
        b"ex:b ex:maker ex:acme ; ex:colour ex:blue . ex:c ex:maker ex:other . ex:other ex:price 3 .",
        format=ox.RdfFormat.TURTLE,
    )
    query = load_query(write(tmp_path, IN_PLACE, name="in_place"))
    as_values = replace(query, in_place=())
    answers = []
    for args in (
        {"maker": EX + "acme"},
        {"maker": EX + "other"},
        {"maker": EX + "acme", "colour": EX + "red"},
    ):
        bindings = query.bindings(args)
        ours, theirs = (
            [
                {v.value: str(row[v]) for v in result.variables if row[v] is not None}
                for row in result
            ]
            for result in (store.query(q.render(bindings)) for q in (query, as_values))
        )
        assert ours == theirs
        answers.append(ours)
    # and they are the ones the query means: acme's things; none for the maker with a price
    # (MINUS shares only the maker variable); a colour only decides what the OPTIONAL binds
    assert [[row.get("thing") for row in rows] for rows in answers] == [
        ["<http://example.org/a>", "<http://example.org/b>"],
        [],
        ["<http://example.org/a>", "<http://example.org/b>"],
    ]


def test_a_query_with_its_own_limit_is_one_page(tmp_path):
    query = load_query(
        write(tmp_path, "#+ summary: ok\nSELECT * WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 5\n")
    )
    assert query.page_size is None
    assert "OFFSET" not in query.render({}, page=1)


def test_a_one_page_query_has_no_page_two(tmp_path):
    query = load_query(
        write(tmp_path, LOOKUP.replace("?_name_literal }", "?name } LIMIT 1"), name="one")
    )
    backend = MemoryBackend(DATA)
    assert len(run_canned(backend, query, {}).rows) == 1
    with pytest.raises(ParameterError, match="answered in one page") as info:
        run_canned(backend, query, {}, page=2)
    assert info.value.extra["parameter"] == "page"


def test_pages_of_a_paged_query(tmp_path):
    text = (
        "#+ summary: ok\n#+ pagination: 2\nPREFIX ex: <http://example.org/>\n"
        "SELECT ?thing WHERE { ?thing ex:n ?n } ORDER BY ?n\n"
    )
    query = load_query(write(tmp_path, text, name="paged"))
    backend = MemoryBackend(DATA)
    pages = [run_canned(backend, query, {}, page=p) for p in (1, 2, 3)]
    assert [[r["thing"] for r in a.plain_rows()] for a in pages] == [
        [EX + "a", EX + "b"],
        [EX + "h", EX + "e"],
        [],
    ]
    assert [a.has_next for a in pages] == [True, False, False]


def test_the_json_answer_stays_json_for_infinite_and_nan_doubles(tmp_path):
    """They were written as Infinity and NaN, which no strict JSON parser reads."""
    text = (
        "#+ summary: ok\nPREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
        'SELECT ?x WHERE { VALUES ?x { "INF"^^xsd:double "-INF"^^xsd:float "NaN"^^xsd:double '
        "1.5e0 } } ORDER BY STR(?x)\n"
    )
    answer = run_canned(MemoryBackend(DATA), load_query(write(tmp_path, text, name="odd")), {})

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    body = json.loads(answer.serialize("json"), parse_constant=refuse)
    assert [row["x"] for row in body["rows"]] == ["-INF", 1.5, "INF", "NaN"]


def test_a_trailing_values_clause_keeps_its_place(tmp_path):
    query = load_query(
        write(
            tmp_path,
            "#+ summary: ok\nSELECT * WHERE { ?s ?p ?o } ORDER BY ?s\n"
            "VALUES ?s { <http://example.org/a> }\n",
        )
    )
    text = query.render({})
    assert text.index("LIMIT") < text.rindex("VALUES")
    ox.Store().query(text)  # still parses


def test_values_block_writes_only_parameter_variables():
    with pytest.raises(ValueError, match="not a parameter variable"):
        values_block({"s } UNION { ?x": Literal("1")})


def test_sparql_term_refuses_bad_iris():
    with pytest.raises(ValueError):
        sparql_term(URIRef("http://x/> } UNION { ?s ?p ?o } #"))


def test_the_scanner_skips_strings_comments_and_iris():
    tokens = scan(
        "SELECT * WHERE { ?s <http://x/a#b> \"{\" . ?s ?p '''}\n}''' # }\n"
        " FILTER(?a < ?b) ex:a\\{b }"
    )
    assert [t.text for t in tokens if t.kind in "{}"] == ["{", "}"]
    with pytest.raises(ScanError):
        scan('SELECT * WHERE { ?s ?p "open }')


HOSTILE = [
    'x" } UNION { ?thing ?p ?o } #',
    "x' } UNION { ?thing ?p ?o } #",
    '"""} UNION { ?thing ?p ?o }"""',
    "}",
    "} UNION {",
    "{ ?thing ?p ?o }",
    "a\nb\r\nc\t}",
    "\\",
    '\\"',
    "\\u0022 } UNION { ?thing ?p ?o } #",
    "\\U00000022) } #",
    "# comment",
    "?thing",
    "<http://example.org/a>",
    "x\x00y",
    "\u2028\u2029",
    "snowman ☃ and 𝄞",
    "x" * 1000,
]

DATA = """
@prefix ex: <http://example.org/> .
ex:a ex:name "alpha" ; ex:n 1 .
ex:b ex:name "beta" ; ex:n 2 .
ex:h ex:name "x\\" } UNION { ?thing ?p ?o } #" ; ex:n 3 .
ex:e ex:name "\\\\u0022 } UNION { ?thing ?p ?o } #" ; ex:n 4 .
"""
LOOKUP = (
    "#+ summary: lookup\nPREFIX ex: <http://example.org/>\n"
    "SELECT ?thing WHERE { ?thing ex:name ?_name_literal }\n"
)


@pytest.fixture()
def lookup(tmp_path):
    return load_query(write(tmp_path, LOOKUP, name="lookup")), MemoryBackend(DATA)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_literals_are_bound_harmlessly(lookup, value):
    query, backend = lookup
    answer = run_canned(backend, query, {"name": value})
    expected = {EX + "h"} if value == 'x" } UNION { ?thing ?p ?o } #' else set()
    if value == "\\u0022 } UNION { ?thing ?p ?o } #":
        expected = {EX + "e"}  # the literal text with a backslash, matched exactly, not a quote
    assert {row["thing"] for row in answer.plain_rows()} == expected


@pytest.mark.parametrize(
    "value",
    [
        "http://example.org/a> } UNION { ?thing ?p ?o } #",
        "http://example.org/a b",
        "http://example.org/{x}",
        'http://example.org/"',
        "http://example.org/a|b",
        "http://example.org/^",
        "http://example.org/`",
        "http://example.org/\\u003E",
        "no-scheme",
        "",
        "http://example.org/\n",
        "<http://example.org/a>",
    ],
)
def test_hostile_iris_are_refused(tmp_path, value):
    query = load_query(write(tmp_path, "#+ summary: ok\nSELECT * WHERE { ?thing ?p ?_x_iri }\n"))
    if value == "":
        with pytest.raises(ParameterError, match="Missing required"):
            query.bindings({"x": value})
        return
    with pytest.raises(ParameterError, match="absolute IRI"):
        query.bindings({"x": value})


@pytest.mark.parametrize(
    "value", ["1) || true || (1", "1 } UNION { ?s ?p ?o", "0x10", "1e5 ", "\uff11"]
)
def test_hostile_numbers_are_refused(tmp_path, value):
    query = load_query(
        write(tmp_path, "#+ summary: ok\nSELECT * WHERE { ?s ?p ?o FILTER(?o < ?_n_number) }\n")
    )
    with pytest.raises(ParameterError):
        query.bindings({"n": value})


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=TEXT)
def test_any_text_round_trips_exactly_through_values(value):
    """Whatever the text, the bound query sees exactly that literal, and only that."""
    text = "SELECT ?_v_literal WHERE {" + values_block({"_v_literal": Literal(value)}) + "}"
    rows = list(ox.Store().query(text))
    assert len(rows) == 1 and rows[0]["_v_literal"].value == value


@settings(max_examples=100, deadline=None)
@given(value=TEXT, lang=st.sampled_from(["en", "fr", "de"]))
def test_any_tagged_text_round_trips(value, lang):
    text = "SELECT ?_v_en WHERE {" + values_block({"_v_en": Literal(value, lang=lang)}) + "}"
    [row] = list(ox.Store().query(text))
    assert (row["_v_en"].value, row["_v_en"].language) == (value, lang)


@settings(max_examples=150, deadline=None)
@given(value=st.text(max_size=40).map(lambda s: "http://example.org/" + s))
def test_an_accepted_iri_is_bound_as_exactly_that_iri(value):
    if not is_iri(value):
        return
    text = "SELECT ?_v_iri WHERE {" + values_block({"_v_iri": URIRef(value)}) + "}"
    [row] = list(ox.Store().query(text))
    assert row["_v_iri"].value == value


@settings(max_examples=100, deadline=None)
@given(value=TEXT)
def test_a_hostile_value_never_changes_the_answer(value):
    backend = MemoryBackend(DATA)
    query = load_query(Path(__file__).parent / "data" / "queries" / "lookup.rq")
    answer = run_canned(backend, query, {"name": value} if value else {"name": "alpha"})
    names = {"alpha": EX + "a", "beta": EX + "b"}
    want = value or "alpha"
    expected = {names[want]} if want in names else set()
    assert {row["thing"] for row in answer.plain_rows()} == expected
    assert len(backend.queries) == 1


@pytest.mark.parametrize(
    "module", ["mlkg.queries", "mlkg._sparql_scan", "mlkg.catalogue_run", "mlkg.openapi"]
)
def test_doctests(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_the_readme_lists_every_query():
    readme = (ROOT / "queries" / "README.md").read_text(encoding="utf-8")
    for path in (ROOT / "queries").glob("*.rq"):
        assert f"[`{path.stem}`]({path.name})" in readme, f"{path.name} is missing from queries/README.md"
