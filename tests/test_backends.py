"""Backends: the embedded store, the worker pool (time limit, kill, replace, cache) and a remote
SPARQL store (a real Oxigraph server started here on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from _live import build_from_files, damage_store, wait_for
from rdflib import Literal, URIRef

from mlkg import _results, engine, integrity
from mlkg._procs import OxigraphServer, cpu_seconds
from mlkg.backends import EmbeddedBackend, PooledBackend, RemoteBackend, bind_remote, load_remote
from mlkg.errors import (
    ForbiddenQueryError,
    NotAcceptableError,
    QueryMemoryError,
    QueryTimeoutError,
    SparqlSyntaxError,
    StoreCorruptError,
    TooManyRequestsError,
)
from mlkg.workers import wait_for_exit

TESTS = Path(__file__).resolve().parent
FIXTURE = TESTS / "data" / "sparql" / "fixture.ttl"
EXTRA = TESTS / "data" / "sparql" / "extra.ttl"
W3C = TESTS.parents[1] / "shared" / "w3c" / "sparql11"
G_FIXTURE = "https://w3id.org/mlkg/graph/test/fixture"
G_EXTRA = "https://w3id.org/mlkg/graph/test/extra"
MLE = "https://w3id.org/mlkg/role/ml-engineer"
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("var")
    build_from_files(var, {G_FIXTURE: FIXTURE, G_EXTRA: EXTRA})
    return (var / "current").resolve()


@pytest.fixture(scope="module")
def embedded(store_dir: Path) -> EmbeddedBackend:
    return EmbeddedBackend(store_dir, base_iri="https://w3id.org/mlkg/")


@pytest.fixture(scope="module")
def pooled(store_dir: Path):
    backend = PooledBackend(
        store_dir, workers=2, timeout=1.5, limit=50, base_iri="https://w3id.org/mlkg/"
    )
    yield backend
    backend.close()


def _bindings(body: bytes) -> list[dict]:
    return json.loads(body)["results"]["bindings"]


def test_result_writers_match_pyoxigraph_byte_for_byte() -> None:
    store = ox.Store()
    for name in ("csv-tsv-res/data.ttl", "csv-tsv-res/data2.ttl", "json-res/data.ttl"):
        store.load(path=str(W3C / name), format=ox.RdfFormat.TURTLE)
    tricky = ox.Literal('hé "q" <a> & \n\t\r\\ \x01, x', language="en-GB")
    store.add(ox.Quad(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/b"), tricky))
    store.add(
        ox.Quad(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/b"), ox.Literal('x,"y"\r\nz'))
    )
    queries = [
        "SELECT ?s ?o ?unbound WHERE { ?s ?p ?o } ORDER BY ?s ?o",
        "SELECT * {}",
        "SELECT * { ?s ?p ?o } LIMIT 0",
        'SELECT ?x {} VALUES ?x { 1 2.5 1e3 true "a"@en-us }',
        "SELECT ?s (COUNT(*) AS ?n) { ?s ?p ?o } GROUP BY ?s",
    ]
    for query in queries:
        for name, fmt in (
            ("json", ox.QueryResultsFormat.JSON),
            ("xml", ox.QueryResultsFormat.XML),
            ("csv", ox.QueryResultsFormat.CSV),
            ("tsv", ox.QueryResultsFormat.TSV),
        ):
            expected = store.query(query).serialize(format=fmt)
            solutions = store.query(query)
            variables, rows = [v.value for v in solutions.variables], list(solutions)
            if name == "xml" and b"\x01" in expected:  # XML 1.0 cannot carry U+0001: refused
                with pytest.raises(NotAcceptableError, match="U\\+0001"):
                    _results.write_solutions(variables, rows, name)
                continue
            ours = _results.write_solutions(variables, rows, name)
            if name == "xml":  # pyoxigraph writes CR raw, which a parser reads as LF
                expected = expected.replace(b"\r", b"&#13;")
            assert ours == expected, (query, name)
    returns = ox.Store()
    returns.add(ox.Quad(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/b"), ox.Literal("a\rb\n")))
    body = _results.write_solutions(["o"], list(returns.query("SELECT ?o { ?s ?p ?o }")), "xml")
    from xml.dom.minidom import parseString

    assert parseString(body).getElementsByTagName("literal")[0].firstChild.data == "a\rb\n"
    for ask in ("ASK {}", "ASK { ?s <http://nothing/> ?o }"):
        for name, fmt in (("json", ox.QueryResultsFormat.JSON), ("xml", ox.QueryResultsFormat.XML)):
            assert _results.write_boolean(bool(store.query(ask)), name) == store.query(
                ask
            ).serialize(format=fmt)


@pytest.mark.parametrize("name", ["embedded", "pooled"])
@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_an_ask_answer_is_refused_as_csv_or_tsv(request, name: str, fmt: str) -> None:
    """SPARQL 1.1's CSV and TSV results formats define no ASK answer (before: a bare 'true')."""
    backend = request.getfixturevalue(name)
    for ask in ("ASK {}", "ASK { <role/ml-engineer> ?p ?o }"):  # through a worker, and in-process
        with pytest.raises(NotAcceptableError, match="ASK") as refused:
            backend.run(ask, result_format=fmt)
        assert refused.value.extra["available"] == [
            "application/sparql-results+json", "application/sparql-results+xml"
        ]


