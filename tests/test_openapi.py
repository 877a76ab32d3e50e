"""mlkg.openapi: /openapi.json is a valid OpenAPI 3.1 document generated from the query files,
every operation in it answers as it says, and /api/docs renders it on the server (no CDN)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from mlkg._iri import IRI_PATTERN, IRI_RE
from mlkg.openapi import build_openapi
from mlkg.queries import load_catalogue

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def doc(queries_app) -> dict:
    response = queries_app.test_client().get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture()
def client(queries_app):
    return queries_app.test_client()


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        path = node["$ref"].removeprefix("#/").split("/")
        node = doc
        for part in path:
            node = node[part]
    return node


def _schema(doc: dict, schema: dict) -> dict:
    """A schema with the document's components, for jsonschema to resolve $refs against."""
    return {**schema, "components": doc["components"]}


def _example(param: dict):
    schema = param["schema"]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if schema.get("format") == "iri":
        return "https://w3id.org/mlkg/def/passingScore"
    return {"integer": 1, "number": 1.5, "boolean": True}.get(schema["type"], "learning")


def _arguments(op: dict, *, optional: bool) -> dict:
    args = {}
    for param in op["parameters"]:
        if param["name"] in ("format", "page"):
            continue
        if param["required"] or optional:
            args[param["name"]] = str(_example(param))
    return args


def test_the_document_is_valid_openapi_31(doc):
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_canned_query_is_an_operation_with_typed_parameters(doc):
    catalogue = load_catalogue(ROOT / "queries")
    operations = {op["get"]["operationId"]: op["get"] for op in doc["paths"].values()}
    assert set(operations) == {q.name for q in catalogue} | {"listQueries"}
    cheap = {p["name"]: p for p in operations["certifications_under_price"]["parameters"]}
    assert cheap["maxPrice"]["schema"] == {"type": "number", "default": 250}
    assert cheap["maxPrice"]["required"] is False
    assert cheap["billing"]["schema"]["enum"] == [
        "https://w3id.org/mlkg/def/OneOff",
        "https://w3id.org/mlkg/def/Monthly",
    ]
    search = {p["name"]: p for p in operations["search"]["parameters"]}
    assert search["text"]["required"] is True and search["text"]["schema"]["type"] == "string"
    exam = {p["name"]: p for p in operations["exam_facts"]["parameters"]}
    assert exam["certification"]["schema"]["format"] == "iri"
    assert (
        "https://w3id.org/mlkg/certification/aws-certified-machine-learning-specialty"
        in exam["certification"]["schema"]["examples"]
    )  # choices drawn from the graph
    assert {p["name"] for p in operations["schools"]["parameters"]} == {"format", "page"}


def test_the_document_is_generated_from_the_files(tmp_path):
    (tmp_path / "one_thing.rq").write_text(
        "#+ summary: One thing\n#+ tags: [x]\n"
        "SELECT ?s WHERE { ?s ?p ?_when_xsd_date } ORDER BY ?s\n"
    )
    doc = build_openapi(load_catalogue(tmp_path))
    validate(doc)
    [param] = [
        p for p in doc["paths"]["/queries/one_thing"]["get"]["parameters"] if p["name"] == "when"
    ]
    assert param["schema"] == {"type": "string", "format": "date"} and param["required"] is True


def test_an_ask_query_is_described_without_csv_or_tsv(tmp_path):
    (tmp_path / "anything.rq").write_text("#+ summary: Anything?\nASK { ?s ?p ?o }\n")
    (tmp_path / "things.rq").write_text("#+ summary: Things\nSELECT ?s { ?s ?p ?o } ORDER BY ?s\n")
    doc = build_openapi(load_catalogue(tmp_path))
    validate(doc)
    ask, select = (doc["paths"][f"/queries/{name}"]["get"] for name in ("anything", "things"))
    [ask_format] = [p for p in ask["parameters"] if p["name"] == "format"]
    assert ask_format["schema"]["enum"] == ["json", "html", "srj", "srx"]
    assert set(_resolve(doc, ask["responses"]["200"])["content"]) == {
        "application/json", "text/html", "application/sparql-results+json",
        "application/sparql-results+xml",
    }
    assert "text/csv" in _resolve(doc, select["responses"]["200"])["content"]


@pytest.mark.parametrize("optional", [False, True], ids=["required-only", "all-parameters"])
def test_every_operation_answers_as_described(doc, client, optional):
    answer_schema = _schema(doc, _resolve(doc, {"$ref": "#/components/schemas/Answer"}))
    for path, item in doc["paths"].items():
        op = item["get"]
        args = _arguments(op, optional=optional)
        response = client.get(path, query_string=args, headers={"Accept": "application/json"})
        assert str(response.status_code) in op["responses"], (path, response.status_code)
        assert response.status_code == 200, (path, args, response.get_data(as_text=True))
        body = response.get_json()
        if path == "/queries":
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            jsonschema.validate(body, _schema(doc, _resolve(doc, ok)))
            continue
        jsonschema.validate(body, answer_schema)
        assert body["query"] == op["operationId"]
        declared = _resolve(doc, op["responses"]["200"])["content"]
        for media_type in declared:
            other = client.get(path, query_string=args, headers={"Accept": media_type})
            assert other.status_code == 200 and other.mimetype == media_type, (path, media_type)


