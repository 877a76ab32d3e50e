"""The SPARQL 1.1 protocol endpoint, driven over HTTP against the real server (`mlkg serve`):
requests for the protocol and its refusals, SPARQLWrapper and rdflib's SPARQLStore as real clients."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from _live import Listener, LiveServer, build_from_files, serving
from rdflib import Graph, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, XML, SPARQLWrapper

from mlkg._procs import cpu_seconds

TESTS = Path(__file__).resolve().parent
FIXTURE = TESTS / "data" / "sparql" / "fixture.ttl"
EXTRA = TESTS / "data" / "sparql" / "extra.ttl"
G_FIXTURE = "https://w3id.org/mlkg/graph/test/fixture"
G_EXTRA = "https://w3id.org/mlkg/graph/test/extra"
MLE = "https://w3id.org/mlkg/role/ml-engineer"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKILLS = "SELECT ?s WHERE { ?s a <https://w3id.org/mlkg/def/Skill> } ORDER BY ?s"
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    var = tmp_path_factory.mktemp("var")
    build_from_files(var, {G_FIXTURE: FIXTURE, G_EXTRA: EXTRA})
    env = {"MLKG_QUERY_TIMEOUT": str(TIMEOUT), "MLKG_RESULT_LIMIT": "50", "MLKG_MAX_BODY": "20000"}
    with LiveServer(var, env=env) as live:
        yield live


@pytest.fixture(scope="module")
def url(server: LiveServer) -> str:
    return f"{server.url}/sparql"


def assert_problem(response: requests.Response, status: int) -> dict:
    """The response is a problem document with `status` (and never a stack trace)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert "Traceback" not in response.text
    return problem


