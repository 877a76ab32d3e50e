"""The ceiling benchmark's bare app and table (the run itself is `python -m mlkg.bench_ceiling`)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pyoxigraph as ox
import pytest

from mlkg import bench_ceiling


@pytest.fixture()
def store_dir(tmp_path, monkeypatch):
    path = tmp_path / "store"
    store = ox.Store(str(path))
    store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("one")))
    store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/q"), ox.Literal("two")))
    store.flush()
    del store
    monkeypatch.setenv(bench_ceiling.STORE_ENV, str(path))
    monkeypatch.setattr(bench_ceiling, "_STORE", None)
    return path


def _call(target, query: str):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(target({"QUERY_STRING": "query=" + quote(query, safe="")}, start_response))
    return seen["status"], seen["headers"], body


def test_the_bare_app_answers_what_the_engine_answers(store_dir) -> None:
    status, headers, body = _call(bench_ceiling.app, "SELECT ?p ?o WHERE { <http://e/a> ?p ?o }")
    assert status == "200 OK"
    assert headers["Content-Length"] == str(len(body))
    rows = json.loads(body)["results"]["bindings"]
    assert sorted(r["o"]["value"] for r in rows) == ["one", "two"]


def test_the_headers_variant_carries_mlkg_security_headers(store_dir) -> None:
    _, headers, body = _call(bench_ceiling.app_with_headers, "ASK { <http://e/a> ?p ?o }")
    assert json.loads(body)["boolean"] is True
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_the_table_gives_each_row_its_ratio_to_raw() -> None:
    text = bench_ceiling.table(
        [
            ("raw Oxigraph", 10_000.0, 150.0, 0),
            ("bare app, 1 thread", 7_500.0, 210.4, 0),
            ("mlkg serve, 8 threads, cache off", 3_100.0, 460.0, 2),
        ]
    )
    assert "| raw Oxigraph | 10,000 | 1.00× | 150 µs | 0 |" in text
    assert "| bare app, 1 thread | 7,500 | 0.75× | 210 µs | 0 |" in text
    assert "| mlkg serve, 8 threads, cache off | 3,100 | 0.31× | 460 µs | 2 |" in text


def test_the_rsgi_variant_answers_what_the_wsgi_one_does(store_dir) -> None:
    import asyncio

    sent = {}

    class Protocol:
        def response_bytes(self, status, headers, body):
            sent.update(status=status, headers=dict(headers), body=body)

    class Scope:
        query_string = "query=" + quote("SELECT ?p ?o WHERE { <http://e/a> ?p ?o }", safe="")

    asyncio.run(bench_ceiling.rsgi_app(Scope(), Protocol()))
    _, _, wsgi_body = _call(bench_ceiling.app, "SELECT ?p ?o WHERE { <http://e/a> ?p ?o }")
    assert sent["status"] == 200
    assert sent["headers"]["content-type"] == "application/sparql-results+json"
    assert json.loads(sent["body"]) == json.loads(wsgi_body)


def test_every_row_runs_through_an_interface_granian_has() -> None:
    from granian.constants import Interfaces

    offered = {i.value for i in Interfaces}
    for server in bench_ceiling.SERVERS:
        assert server.interface in offered
        if server.kind == "bare":
            assert callable(getattr(bench_ceiling, server.target))
