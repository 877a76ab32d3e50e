"""Hostile input: property-based fuzzing of /sparql, canned-query parameters, search and entity and
export paths (no 5xx, no traceback, security headers on every answer), and a fixture graph of hostile
literals that must render safely in HTML, CSV and JSON.

Bounded: each property runs a few dozen examples without deadlines; the file runs in well under 60 s.
"""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from _live import LiveServer, build_from_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlkg.config import Settings

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "data" / "hostile" / "hostile.ttl"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Pieces hostile paths and parameters are made of.
NASTY = [
    "..", "/../", "%2e%2e", "%2E%2E/", "..%2f", "..%2F", "%2e%2e%2f", "%c0%ae", "%ff", "%fe%ff", "%80",
    "%00", "%0d%0a", "%0D%0ASet-Cookie:x=1", "\\..\\", "etc/passwd", "%25", "%", "%zz", "<script>",
    "\"'><img onerror=1>", "=cmd|'/C calc'!A0", "\u202e", "%E2%80%AE", "a" * 300, "?", "#", ";", "&",
    "~", " ", "%20", "%u002e", "//", "%2f%2f", "NUL", "\U0001f600",
]
nasty_text = st.lists(st.sampled_from(NASTY) | st.text(max_size=8), min_size=1, max_size=6).map("".join)


@pytest.fixture(scope="module")
def hostile_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("hostile") / "var"
    build_from_files(var, {
        "https://w3id.org/mlkg/graph/data/hostile": HOSTILE,
        "https://w3id.org/mlkg/graph/ontology/mlkg": ROOT / "ontology" / "mlkg.ttl",
    })
    return var


@pytest.fixture(scope="module")
def app(hostile_var: Path):
    """The production app (query worker pool) over the hostile fixture graph."""
    from mlkg.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": Settings().with_overrides(
        var_dir=hostile_var, workers=1, sources_dir=hostile_var / "no-sources", query_timeout=5.0)})
    yield app
    app.extensions["mlkg"]["backend"].close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def check(reply, what: str) -> None:
    """No 5xx, no traceback, the security headers, and problem JSON for API errors."""
    body = reply.get_data()
    assert reply.status_code < 500, (what, reply.status_code, body[:300])
    assert b"Traceback" not in body and b'File "' not in body, what
    headers = reply.headers
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), (what, dict(headers))
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    for name, value in headers.items():
        assert "\r" not in value and "\n" not in value, (what, name)
    if reply.status_code >= 400 and reply.mimetype == "application/problem+json":
        problem = json.loads(body)
        assert problem["status"] == reply.status_code and problem["detail"], what


# ---------------------------------------------------------------- properties


@FUZZ
@given(query=st.text(max_size=200) | nasty_text, fmt=st.sampled_from(["", "json", "csv", "xml", "<x>", "%ff"]))
def test_sparql_get_with_any_query_text(client, query: str, fmt: str) -> None:
    params = {"query": query, **({"format": fmt} if fmt else {})}
    check(client.get("/sparql", query_string=params), f"GET /sparql {params!r}")


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from([
    "application/sparql-query", "application/sparql-query; charset=latin-1",
    "application/x-www-form-urlencoded", "text/plain", "application/sparql-update", ""]))
def test_sparql_post_with_any_bytes(client, body: bytes, content_type: str) -> None:
    check(client.post("/sparql", data=body, content_type=content_type), f"POST {content_type} {body!r}")


@FUZZ
@given(raw=nasty_text)
def test_sparql_with_raw_percent_encoded_garbage_in_the_query_string(client, raw: str) -> None:
    check(client.get("/sparql?query=" + raw.replace(" ", "+").replace("#", "%23")), f"raw {raw!r}")


@FUZZ
@given(prefix=st.sampled_from(["/skill/", "/role/", "/def/", "/source/", "/.well-known/genid/", "/export.",
                               "/queries/", "/classes/", "/title/", "/static/", "/"]),
       rest=nasty_text, accept=st.sampled_from(["text/html", "text/turtle", "*/*", "application/ld+json", "x/y"]))
