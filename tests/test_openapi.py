"""mlkg.openapi: /openapi.json is a valid OpenAPI 3.1 document generated from the query files,
every operation in it answers as it says, and /api/docs renders it on the server (no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

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


def test_schemathesis_finds_no_mismatch_between_the_document_and_the_app(queries_app):
    """Bounded property-based run: for every operation, schema-valid requests are accepted, every
    response (status, content type, headers, JSON body) conforms to the document; no 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_wsgi("/openapi.json", queries_app)
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