def test_embedded_runs_each_form_in_each_format(embedded: EmbeddedBackend) -> None:
    select = embedded.run(
        f"SELECT ?label WHERE {{ <{MLE}> <http://www.w3.org/2000/01/rdf-schema#label> ?label }}",
        result_format="json",
    )
    assert select.form == "SELECT" and select.media_type == "application/sparql-results+json"
    assert _bindings(select.body) == [
        {"label": {"type": "literal", "value": "machine learning engineer", "xml:lang": "en"}}
    ]
    ask = embedded.run("ASK { <role/data-scientist> a ?type }", result_format="xml")
    assert ask.form == "ASK" and b"<boolean>true</boolean>" in ask.body
    construct = embedded.run(
        "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(?s = <role/data-scientist>) }",
        result_format="turtle",
    )
    assert construct.media_type == "text/turtle"
    graph = ox.Store()
    graph.load(construct.body, format=ox.RdfFormat.TURTLE)
    assert len(graph) == 3
    quads = embedded.run("DESCRIBE <role/data-scientist>", result_format="nquads")
    assert quads.media_type == "application/n-quads" and quads.body.count(b" .\n") == 3


def test_substitutions_bind_rdflib_terms(embedded: EmbeddedBackend) -> None:
    query = "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    result = embedded.run(query, result_format="json", substitutions={"s": URIRef(MLE)})
    assert [b["label"]["value"] for b in _bindings(result.body)] == ["machine learning engineer"]
    by_label = embedded.run(
        query, result_format="json", substitutions={"label": Literal("data scientist", lang="en")}
    )
    assert [b["s"]["value"] for b in _bindings(by_label.body)] == [
        "https://w3id.org/mlkg/role/data-scientist"
    ]


def test_protocol_dataset_replaces_the_default_graph(embedded: EmbeddedBackend) -> None:
    query = "ASK { <extra/only-here> ?p ?o }"
    assert b"true" in embedded.run(query, result_format="json").body  # default graph = union
    assert (
        b"false"
        in embedded.run(
            query, result_format="json", default_graph=[G_FIXTURE], named_graphs=[]
        ).body
    )
    assert (
        b"true"
        in embedded.run(query, result_format="json", default_graph=[G_EXTRA], named_graphs=[]).body
    )
    named = "ASK { GRAPH ?g { <extra/only-here> ?p ?o } }"
    assert (
        b"false"
        in embedded.run(
            named, result_format="json", default_graph=[], named_graphs=[G_FIXTURE]
        ).body
    )
    assert embedded.graphs() == {G_FIXTURE: pytest.approx(embedded.graphs()[G_FIXTURE]), G_EXTRA: 1}


def test_answers_are_cut_at_the_limit(embedded: EmbeddedBackend) -> None:
    query = "SELECT ?s WHERE { ?s a <https://w3id.org/mlkg/def/Skill> }"
    full = embedded.run(query, result_format="json")
    assert len(_bindings(full.body)) == 60 and not full.truncated
    cut = embedded.run(query, result_format="csv", limit=10)
    assert cut.truncated and cut.body.count(b"\r\n") == 11
    exact = embedded.run(query, result_format="json", limit=60)
    assert not exact.truncated
    graph = embedded.run("CONSTRUCT WHERE { ?s ?p ?o }", result_format="ntriples", limit=5)
    assert graph.truncated and graph.body.count(b"\n") == 5