def test_entity_export_and_query_paths(client, prefix: str, rest: str, accept: str) -> None:
    path = prefix + rest.replace("#", "%23").replace("?", "%3F")
    path = "/" + path.lstrip("/")  # "//x" would be a network-path reference (a host) to the test client
    reply = client.get(path, headers={"Accept": accept})
    check(reply, f"GET {path!r} ({accept})")
    body = reply.get_data()
    assert b"root:x:0:0" not in body and b"[core]" not in body, path  # no file from outside served


@FUZZ
@given(query=st.sampled_from(["job_titles", "industries", "salaries_above", "career_path", "role_profile"]),
       name=st.sampled_from(["role", "page", "format", "amount", "from", "to", "x"]),
       value=nasty_text, suffix=st.sampled_from(["", ".csv", ".json", ".tsv", ".html", ".xyz"]))
def test_canned_query_parameters(client, query: str, name: str, value: str, suffix: str) -> None:
    reply = client.get(f"/queries/{query}{suffix}", query_string={name: value})
    check(reply, f"/queries/{query}{suffix}?{name}={value!r}")
    link = reply.headers.get("Link", "")
    assert "\r" not in link and "\n" not in link


@FUZZ
@given(q=st.text(max_size=120) | nasty_text, extra=st.sampled_from(["", "&limit=-1", "&limit=99999999999",
                                                                    "&type=%ff", "&limit=abc"]))
def test_search_with_any_text(client, q: str, extra: str) -> None:
    check(client.get("/api/search?q=" + quote(q, safe="%") + extra), f"/api/search {q!r}{extra}")
    check(client.get("/search?q=" + quote(q, safe="%") + extra, headers={"Accept": "text/html"}), f"/search {q!r}")


# ---------------------------------------------------------------- specific attacks


@pytest.mark.parametrize("path", [
    "/skill/../../../../etc/passwd", "/skill/%2e%2e/%2e%2e/etc/passwd", "/skill/..%2f..%2fetc%2fpasswd",
    "/export.%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/export.../../etc/passwd", "/static/../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml", "/static/..%2f..%2fpyproject.toml", "/source/..%2f..%2f.git%2fconfig",
    "/def/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/queries/..%2f..%2fpyproject.toml",
])
def test_path_traversal_serves_nothing_from_outside(client, path: str) -> None:
    reply = client.get(path)
    check(reply, path)
    assert reply.status_code in (400, 404, 405, 406, 308, 301), (path, reply.status_code)
    body = reply.get_data()
    assert b"root:" not in body and b"[project]" not in body and b"[core]" not in body


def test_deeply_nested_query_is_refused_with_a_clear_error(client) -> None:
    for query in ("SELECT * WHERE " + "{" * 20000 + "}" * 20000,
                  "SELECT * { FILTER(" + "(" * 20000 + "1" + ")" * 20000 + ") }"):
        reply = client.get("/sparql", query_string={"query": query})
        check(reply, "nested")
        assert reply.status_code == 400 and "levels deep" in reply.get_json()["detail"]
    ok = client.get("/sparql", query_string={"query": "SELECT * WHERE " + "{" * 50 + "}" * 50})
    assert ok.status_code == 200


def test_a_huge_body_is_refused_with_413(client, app) -> None:
    limit = app.extensions["mlkg"]["settings"].max_body
    reply = client.post("/sparql", data=b"ASK {} #" + b"x" * (limit + 10), content_type="application/sparql-query")
    check(reply, "huge body")
    assert reply.status_code == 413
    form = client.post("/sparql", data={"query": "ASK {} #" + "x" * (limit + 10)})
    assert form.status_code == 413


def test_crlf_in_parameters_never_reaches_a_header(client) -> None:
    reply = client.get("/queries/job_titles?format=csv&role=x%0d%0aSet-Cookie:%20a=1&page=1%0d%0aX:1")
    check(reply, "crlf")
    assert "Set-Cookie" not in reply.headers
    reply = client.get("/skill/a%0d%0aSet-Cookie:%20a=1", headers={"Accept": "text/turtle"})
    check(reply, "crlf entity")
    assert "Set-Cookie" not in reply.headers