def test_errors_are_described_problems(doc, client):
    problem_schema = _schema(doc, _resolve(doc, {"$ref": "#/components/schemas/Problem"}))
    op = doc["paths"]["/queries/certifications_under_price"]["get"]
    assert "400" in op["responses"]
    response = client.get("/queries/certifications_under_price?maxPrice=x")
    assert response.status_code == 400
    jsonschema.validate(response.get_json(), problem_schema)
    missing = client.get("/queries/search")
    jsonschema.validate(missing.get_json(), problem_schema)
    assert missing.get_json()["expected"] == "literal"


def test_docs_page_renders_every_operation_on_the_server(doc, client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "cdn" not in page.lower()
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", page), "no script from another site"
    assert "swagger" not in page.lower()  # rendered on the server, not by a client-side viewer
    for path, item in doc["paths"].items():
        assert f'id="{item["get"]["operationId"]}"' in page
        assert f"GET {path}" in page
    assert "<code>maxPrice</code>" in page and "<code>250</code>" in page


#: What schemathesis draws IRI parameters from: IRIs the server takes (a subset of the published
#: pattern's). Drawing from the published RFC 3987 pattern itself took hypothesis's regex strategy
#: minutes per operation; that pattern is held to the server's check below, on its own.
SIMPLE_IRI = "^https://w3id[.]org/mlkg/[a-z]{1,12}/[a-z0-9-]{1,20}$"


def _with_simple_iris(app):
    """`app`, whose /openapi.json draws IRI parameters from SIMPLE_IRI."""
    import json

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/openapi.json":
            return app(environ, start_response)
        doc = app.test_client().get("/openapi.json").get_json()
        text = json.dumps(doc)
        assert json.dumps(IRI_PATTERN) in text  # the canned queries have IRI parameters
        body = text.replace(json.dumps(IRI_PATTERN), json.dumps(SIMPLE_IRI)).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return wsgi


def test_schemathesis_finds_no_mismatch_between_the_document_and_the_app(queries_app):
    """Bounded property-based run: for every operation, schema-valid requests are accepted, every
    response (status, content type, headers, JSON body) conforms to the document; no 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_wsgi("/openapi.json", _with_simple_iris(queries_app))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(load_catalogue(ROOT / "queries")) + 1
    for operation in operations:

        @given(operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate()

        check()


# ---------------------------------------------------------------- the IRI parameter's schema

#: IRIs the server takes (`mlkg.queries.is_iri`) and IRIs it refuses, the hard cases of RFC 3987.
GOOD_IRIS = [
    "https://w3id.org/mlkg/role/ml-engineer", "urn:isbn:0451450523", "a:", "a:b", "A+.-1:x",
    "mailto:someone@example.org", "http://a/b?c=d&e#f/g?h", "http://user:pw@h.example:8080/p",
    "http://[::1]/", "http://[::]", "http://[1:2:3:4:5:6:7:8]/", "http://[::ffff:192.0.2.1]/",
    "http://[1:2:3:4:5:6:7::]/", "http://[v1.x:y]/", "http://h:/", "http://%41@h/%7E",
    "http://example.org/caf\u00e9", "http://\u00e9.example/", "a:?\ue000", "a:\U00010000",
    "a:?\U00100000", "a:/x:y@z", "a:///", "http://h/" + "x" * 2000,
]
BAD_IRIS = [
    "http://a/#x#y", "http://a/%zz", "http://a/%4", "a:%", "http://a:b/", "http://a@b@c/",
    "http://[x]/", "http://[::1]x/", "http://[::01.2.3.4]/", "http://[1:2:3:4:5:6:7::8]/",
    "http://[fe80::1%25eth0]/", "http://[v1.]/", "http://[::1]:8a/", "a:\ue000", "a:#\ue000",
    "a:\ufdd0", "a:\U0001fffe", "a:b c", "a:b\n", "a:<b>", "a:\x7f", "a:\x80", "1a:b", "no-scheme",
    "", "http://a/{x}", "http://a/\\u0041", "http://h/" + "x" * 2040,
]
#: Characters around the edges of the grammar, for generated near-IRIs.
IRI_PIECES = st.sampled_from(
    list("ab0fF9:/?#@[]%.-_~!$&'()*+,;=vV \n\"<>{}|^`\\")
    + ["%4", "%41", "%zz", "::", "1.2.3.4", "\u00a0", "\u00e9", "\ue000", "\ufdd0", "\uffef",
       "\U00010000", "\U0001fffe", "\U000e1000", "\U000f0000", "\U0010fffd", "\x7f", "\x9f"]
)
NEAR_IRIS = st.builds(
    lambda head, body: head + "".join(body),
    st.sampled_from(["http://", "a:", "a://", "a://[", "http://h/", "a:?", "a:#", "1:", ":"]),
    st.lists(IRI_PIECES, max_size=16),
)


def _text(ascii_chars: str, *, private: bool = False) -> st.SearchStrategy[str]:
    """Text of one IRI component: its ASCII characters, percent escapes, non-ASCII ucschar (and
    iprivate in a query). (Hypothesis' from_regex on IRI_PATTERN itself is ~100 ms an example.)"""
    ucschar = st.characters(min_codepoint=0xA0, max_codepoint=0xD7FF) | st.characters(
        min_codepoint=0x10000, max_codepoint=0x1FFFD
    )
    one = st.sampled_from(list(ascii_chars)) | st.from_regex(r"%[0-9A-Fa-f]{2}", fullmatch=True)
    one |= ucschar | (st.sampled_from(["\ue000", "\U000f0000", "\U0010fffd"]) if private else one)
    return st.lists(one, max_size=8).map("".join)


_ASCII = "AZaz09-._~!$&'()*+,;="
def _iri(scheme: str, authority: str, path: str, query: str, fragment: str) -> str:
    """The parts as one IRI: after an authority, a path is empty or starts with "/"; without one,
    it never starts with "//"."""
    if authority and path and not path.startswith("/"):
        path = "/" + path
    elif not authority and path.startswith("//"):
        path = "/" + path.lstrip("/")
    return scheme + authority + path + query + fragment


VALID_IRIS = st.builds(
    _iri,
    st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,5}:", fullmatch=True),
    st.one_of(
        st.just(""),
        st.builds(
            lambda user, host, port: f"//{user}{host}{port}",
            st.just("") | _text(_ASCII + ":").map(lambda u: u + "@"),
            _text(_ASCII)
            | st.ip_addresses(v=6).map(lambda ip: f"[{ip.compressed}]")
            | st.ip_addresses(v=6).map(lambda ip: f"[{ip.exploded}]")
            | st.ip_addresses(v=4).map(lambda ip: f"[::ffff:{ip}]"),
            st.just("") | st.integers(0, 99999).map(lambda n: f":{n}"),
        ),
    ),
    _text(_ASCII + ":@/"),
    st.just("") | _text(_ASCII + ":@/?", private=True).map(lambda q: "?" + q),
    st.just("") | _text(_ASCII + ":@/?").map(lambda f: "#" + f),
)


@functools.cache
def _iri_schema_answers() -> list:
    """Each JSON Schema validator's verdict on a value, against the IRI parameter's schema as the
    OpenAPI description publishes it: Python's `re` (jsonschema), and ECMA-262 regular
    expressions (jsonschema-rs, which schemathesis brings)."""
    from mlkg.openapi import parameter_schema
    from mlkg.queries import Parameter

    schema = parameter_schema(Parameter("thing", "_thing_iri", True, "iri"))
    checks = [jsonschema.Draft202012Validator(schema).is_valid]
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    checks.append(jsonschema_rs.validator_for(schema).is_valid)
    return checks


@pytest.mark.parametrize("value", GOOD_IRIS + BAD_IRIS)
def test_the_iri_schema_accepts_exactly_what_the_server_accepts(value):
    """Before, the description's pattern let through IRIs the server refused with 400 (a second
    '#', '%zz', a bad IPv6 host): a client checking its values against it still failed."""
    from mlkg.queries import is_iri

    assert is_iri(value) is (value in GOOD_IRIS)
    assert [check(value) for check in _iri_schema_answers()] == [is_iri(value)] * 2


@settings(max_examples=300, deadline=None)
@given(value=NEAR_IRIS | VALID_IRIS)
def test_the_iri_schema_and_the_server_never_disagree(value):
    from mlkg.queries import is_iri

    assert [check(value) for check in _iri_schema_answers()] == [is_iri(value)] * 2


@settings(max_examples=100, deadline=None)
@given(value=VALID_IRIS)
def test_iris_built_by_the_grammar_are_taken_by_both(value):
    from mlkg.queries import is_iri

    assert is_iri(value) and IRI_RE.search(value)


def test_a_fair_use_refusal_is_described_and_answers_as_described(doc, client, queries_app, monkeypatch):
    """Every operation lists 429 (fair use applies to every route but /static and /health), and a
    real refusal of a canned query is the described problem with its Retry-After."""
    from mlkg.fairuse import Limits

    for path, item in doc["paths"].items():
        assert "429" in item["get"]["responses"], path
    described = _resolve(doc, doc["paths"]["/queries/schools"]["get"]["responses"]["429"])
    assert "Retry-After" in described["headers"]
    fair = queries_app.extensions["mlkg"]["fair_use"]
    monkeypatch.setattr(fair, "limits", Limits(concurrent=1, seconds_per_minute=60, exempt_loopback=False))
    fair.enter("203.0.113.7")  # one request of this client in flight: the next is one too many
    try:
        refused = client.get("/queries/schools", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    finally:
        fair.leave("203.0.113.7", 0.0)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 0
    assert refused.mimetype in described["content"]
    jsonschema.validate(refused.get_json(), _schema(doc, described["content"]["application/problem+json"]["schema"]))