def test_syntax_errors_name_line_and_column(embedded: EmbeddedBackend) -> None:
    with pytest.raises(SparqlSyntaxError) as caught:
        embedded.run("SELECT *\nWHERE { ?s ?p }", result_format="json")
    assert caught.value.extra["line"] == 2
    assert "error at 2:" in caught.value.detail


def test_pool_answers_like_the_embedded_store(
    pooled: PooledBackend, embedded: EmbeddedBackend
) -> None:
    query = "SELECT ?s ?o WHERE { ?s <https://w3id.org/mlkg/def/relatedRole> ?o } ORDER BY ?s"
    assert (
        pooled.run(query, result_format="tsv").body == embedded.run(query, result_format="tsv").body
    )
    with pytest.raises(SparqlSyntaxError):
        pooled.run("SELECT * WHERE {", result_format="json")
    assert pooled.graphs()[G_EXTRA] == 1
    assert pooled.run("SELECT ?s { ?s ?p ?o }", result_format="json").truncated  # limit 50


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
        "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
        "INSERT DATA { <http://ex/a> <http://ex/b> <http://ex/c> }",
    ],
)
def test_every_backend_refuses_unsafe_queries_itself(
    pooled: PooledBackend, embedded: EmbeddedBackend, query: str
) -> None:
    for backend in (pooled, embedded):
        with pytest.raises(ForbiddenQueryError):
            backend.run(query, result_format="json")


def test_select_star_columns_follow_the_query(embedded: EmbeddedBackend) -> None:
    body = embedded.run(
        "SELECT * WHERE { ?s <https://w3id.org/mlkg/def/relatedRole> ?other }", result_format="json"
    ).body
    assert json.loads(body)["head"]["vars"] == ["s", "other"]
    csv_body = embedded.run(
        "SELECT * WHERE { ?s <https://w3id.org/mlkg/def/relatedRole> ?other } ORDER BY ?s",
        result_format="csv",
    ).body
    assert csv_body.splitlines()[:2] == [
        b"s,other",
        b"https://w3id.org/mlkg/role/data-scientist,https://w3id.org/mlkg/role/ml-engineer",
    ]


def test_pool_caches_answers_per_request(pooled: PooledBackend) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert pooled.cache is not None
    first = pooled.run(query, result_format="json")
    hits = pooled.cache.hits
    again = pooled.run(query, result_format="json")
    assert again.body == first.body and pooled.cache.hits == hits + 1
    pooled.run(query, result_format="xml")  # another format is another answer
    assert pooled.cache.hits == hits + 1


def test_requests_for_a_query_already_running_share_its_run(store_dir: Path) -> None:
    """Three requests at once for one runaway query: one worker runs (and is killed), not three."""
    backend = PooledBackend(store_dir, workers=2, timeout=1.5)
    try:
        errors = _three_at_once(backend, CROSS_JOIN)
        assert len(errors) == 3 and len({id(e) for e in errors}) == 3  # each raises its own
        assert all("1.5 s limit" in e.detail for e in errors)
        assert backend.pool.killed == 1 and backend.shared_answers == 2
        # once it has ended, the same query runs again (it is not remembered as failed)
        with pytest.raises(QueryTimeoutError):
            backend.run(CROSS_JOIN, result_format="json")
        assert backend.pool.killed == 2
    finally:
        backend.close()


def test_without_the_answer_cache_each_request_runs_its_own_query(store_dir: Path) -> None:
    backend = PooledBackend(store_dir, workers=2, timeout=1.0, cache=False)
    try:
        assert len(_three_at_once(backend, CROSS_JOIN)) == 3
        assert backend.shared_answers == 0 and backend.pool.killed >= 2
    finally:
        backend.close()


def _three_at_once(backend: PooledBackend, query: str) -> list[QueryTimeoutError]:
    errors: list[QueryTimeoutError] = []

    def ask() -> None:
        try:
            backend.run(query, result_format="json")
        except QueryTimeoutError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    return errors