# ---------------------------------------------------------------- hostile literals


def test_hostile_literals_are_escaped_in_html_pages(client) -> None:
    for path in ("/role/machine-learning-engineer", "/skill/xss", "/title/rtl", "/title/formula",
                 "/queries/job_titles", "/search?q=script", "/classes/JobTitle"):
        reply = client.get(path, headers={"Accept": "text/html"})
        check(reply, path)
        assert reply.status_code == 200, path
        html = reply.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "</title><script>" not in html, path
        assert "\u202e" not in html, path  # bidi overrides are shown as [U+202E], not obeyed
        assert 'href="javascript:' not in html.lower(), path
    page = client.get("/title/rtl", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "safe[U+202E]gnp.exe" in page
    role = client.get("/role/machine-learning-engineer", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;role&#39;)&lt;/script&gt;" in role


def test_formula_cells_are_neutralized_in_canned_query_csv(client) -> None:
    reply = client.get("/queries/job_titles.csv")
    check(reply, "csv")
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True))))
    labels = {row["label"] for row in rows}
    assert "'=cmd|' /C calc'!A0" in labels and "'+SUM(1,2)" in labels and '\'@HYPERLINK("http://evil")' in labels
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "-", "\t", "\r")), value
    tsv = client.get("/queries/job_titles.tsv").get_data(as_text=True)
    assert '"\'=cmd' in tsv


def test_hostile_literals_are_plain_strings_in_json(client) -> None:
    reply = client.get("/api/search?q=script")
    check(reply, "search json")
    assert reply.mimetype == "application/json"
    labels = json.dumps(reply.get_json())
    assert "<script>alert" in labels  # kept as data: JSON is not HTML (nosniff, CSP)
    answer = client.get("/queries/job_titles.json").get_json()
    assert any(row["label"] == "=cmd|' /C calc'!A0" for row in answer["rows"])  # JSON keeps the value


# ---------------------------------------------------------------- the real server


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        chunks = []
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):  # refused before reading it all
            pass
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:  # the server answered and closed while we were sending
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def test_the_live_server_survives_malformed_requests(hostile_var: Path) -> None:
    with LiveServer(hostile_var, args=("--processes", "1", "--workers", "1")) as server:
        requests_to_send = [
            b"GET /skill/%ff%fe%c0%ae HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /sparql?query=%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /\xff\xfe/../ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\nConnection: close\r\n\r\n",
            (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            b"Content-Length: 99999999999\r\nConnection: close\r\n\r\nASK {}"),
            b"GET /search?q=%0d%0aSet-Cookie:a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
        for raw in requests_to_send:
            answer = _raw(server.url, raw)
            if not answer and b"X-Big" in raw:
                continue  # the server may reset a connection whose headers pass its limit: nothing served
            status_line = answer.split(b"\r\n", 1)[0]
            assert status_line.startswith(b"HTTP/1."), (raw[:60], answer[:200])
            code = int(status_line.split()[1])
            assert code < 500, (raw[:60], answer[:300])
            assert b"Traceback" not in answer
            head = answer.split(b"\r\n\r\n", 1)[0]
            assert b"\r\nSet-Cookie" not in head
        # granian (hyper, the http crate) takes a request-target of at most 65,534 bytes, whatever
        # its buffer size, and answers a longer one itself: 414, no body, none of our headers
        # (docs/hardening.md). Up to that length the app answers, with its headers.
        for length, reaches_the_app in ((65_534, True), (65_535, False), (100_000, False)):
            target = b"/" + b"a" * (length - 1)
            answer = _raw(server.url, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                          b"Accept: application/json\r\nConnection: close\r\n\r\n")
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 404" if reaches_the_app else b"HTTP/1.1 414"), length
            assert (b"frame-ancestors 'none'" in head) is reaches_the_app, head
            assert (b'"status":404' in body) is reaches_the_app and b"Traceback" not in body
        import requests

        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        reply = requests.get(f"{server.url}/sparql", params={"query": "ASK {}"}, timeout=5)
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]  # the fast path
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert "Traceback" not in server.read_log()