def _bindings(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["results"]["bindings"]


# ---------------------------------------------------------------- the three ways to send a query


def test_get_post_form_and_post_direct_give_the_same_answer(url: str) -> None:
    query = f"SELECT ?label WHERE {{ <{MLE}> <{RDFS_LABEL}> ?label }}"
    by_get = requests.get(url, params={"query": query}, timeout=10)
    by_form = requests.post(url, data={"query": query}, timeout=10)
    by_body = requests.post(
        url, data=query.encode(), timeout=10, headers={"Content-Type": "application/sparql-query"}
    )
    assert (
        _bindings(by_get)
        == _bindings(by_form)
        == _bindings(by_body)
        == [{"label": {"type": "literal", "value": "machine learning engineer", "xml:lang": "en"}}]
    )
    assert by_get.headers["Content-Type"] == "application/sparql-results+json"
    assert "Accept" in by_get.headers["Vary"]


def test_trailing_slash_path_is_the_same_endpoint(url: str) -> None:
    assert requests.get(f"{url}/", params={"query": "ASK {}"}, timeout=10).json()["boolean"] is True


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/sparql-results+json", "application/sparql-results+json"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
        ("text/html, */*;q=0.1", "application/sparql-results+json"),
        ("application/json", "application/sparql-results+json"),
    ],
)
def test_select_format_by_accept(url: str, accept: str, media_type: str) -> None:
    response = requests.get(url, params={"query": SKILLS}, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type
    if media_type == "text/csv":
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["s"] and len(rows) == 51  # cut at the 50-row limit
    if media_type == "text/tab-separated-values":
        assert response.text.splitlines()[1] == "<https://w3id.org/mlkg/skill/s00>"


def test_format_argument_overrides_accept(url: str) -> None:
    response = requests.get(
        url,
        params={"query": SKILLS, "format": "tsv"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )
    assert response.headers["Content-Type"].startswith("text/tab-separated-values")
    posted = requests.post(url, data={"query": "ASK {}", "format": "xml"}, timeout=10)
    assert posted.headers["Content-Type"] == "application/sparql-results+xml"
    assert "<boolean>true</boolean>" in posted.text


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, "turtle"),
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "xml"),
        ("application/n-quads", "nquads"),
        ("application/trig", "trig"),
        ("application/rdf+xml;q=0.4, text/turtle;q=0.8", "turtle"),
    ],
)
def test_construct_formats_by_accept(url: str, accept: str | None, fmt: str) -> None:
    query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(?s = <role/data-scientist>) }"
    headers = {"Accept": accept} if accept else {}
    response = requests.get(url, params={"query": query}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    graph = Graph().parse(data=response.content, format=fmt)
    assert len(graph) == 3
    assert (URIRef("https://w3id.org/mlkg/role/data-scientist"), URIRef(RDFS_LABEL), None) in graph


def test_unacceptable_format_is_406_listing_the_offer(url: str) -> None:
    problem = assert_problem(
        requests.get(url, params={"query": SKILLS}, headers={"Accept": "image/png"}, timeout=10),
        406,
    )
    assert "application/sparql-results+json" in problem["available"]
    graph_problem = assert_problem(
        requests.get(
            url,
            params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
            headers={"Accept": "text/csv"},
            timeout=10,
        ),
        406,
    )
    assert "text/turtle" in graph_problem["detail"]
    assert_problem(requests.get(url, params={"query": SKILLS, "format": "yaml"}, timeout=10), 406)


def test_truncated_answers_say_so(url: str) -> None:
    response = requests.get(url, params={"query": "SELECT * { ?s ?p ?o }"}, timeout=10)
    assert len(_bindings(response)) == 50
    assert response.headers["MLKG-Truncated"] == "true"
    assert response.headers["X-SPARQL-MaxRows"] == "50"
    whole = requests.get(
        url, params={"query": "SELECT * { ?s a <https://w3id.org/mlkg/def/Role> }"}, timeout=10
    )
    assert "MLKG-Truncated" not in whole.headers


# ---------------------------------------------------------------- dataset


def test_default_and_named_graph_parameters_are_honoured(url: str) -> None:
    ask = "ASK { <https://w3id.org/mlkg/extra/only-here> ?p ?o }"
    assert requests.get(url, params={"query": ask}, timeout=10).json()["boolean"] is True
    only_fixture = requests.get(
        url, params={"query": ask, "default-graph-uri": G_FIXTURE}, timeout=10
    )
    assert only_fixture.json()["boolean"] is False
    named = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    answer = requests.post(
        url,
        params={"named-graph-uri": G_EXTRA},
        data=named.encode(),
        timeout=10,
        headers={"Content-Type": "application/sparql-query"},
    )
    assert [b["g"]["value"] for b in _bindings(answer)] == [G_EXTRA]
    assert_problem(
        requests.get(url, params={"query": ask, "default-graph-uri": "no iri"}, timeout=10), 400
    )


def test_from_a_held_graph_is_answered_from_the_store(url: str) -> None:
    query = f"ASK FROM <{G_EXTRA}> {{ <https://w3id.org/mlkg/extra/only-here> ?p ?o }}"
    assert requests.get(url, params={"query": query}, timeout=10).json()["boolean"] is True
    query = f"ASK FROM <{G_FIXTURE}> {{ <https://w3id.org/mlkg/extra/only-here> ?p ?o }}"
    assert requests.get(url, params={"query": query}, timeout=10).json()["boolean"] is False


# ---------------------------------------------------------------- errors


def test_malformed_query_is_400_quoting_the_parser(url: str) -> None:
    problem = assert_problem(
        requests.get(url, params={"query": "SELECT *\nWHERE { ?s ?p }"}, timeout=10), 400
    )
    assert problem["title"] == "Malformed query"
    assert "error at 2:" in problem["detail"] and problem["line"] == 2 and problem["column"] > 0


def test_wrong_method_and_media_type_are_4xx(url: str) -> None:
    put = requests.put(url, params={"query": "ASK {}"}, timeout=10)
    assert_problem(put, 405)
    assert "GET" in put.headers["Allow"] and "POST" in put.headers["Allow"]
    assert_problem(
        requests.post(url, data=b"ASK {}", headers={"Content-Type": "text/plain"}, timeout=10), 415
    )
    assert_problem(requests.post(url, data=b"ASK {}", timeout=10), 415)
    utf16 = "ASK {}".encode("utf-16")
    assert_problem(
        requests.post(
            url,
            data=utf16,
            timeout=10,
            headers={"Content-Type": "application/sparql-query; charset=UTF-16"},
        ),
        415,
    )
    assert_problem(
        requests.post(
            url,
            data=b"ASK {\xff}",
            timeout=10,
            headers={"Content-Type": "application/sparql-query"},
        ),
        400,
    )
    assert_problem(
        requests.get(url, params=[("query", "ASK {}"), ("query", "ASK {}")], timeout=10), 400
    )
    assert_problem(requests.post(url, data={"format": "json"}, timeout=10), 400)


def test_request_body_limit(url: str) -> None:
    big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 30_000
    assert_problem(
        requests.post(
            url, data=big.encode(), timeout=10, headers={"Content-Type": "application/sparql-query"}
        ),
        413,
    )
    # a chunked body (no Content-Length): refused past the limit, never cut and run
    chunks = (part.encode() for part in [big[:10_000], big[10_000:20_000], big[20_000:]])
    assert_problem(
        requests.post(
            url, data=chunks, timeout=10, headers={"Content-Type": "application/sparql-query"}
        ),
        413,
    )
    small = requests.post(
        url,
        data=(part for part in [b"ASK { ?s ?p ", b"?o }"]),
        timeout=10,
        headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
    )
    assert small.status_code == 200 and small.json()["boolean"] is True


def test_errors_are_html_for_browsers(url: str) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = requests.get(
        url, params={"query": "SELECT * {"}, headers={"Accept": browser}, timeout=10
    )
    assert response.status_code == 400 and response.headers["Content-Type"].startswith("text/html")
    assert "Malformed query" in response.text and "Traceback" not in response.text


# ---------------------------------------------------------------- safety


@pytest.mark.parametrize(
    "update",
    [
        "INSERT DATA { <http://ex/a> <http://ex/b> <http://ex/c> }",
        "CLEAR ALL",
        "DROP ALL",
        "DELETE WHERE { ?s ?p ?o }",
        "LOAD <http://127.0.0.1:1/data.ttl>",
    ],
)
def test_updates_are_refused_and_change_nothing(url: str, update: str) -> None:
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    before = _bindings(requests.get(url, params={"query": count}, timeout=10))
    assert_problem(
        requests.post(
            url,
            data=update.encode(),
            timeout=10,
            headers={"Content-Type": "application/sparql-update"},
        ),
        400,
    )
    assert_problem(requests.post(url, data={"update": update}, timeout=10), 400)
    assert_problem(requests.get(url, params={"update": update}, timeout=10), 400)
    assert_problem(requests.get(url, params={"query": update}, timeout=10), 400)
    assert_problem(
        requests.post(
            url,
            data=update.encode(),
            timeout=10,
            headers={"Content-Type": "application/sparql-query"},
        ),
        400,
    )
    assert _bindings(requests.get(url, params={"query": count + " # again"}, timeout=10)) == before
    assert (
        requests.get(url, params={"query": "ASK { <http://ex/a> ?p ?o }"}, timeout=10).json()[
            "boolean"
        ]
        is False
    )


def test_no_query_makes_the_server_connect_or_read_a_file(url: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.ttl"
    secret.write_text("<http://ex/secret> <http://ex/p> <http://ex/o> .\n", encoding="utf-8")
    listener = Listener()
    here = f"http://127.0.0.1:{listener.port}"
    escaped_secret = secret.as_uri().replace("s", "\\u0073", 1)  # the engine reads it as the file
    try:
        refused = [
            f"SELECT * WHERE {{ SERVICE <{here}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ ?x ?y ?z OPTIONAL {{ SERVICE SILENT <{here}/sparql> {{ ?s ?p ?o }} }} }}",
            f"SELECT * WHERE {{ \\u0053ERVICE <{here}/sparql> {{ ?s ?p ?o }} }}",
            f'SELECT ?a WHERE {{ BIND(<http://x/\\u0041#> AS ?i) BIND("a\\u0022" AS ?z) '
            f'SERVICE <{here}/sparql> {{ ?a ?b ?c }} }} # "',
            f"SELECT * FROM <{escaped_secret}> WHERE {{ ?s ?p ?o }}",
            f"SELECT * FROM <{here}/data.ttl> WHERE {{ ?s ?p ?o }}",
            f"SELECT * FROM NAMED <{here}/data.ttl> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
            f"PREFIX h: <{here}/> ASK FROM h:data {{ ?s ?p ?o }}",
            f"SELECT * FROM <{secret.as_uri()}> WHERE {{ ?s ?p ?o }}",
            f"CONSTRUCT {{ ?s ?p ?o }} FROM <{secret.as_uri()}> WHERE {{ ?s ?p ?o }}",
            f"LOAD <{here}/data.ttl>",
        ]
        for query in refused:
            problem = assert_problem(requests.get(url, params={"query": query}, timeout=10), 400)
            assert problem["title"] == "Query not allowed", query
            form = requests.post(url, data={"query": query}, timeout=10)
            assert form.status_code == 400
        time.sleep(0.3)
        assert listener.connections == 0
        socket.create_connection(
            ("127.0.0.1", listener.port), timeout=2
        ).close()  # the listener works
        deadline = time.monotonic() + 2
        while listener.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.connections == 1
    finally:
        listener.close()


def test_runaway_query_is_stopped_while_others_are_served(server: LiveServer, url: str) -> None:
    outcome: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        outcome["response"] = requests.get(url, params={"query": CROSS_JOIN}, timeout=30)
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.4)
    assert server.process is not None
    workers = serving(server.process.pid)  # not mlkg.prepare, which may be writing a dump
    started = time.monotonic()
    other = requests.get(url, params={"query": f"ASK {{ <{MLE}> ?p ?o }}"}, timeout=10)
    assert other.json()["boolean"] is True and time.monotonic() - started < 1.5
    assert "response" not in outcome  # answered while the runaway was still running
    thread.join(timeout=20)
    response = outcome["response"]
    assert isinstance(response, requests.Response)
    problem = assert_problem(response, 503)
    assert "limit" in problem["detail"]
    assert TIMEOUT - 0.1 <= outcome["elapsed"] < TIMEOUT + 2.0  # type: ignore[operator]
    time.sleep(0.3)
    used = cpu_seconds(workers)
    time.sleep(1.0)
    assert cpu_seconds(workers) - used < 0.3  # the work stopped: no CPU burnt after the answer
    after = requests.get(url, params={"query": f"ASK {{ <{MLE}> ?p ?o }} # after"}, timeout=10)
    assert after.json()["boolean"] is True


def test_four_abandoned_runaways_do_not_stop_the_server(url: str) -> None:
    def abandon() -> None:
        try:
            requests.get(url, params={"query": CROSS_JOIN + " # abandoned"}, timeout=0.3)
        except requests.Timeout:
            pass

    threads = [threading.Thread(target=abandon) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    deadline = time.monotonic() + TIMEOUT + 5
    answered = False
    while time.monotonic() < deadline and not answered:
        try:
            response = requests.get(url, params={"query": "ASK {} # probe"}, timeout=TIMEOUT + 3)
            answered = response.status_code == 200 and response.json()["boolean"] is True
        except requests.RequestException:
            pass
    assert answered


# ---------------------------------------------------------------- landing page, CORS, health


def test_get_without_query_describes_the_service_to_rdf_clients(url: str) -> None:
    response = requests.get(url, headers={"Accept": "text/turtle"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(
        "text/turtle"
    )
    graph = Graph().parse(data=response.text, format="turtle")
    sd = "http://www.w3.org/ns/sparql-service-description#"
    assert (URIRef(url), URIRef(sd + "endpoint"), URIRef(url)) in graph
    names = {str(o) for o in graph.objects(None, URIRef(sd + "name"))}
    assert names == {G_FIXTURE, G_EXTRA}
    void = URIRef("https://w3id.org/mlkg/.well-known/void#dataset")
    assert (None, URIRef("http://www.w3.org/2000/01/rdf-schema#seeAlso"), void) in graph
    jsonld = requests.get(url, headers={"Accept": "application/ld+json"}, timeout=10)
    assert len(Graph().parse(data=jsonld.text, format="json-ld")) == len(graph)


def test_get_without_query_is_the_editor_for_browsers(url: str) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = requests.get(url, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert '<textarea id="query" name="query"' in response.text and 'type="submit"' in response.text
    # The form works without JavaScript: submitting it is a plain form POST.
    submitted = requests.post(
        url, data={"query": "ASK {}", "format": ""}, headers={"Accept": accept}, timeout=10
    )
    assert submitted.status_code == 200


def test_cors(url: str) -> None:
    preflight = requests.options(
        url,
        timeout=10,
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    response = requests.get(
        url, params={"query": "ASK {}"}, headers={"Origin": "https://example.org"}, timeout=10
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_health_names_the_store(server: LiveServer) -> None:
    health = requests.get(f"{server.url}/health", timeout=10).json()
    assert health["status"] == "ok" and len(health["store"]) == 16 and health["graphs"] == 2


# ---------------------------------------------------------------- real clients


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper(url: str, method: str) -> None:
    client = SPARQLWrapper(url)
    client.setMethod(method)
    client.setQuery(f"SELECT ?o WHERE {{ <{MLE}> <https://w3id.org/mlkg/def/relatedRole> ?o }}")
    client.setReturnFormat(JSON)
    rows = client.query().convert()["results"]["bindings"]  # type: ignore[index]
    assert [r["o"]["value"] for r in rows] == ["https://w3id.org/mlkg/role/data-scientist"]
    client.setQuery("ASK { ?s a <https://w3id.org/mlkg/def/Role> }")
    assert client.query().convert()["boolean"] is True  # type: ignore[index]
    client.setQuery("CONSTRUCT WHERE { <https://w3id.org/mlkg/role/data-scientist> ?p ?o }")
    client.setReturnFormat(XML)
    graph = client.query().convert()
    assert isinstance(graph, Graph) and len(graph) == 3


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_rdflib_sparqlstore(url: str, method: str) -> None:
    graph = Graph(SPARQLStore(url, method=method))
    rows = list(graph.query(f"SELECT ?label WHERE {{ <{MLE}> <{RDFS_LABEL}> ?label }}"))
    assert [str(r[0]) for r in rows] == ["machine learning engineer"]
    assert graph.query("ASK { ?s a <https://w3id.org/mlkg/def/Skill> }").askAnswer is True
    described = graph.query("DESCRIBE <https://w3id.org/mlkg/role/data-scientist>").graph
    assert described is not None and len(described) == 3
    assert (URIRef(MLE), None, None) in graph
    json.dumps([str(t) for t in graph.triples((URIRef(MLE), URIRef(RDFS_LABEL), None))])


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "text/turtle; charset=utf-8", "text/turtle"),
        ("SELECT * { ?s ?p ?o } LIMIT 1", "application/sparql-results+json; charset=utf-8",
         "application/sparql-results+json"),
        ("SELECT * { ?s ?p ?o } LIMIT 1", "text/csv; header=present", "text/csv"),
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1",
         'application/ld+json; profile="http://www.w3.org/ns/json-ld#compacted"', "application/ld+json"),
        # a type refused with q=0 does not come back through its alias matching a wildcard
        ("SELECT * { ?s ?p ?o } LIMIT 1", "application/sparql-results+json;q=0, */*;q=0.1",
         "application/sparql-results+xml"),
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "text/turtle;q=0, */*", "application/ld+json"),
        # application/* is answered with an application/ type, not text/turtle through an alias
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "application/*", "application/ld+json"),
        ("SELECT * { ?s ?p ?o } LIMIT 1", "application/json", "application/sparql-results+json"),
    ],
)
def test_accept_parameters_refusals_and_wildcards_are_negotiated_as_asked(
    url: str, query: str, accept: str, expected: str
) -> None:
    response = requests.get(url, params={"query": query}, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == expected


@pytest.mark.parametrize(("accept", "parser"), [("application/n-quads", "nquads"),
                                                ("application/trig", "trig")])
def test_the_service_description_is_written_in_the_dataset_formats_too(
    url: str, accept: str, parser: str
) -> None:
    from rdflib import Dataset

    response = requests.get(url, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(accept)
    dataset = Dataset().parse(data=response.text, format=parser)
    sd = "http://www.w3.org/ns/sparql-service-description#"
    assert any(str(o) == sd + "Service" for _, _, o, _ in dataset.quads((None, None, None, None)))
    page = requests.get(url, params={"format": "html"}, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


def test_text_that_is_not_utf8_is_refused_in_every_way_a_query_arrives(url: str) -> None:
    """Before, a GET put U+FFFD where the bad byte was and a form POST kept '%E9' as text: the query
    ran on text the client never sent."""
    query = 'SELECT ?x { BIND("caf%E9" AS ?x) }'.replace(" ", "%20")
    get = requests.get(f"{url}?query={query}", timeout=10)
    form = requests.post(url, data=f"query={query}", timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    for response in (get, form):
        problem = assert_problem(response, 400)
        assert "not valid UTF-8" in problem["detail"]
    ok = requests.get(url, params={"query": 'SELECT ?x { BIND("café" AS ?x) }'}, timeout=10)
    assert ok.json()["results"]["bindings"][0]["x"]["value"] == "café"


def test_the_fast_path_and_flask_read_format_and_output_alike(url: str) -> None:
    plain = requests.get(f"{url}?query=ASK%7B%7D&format=&output=csv", timeout=10)
    other = requests.get(f"{url}?query=ASK%7B%7D&format=&output=csv&x=1", timeout=10)
    assert plain.status_code == other.status_code
    assert plain.headers["Content-Type"] == other.headers["Content-Type"]


def test_an_ask_answer_is_not_offered_as_csv_or_tsv(url: str) -> None:
    """The SPARQL 1.1 CSV/TSV results formats carry SELECT tables only; before, an ASK came back
    as a bare 'true' labelled text/csv or TSV. A wildcard still finds JSON."""
    offered = ["application/sparql-results+json", "application/sparql-results+xml"]
    for extra in ({}, {"x": "1"}):  # the fast path, and Flask's (which takes unknown parameters)
        params = {"query": "ASK {}", **extra}
        for accept in ("text/csv", "text/tab-separated-values", "text/csv; header=present"):
            refused = requests.get(url, params=params, headers={"Accept": accept}, timeout=10)
            assert assert_problem(refused, 406)["available"] == offered
        for name in ("csv", "tsv", "text/csv"):
            refused = requests.get(url, params={**params, "format": name}, timeout=10)
            problem = assert_problem(refused, 406)
            assert problem["available"] == offered and "SELECT tables only" in problem["detail"]
        chosen = requests.get(url, params=params, headers={"Accept": "text/csv, */*;q=0.1"},
                              timeout=10)
        assert chosen.headers["Content-Type"] == "application/sparql-results+json"
        assert chosen.json()["boolean"] is True
        xml = requests.get(url, params=params, headers={"Accept": "text/csv, application/xml;q=0.5"},
                           timeout=10)
        assert xml.headers["Content-Type"] == "application/sparql-results+xml"
    direct = requests.post(url, data=b"ASK {}", timeout=10, headers={
        "Content-Type": "application/sparql-query", "Accept": "text/tab-separated-values"})
    assert assert_problem(direct, 406)["available"] == offered
    table = requests.get(url, params={"query": "SELECT (1 AS ?x) {}"},
                         headers={"Accept": "text/csv"}, timeout=10)
    assert table.headers["Content-Type"].startswith("text/csv") and table.text == "x\r\n1\r\n"


def test_an_update_parameter_beside_a_direct_post_is_refused(url: str) -> None:
    response = requests.post(
        url, params={"update": "INSERT DATA { <a:b> <a:c> <a:d> }"}, data=b"ASK {}",
        headers={"Content-Type": "application/sparql-query"}, timeout=10,
    )
    assert assert_problem(response, 400)["title"] == "Query not allowed"


def test_xml_results_keep_carriage_returns_and_refuse_what_xml_cannot_carry(url: str) -> None:
    from xml.dom.minidom import parseString

    xml = "application/sparql-results+xml"
    kept = requests.get(url, params={"query": r'SELECT ?z { VALUES ?z { "a\rb" } } ORDER BY ?z'},
                        headers={"Accept": xml}, timeout=10)
    assert kept.status_code == 200
    assert parseString(kept.content).getElementsByTagName("literal")[0].firstChild.data == "a\rb"
    refused = requests.get(url, params={"query": r'SELECT ?z { VALUES ?z { "x\u000Cy" } } ORDER BY ?z'},
                           headers={"Accept": xml}, timeout=10)
    assert "U+000C" in assert_problem(refused, 406)["detail"]


@pytest.mark.parametrize(
    ("query", "override", "expected"),
    [
        ("SELECT * { ?s ?p ?o } LIMIT 1", "application/json", "application/sparql-results+json"),
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "json-ld", "application/ld+json"),
        ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "text/turtle; charset=utf-8", "text/turtle"),
    ],
)
def test_format_takes_the_names_accept_takes(url: str, query: str, override: str, expected: str):
    """format=application/json was a 406 though Accept: application/json was served."""
    response = requests.get(url, params={"query": query, "format": override}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == expected


def _unquote_or_error(text: str) -> str:
    from urllib.parse import unquote_plus

    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return "<not UTF-8>"


def _decoded_or_error(text: str) -> str:
    from mlkg.web.sparql import decode_component

    try:
        return decode_component(text)
    except UnicodeDecodeError:
        return "<not UTF-8>"


_PIECES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["%", "%2", "%zz", "%C3", "%A9", "%e9", "+", "%2B", "%5C", "\\", "\\x41", "%%"]),
    st.integers(0, 255).map(lambda b: f"%{b:02X}"),
    st.integers(0, 255).map(lambda b: f"%{b:02x}"),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40).map(quote_plus), st.lists(_PIECES, max_size=10).map("".join)))
def test_the_fast_decoding_of_a_query_string_is_unquote_plus(text: str) -> None:
    """The fast path decodes `query=` in C where it can; it must give what unquote_plus gives
    (the same text, the same refusal of bytes that are not UTF-8) for any input."""
    assert _decoded_or_error(text) == _unquote_or_error(text)


def test_service_descriptions_kept_for_reuse_stay_few_whatever_hosts_clients_name(queries_app) -> None:
    """The description names the endpoint by the request's Host, and one was kept per host and format
    for the store's lifetime: a client naming a new host in each request grew the server's memory
    without end."""
    client = queries_app.test_client()
    for n in range(300):
        response = client.get("/sparql", headers={"Accept": "text/turtle", "Host": f"h{n}.example"})
        assert f"<http://h{n}.example/sparql>" in response.get_data(as_text=True)
    assert len(queries_app.extensions["mlkg"]["sparql_sd_cache"]) <= 64