def test_runaway_query_is_killed_at_the_limit_and_the_pool_keeps_serving(
    pooled: PooledBackend,
) -> None:
    before = pooled.pool.pids
    answers: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        try:
            pooled.run(CROSS_JOIN, result_format="json")
        except QueryTimeoutError as exc:
            answers["error"] = exc
        answers["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    quick = pooled.run("ASK { <role/ml-engineer> ?p ?o }", result_format="json")
    assert (
        b"true" in quick.body and time.monotonic() - started < 1.0
    )  # served while the runaway runs
    thread.join(timeout=10)
    assert isinstance(answers.get("error"), QueryTimeoutError)
    assert answers["error"].status == 503  # type: ignore[attr-defined]
    assert 1.4 <= answers["elapsed"] < 3.0  # type: ignore[operator]
    killed = [pid for pid in before if pid not in pooled.pool.pids]
    assert len(killed) == 1 and wait_for_exit(killed, timeout=2)
    time.sleep(0.5)  # the replacement starts in the background
    workers = pooled.pool.pids
    assert len(workers) == 2
    used = cpu_seconds(workers)
    time.sleep(1.0)
    assert cpu_seconds(workers) - used < 0.2  # no CPU burnt after the answer
    assert b"true" in pooled.run("ASK { ?s ?p ?o }", result_format="json").body


@pytest.fixture(scope="module")
def one_worker(store_dir: Path):
    """Backends of one worker and no answer cache, by (row cap, inline_rows); closed at the end."""
    made: list[PooledBackend] = []

    def make(limit: int, inline_rows: int) -> PooledBackend:
        made.append(PooledBackend(store_dir, workers=1, timeout=1.5, limit=limit,
                                  base_iri="https://w3id.org/mlkg/", cache=False,
                                  inline_rows=inline_rows))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


@pytest.fixture(scope="module")
def inline(one_worker) -> PooledBackend:
    return one_worker(50, 50)


@pytest.fixture(scope="module")
def inline_wide(one_worker) -> PooledBackend:
    """Inline answers under a cap of 10,000 rows: written by the engine in one call."""
    return one_worker(10_000, 10_000)


@pytest.fixture(scope="module")
def pooled_wide(one_worker) -> PooledBackend:
    return one_worker(10_000, 0)


BOUNDED = [
    "SELECT ?p ?o WHERE { <role/ml-engineer> ?p ?o }",
    "SELECT * { ?s ?p ?o } LIMIT 7 OFFSET 3",
    "SELECT ?s { ?s a <https://w3id.org/mlkg/def/Role> }",
    "ASK { <role/ml-engineer> ?p ?o }",
    "ASK { <role/nobody> ?p ?o }",
    "SELECT ?s { ?s ?p ?o }",  # more rows than the cap: cut at 50, like the pool
    "SELECT * { ?x <https://w3id.org/mlkg/def/relatedRole> ?a }",  # columns as written: x, a
    "SELECT ?o ?p { <role/ml-engineer> ?p ?o } OFFSET 2",
    "SELECT ?s ?l { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } # LIMIT 1",
]


def _formats(query: str) -> tuple[str, ...]:
    """The results formats of the query's answer (an ASK's: not CSV or TSV)."""
    return ("json", "xml") if query.startswith("ASK") else ("json", "xml", "csv", "tsv")


@pytest.mark.parametrize("query", BOUNDED)
def test_bounded_queries_are_answered_in_process_exactly_as_by_a_worker(
    inline: PooledBackend, pooled: PooledBackend, query: str
) -> None:
    for fmt in _formats(query):
        served = sum(w.served for w in list(inline.pool._all))
        answers = inline.inline_answers
        ours = inline.run(query, result_format=fmt)
        assert inline.inline_answers == answers + 1
        assert sum(w.served for w in list(inline.pool._all)) == served  # no worker was asked
        theirs = pooled.run(query, result_format=fmt)
        assert (ours.body, ours.truncated, ours.media_type) == (
            theirs.body, theirs.truncated, theirs.media_type)


@pytest.mark.parametrize("query", BOUNDED)
def test_bounded_answers_written_by_the_engine_match_the_workers(
    inline_wide: PooledBackend, pooled_wide: PooledBackend, query: str
) -> None:
    for fmt in _formats(query):
        ours, theirs = inline_wide.run(query, result_format=fmt), pooled_wide.run(query, result_format=fmt)
        assert (ours.body, ours.truncated, ours.media_type) == (
            theirs.body, theirs.truncated, theirs.media_type)
    assert inline_wide.inline_answers > 0 and not ours.truncated


def test_a_small_bounded_answer_is_written_by_the_engine_in_one_call(
    inline_wide: PooledBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not row by row: the row-by-row writer (`engine.execute`) is never called for it."""
    from mlkg import engine

    def row_by_row(*_: object) -> None:
        raise AssertionError("execute_bounded fell back to execute")

    monkeypatch.setattr(engine, "execute", row_by_row)
    answers = inline_wide.inline_answers
    body = inline_wide.run("SELECT ?p ?o WHERE { <role/ml-engineer> ?p ?o }", result_format="json").body
    assert inline_wide.inline_answers == answers + 1
    assert {b["p"]["value"] for b in _bindings(body)} >= {
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    }


def test_an_answer_longer_in_bytes_than_the_cap_in_rows_is_counted_not_rewritten(
    inline: PooledBackend, pooled: PooledBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a cap of 50 rows, an answer of a few rows in more than 50 bytes: the engine's own
    answer, its rows counted, not written again row by row (that cost ~2 % of all look-ups' time at
    1M triples, where 1 answer in 500 is longer than 10,000 bytes)."""
    from mlkg import engine

    query = "SELECT ?o WHERE { <role/ml-engineer> a ?o }"
    expected = pooled.run(query, result_format="json")
    monkeypatch.setattr(engine, "execute", lambda *_: pytest.fail("the rows were written again"))
    answers = inline.inline_answers
    ours = inline.run(query, result_format="json")
    assert inline.inline_answers == answers + 1
    assert 0 < len(_bindings(ours.body)) <= 50 and len(ours.body) > 50
    assert (ours.body, ours.truncated) == (expected.body, expected.truncated)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?s { ?s ?p ?o } ORDER BY ?s",
        "SELECT ?s { ?s ?p ?o } LIMIT 5 OFFSET 51",
        "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    ],
)
def test_other_queries_still_go_to_a_worker(inline: PooledBackend, query: str) -> None:
    answers = inline.inline_answers
    inline.run(query, result_format="json")
    assert inline.inline_answers == answers


def test_a_cap_above_inline_rows_sends_the_query_to_a_worker(inline: PooledBackend) -> None:
    answers = inline.inline_answers
    assert len(_bindings(inline.run("SELECT ?s { ?s ?p ?o }", result_format="json", limit=51).body)) == 51
    assert inline.inline_answers == answers


def test_inline_errors_are_reported_as_the_workers_report_them(
    inline: PooledBackend, pooled: PooledBackend
) -> None:
    query = "SELECT ?s { ?s undeclared:p ?o }"
    errors = []
    for backend in (inline, pooled):
        with pytest.raises(SparqlSyntaxError) as caught:
            backend.run(query, result_format="json")
        errors.append((caught.value.detail, caught.value.extra))
    assert errors[0] == errors[1] and "Prefix not found" in errors[0][0]
    assert errors[0][1]["line"] == 1 and errors[0][1]["column"] > 0
    with pytest.raises(NotAcceptableError):
        inline.run("SELECT ?s { ?s ?p ?o }", result_format="turtle")
    answers = inline.inline_answers
    with pytest.raises(ForbiddenQueryError):  # refused before any engine, inline or not
        inline.run("SELECT ?s { \\u0053ERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }", result_format="json")
    assert inline.inline_answers == answers


def test_a_runaway_query_is_still_stopped_with_the_inline_path_on(inline: PooledBackend) -> None:
    with pytest.raises(QueryTimeoutError):
        inline.run(CROSS_JOIN, result_format="json")
    assert b"true" in inline.run("ASK { ?s ?p ?o }", result_format="json").body


@pytest.mark.parametrize("inline_rows", [0, 1000], ids=["worker", "inline"])
def test_a_damaged_block_a_query_reads_is_reported_and_every_query_then_refused(
    tmp_path: Path, inline_rows: int
) -> None:
    var = tmp_path / "var"
    build_from_files(var, {G_FIXTURE: FIXTURE})
    store = (var / "current").resolve()
    damage_store(store)
    backend = PooledBackend(
        store, workers=1, timeout=5, limit=50, inline_rows=inline_rows, var_dir=var
    )
    try:
        assert backend.info()["store_check"] == "unchecked" and "status" not in backend.info()
        started = time.monotonic()
        damaged = f"the store at {store} is corrupt: Corruption: .*sst"
        with pytest.raises(StoreCorruptError, match=damaged):  # streamed: fails at once
            backend.run("SELECT * WHERE { ?s ?p ?o }", result_format="json")
        assert time.monotonic() - started < 2
        assert backend.inline_answers == 0
        assert backend.info()["status"] == "corrupt" and "is corrupt" in backend.info()["problem"]
        assert integrity.recorded(var, store).problem == backend.problem()  # for every process
        started = time.monotonic()
        with pytest.raises(StoreCorruptError):  # refused: over a damaged block it would never end
            backend.run("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", result_format="json")
        assert time.monotonic() - started < 0.5
    finally:
        backend.close()


def test_bind_remote_puts_values_inside_the_where_group() -> None:
    query = 'PREFIX ex: <http://ex/> SELECT ?x WHERE { ?x ex:p ?v . FILTER(?v != "}") }'
    bound = bind_remote(query, (("v", ("literal", 'a"}b', None, "en")),))
    assert bound == (
        'PREFIX ex: <http://ex/> SELECT ?x WHERE { VALUES (?v) { ("a\\"}b"@en) } '
        '?x ex:p ?v . FILTER(?v != "}") }'
    )


def test_remote_backend_on_a_real_oxigraph_server(
    tmp_path: Path, store_dir: Path, embedded: EmbeddedBackend
) -> None:
    with OxigraphServer(tmp_path / "oxigraph") as server:
        written = load_remote(store_dir, f"{server.url}/query")
        assert written == 3  # two named graphs and the default graph
        remote = RemoteBackend(
            f"{server.url}/query", timeout=5, limit=50, base_iri="https://w3id.org/mlkg/"
        )
        try:
            query = (
                "SELECT ?s ?o WHERE { ?s <https://w3id.org/mlkg/def/relatedRole> ?o } ORDER BY ?s"
            )
            assert (
                remote.run(query, result_format="tsv").body
                == embedded.run(query, result_format="tsv").body
            )
            assert remote.graphs() == embedded.graphs()
            assert (
                b"true" in remote.run("ASK { <role/ml-engineer> ?p ?o }", result_format="json").body
            )
            only_fixture = remote.run(
                "ASK { <extra/only-here> ?p ?o }",
                result_format="json",
                default_graph=[G_FIXTURE],
                named_graphs=[],
            )
            assert b"false" in only_fixture.body
            bound = remote.run(
                "SELECT ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }",
                result_format="json",
                substitutions={"s": URIRef(MLE)},
            )
            assert [b["label"]["value"] for b in _bindings(bound.body)] == [
                "machine learning engineer"
            ]
            graph = remote.run("DESCRIBE <role/data-scientist>", result_format="turtle")
            parsed = ox.Store()
            parsed.load(graph.body, format=ox.RdfFormat.TURTLE)
            assert len(parsed) == 3
            assert remote.run("SELECT ?s { ?s ?p ?o }", result_format="json").truncated
            with pytest.raises(SparqlSyntaxError):
                remote.run("SELECT * WHERE {", result_format="json")
        finally:
            remote.close()


def test_mlkg_serve_proxies_to_a_remote_store(tmp_path: Path, store_dir: Path) -> None:
    """`mlkg serve --store URL` answers from a remote SPARQL store, with the same refusals."""
    from _live import LiveServer

    with OxigraphServer(tmp_path / "oxigraph") as oxigraph:
        load_remote(store_dir, f"{oxigraph.url}/query")
        with LiveServer(tmp_path / "empty-var", args=("--store", f"{oxigraph.url}/query")) as live:
            import requests

            health = requests.get(f"{live.url}/health", timeout=10).json()
            assert health["backend"] == "remote" and health["store"] == f"{oxigraph.url}/query"
            answer = requests.get(
                f"{live.url}/sparql",
                timeout=10,
                params={"query": "ASK { <role/ml-engineer> ?p ?o }"},
            )
            assert answer.json()["boolean"] is True
            refused = requests.get(
                f"{live.url}/sparql",
                timeout=10,
                params={"query": f"SELECT * {{ SERVICE <{oxigraph.url}/query> {{ ?s ?p ?o }} }}"},
            )
            assert refused.status_code == 400
            assert not (tmp_path / "empty-var" / "current").exists()  # nothing was built locally


def test_cli_build_store_loads_the_real_graph_into_a_remote_oxigraph(tmp_path: Path, built) -> None:
    """`mlkg build --store URL` validates, builds, and loads every graph into a real Oxigraph server."""
    from click.testing import CliRunner

    from mlkg.cli import cli

    with OxigraphServer(tmp_path / "oxigraph") as server:
        result = CliRunner().invoke(
            cli, ["build", "--store", f"{server.url}/query"], env={"MLKG_VAR": str(built.var_dir)}
        )
        assert result.exit_code == 0, result.output
        remote = RemoteBackend(f"{server.url}/query", timeout=10, limit=10, base_iri=None)
        try:
            embedded = EmbeddedBackend(built.store_link.resolve())
            count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
            assert remote.run(count, result_format="csv").body == embedded.run(count, result_format="csv").body
            assert remote.graphs() == embedded.graphs()
        finally:
            remote.close()


def test_a_query_past_the_worker_memory_limit_is_a_503_saying_so(store_dir: Path) -> None:
    backend = PooledBackend(store_dir, workers=1, timeout=20, memory_mb=300)
    try:
        hoard = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a"
        with pytest.raises(QueryMemoryError) as caught:
            backend.run(hoard, result_format="json")
        assert caught.value.status == 503 and "300 MiB" in caught.value.detail
        assert "Narrow it" in caught.value.detail
        assert b"true" in backend.run("ASK { ?s ?p ?o }", result_format="json").body
    finally:
        backend.close()


def test_another_client_asking_a_running_query_runs_its_own(
    store_dir: Path,
) -> None:
    """Client A holds both workers; client C waits; client B asks the same query as A's oldest.
    B does not wait on A's run, where the fair share cannot see it (it waited as long as A's query,
    or got A's 429, found by a bug hunt): it asks a worker itself, so A's oldest is stopped (429
    for A); the worker that replaces it goes to C, the longer waiting, then to B, whose own run
    goes to its time limit. (With B first, C's answer hung on a2's worker being replaced within
    C's wait, ~0.15 s: a loaded machine missed it.)"""
    from mlkg.fairuse import CLIENT

    backend = PooledBackend(store_dir, workers=2, timeout=2.5)
    outcomes: dict[str, object] = {}

    def ask(client: str, query: str, key: str) -> None:
        CLIENT.set(client)
        try:
            outcomes[key] = backend.run(query, result_format="json")
        except Exception as exc:  # noqa: BLE001  (the test looks at which)
            outcomes[key] = exc

    try:
        assert wait_for(lambda: backend.pool.idle == 2)
        threads = [threading.Thread(target=ask, args=("10.0.0.1", CROSS_JOIN, "a1"))]
        threads[0].start()
        time.sleep(0.2)  # a1 is the older of A's two
        threads.append(threading.Thread(target=ask, args=("10.0.0.1", CROSS_JOIN + " #2", "a2")))
        threads[-1].start()
        assert wait_for(lambda: backend.pool.idle == 0)
        threads.append(threading.Thread(target=ask, args=("10.0.0.3", "ASK { ?s ?p ?o }", "c")))
        threads[-1].start()
        time.sleep(0.1)
        threads.append(threading.Thread(target=ask, args=("10.0.0.2", CROSS_JOIN, "b")))
        threads[-1].start()
        for thread in threads:
            thread.join(timeout=20)
        assert isinstance(outcomes["a1"], TooManyRequestsError)
        assert b"true" in outcomes["c"].body  # type: ignore[union-attr]
        assert isinstance(outcomes["b"], QueryTimeoutError), outcomes["b"]
        assert backend.shared_answers == 0
    finally:
        backend.close()


def test_a_memory_error_in_the_engine_is_the_memory_503_not_a_500(store_dir: Path) -> None:
    """A failed allocation can surface as Python's MemoryError (writing a large answer) rather
    than abort the worker: it was a 500 "the query failed in the engine: MemoryError"."""
    assert engine.error_tuple(MemoryError())[0] == "QueryMemoryError"
    backend = PooledBackend(store_dir, workers=1, memory_mb=700)
    try:
        with pytest.raises(QueryMemoryError) as caught:
            backend._engine_error(engine.error_tuple(MemoryError()), "ASK {}")
        assert caught.value.status == 503 and "(700 MiB)" in caught.value.detail
    finally:
        backend.close()
