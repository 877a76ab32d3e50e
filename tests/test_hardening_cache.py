"""The page cache: a repeat of an entity page, canned query or search is served from memory with an
ETag (304 on If-None-Match), and a new store version is rendered afresh."""

from __future__ import annotations

from pathlib import Path

import pytest
from _live import build_from_files

from mlkg.config import Settings

ROOT = Path(__file__).resolve().parents[1]
THING = "https://w3id.org/mlkg/def/Thing"


def _store(var: Path, label: str, extra: str = "") -> None:
    data = var.parent / f"{label}.ttl"
    data.write_text(f'<https://w3id.org/mlkg/skill/one> a <https://w3id.org/mlkg/def/Skill> ; '
                    f'<http://www.w3.org/2000/01/rdf-schema#label> "{label}" .\n{extra}', encoding="utf-8")
    build_from_files(var, {"https://w3id.org/mlkg/graph/data/one": data,
                           "https://w3id.org/mlkg/graph/ontology/mlkg": ROOT / "ontology" / "mlkg.ttl"})


@pytest.fixture()
def cached_app(tmp_path: Path):
    from mlkg.web import create_app

    var = tmp_path / "var"
    _store(var, "first label", '<https://w3id.org/mlkg/skill/a%2Fb> a <https://w3id.org/mlkg/def/Skill> .\n'
                               '<https://w3id.org/mlkg/skill/c%3Ad> a <https://w3id.org/mlkg/def/Skill> .\n')
    app = create_app({"TESTING": True, "PAGE_CACHE": True,
                      "SETTINGS": Settings().with_overrides(var_dir=var, workers=1, sources_dir=var / "none")})
    yield app, var
    app.extensions["mlkg"]["backend"].close()


def test_a_repeated_page_comes_from_the_cache_with_an_etag(cached_app) -> None:
    app, _ = cached_app
    client, cache = app.test_client(), app.extensions["mlkg"]["page_cache"]
    first = client.get("/skill/one", headers={"Accept": "text/html"})
    assert first.status_code == 200 and "first label" in first.get_data(as_text=True)
    assert cache.hits == 0
    second = client.get("/skill/one", headers={"Accept": "text/html"})
    assert cache.hits == 1
    assert second.get_data() == first.get_data() and second.headers["ETag"] == first.headers["ETag"]
    assert "frame-ancestors 'none'" in second.headers["Content-Security-Policy"]
    turtle = client.get("/skill/one", headers={"Accept": "text/turtle"})  # another Accept, another entry
    assert turtle.mimetype == "text/turtle" and cache.hits == 1
    again = client.get("/skill/one", headers={"Accept": "text/html", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert "frame-ancestors 'none'" in again.headers["Content-Security-Policy"]
    client.get("/api/search?q=first")
    assert client.get("/api/search?q=first").get_json() == client.get("/api/search?q=first").get_json()
    assert cache.hits >= 3


def test_paths_that_name_different_iris_are_different_entries(cached_app) -> None:
    # %2F and %3A stay escaped in the IRI a path names (/skill/a%2Fb is not /skill/a/b), while the
    # path Flask decodes is the same for both: keyed by it, the cached page of one was served for
    # the other, an entity the graph does not have
    app, _ = cached_app
    client = app.test_client()
    for iri_path, other in (("/skill/a%2Fb", "/skill/a/b"), ("/skill/c%3Ad", "/skill/c:d")):
        assert client.get(iri_path).status_code == 200
        assert client.get(iri_path).status_code == 200  # now in the cache
        assert client.get(other).status_code == 404


def test_a_head_request_has_the_headers_of_the_get(cached_app) -> None:
    # a HEAD bypassed the cache: no ETag (a GET had one), and If-None-Match never got a 304
    app, _ = cached_app
    client = app.test_client()
    for first in ("HEAD", "GET"):
        path = "/skill/one" if first == "HEAD" else "/api/search?q=first"
        head = client.head(path)
        assert head.status_code == 200 and head.get_data() == b""
        get = client.get(path)
        assert head.headers["ETag"] == get.headers["ETag"]
        assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(len(get.get_data()))
        again = client.head(path, headers={"If-None-Match": get.headers["ETag"]})
        assert again.status_code == 304 and again.get_data() == b""


def test_errors_are_not_cached_and_a_new_store_version_renders_afresh(cached_app) -> None:
    from mlkg.backends import PooledBackend
    from mlkg.build import current_store

    app, var = cached_app
    client, cache = app.test_client(), app.extensions["mlkg"]["page_cache"]
    assert client.get("/skill/none").status_code == 404
    assert client.get("/skill/none").status_code == 404 and cache.hits == 0
    assert "first label" in client.get("/skill/one").get_data(as_text=True)
    _store(var, "second label")
    state = app.extensions["mlkg"]
    old, state["backend"] = state["backend"], PooledBackend(current_store(state["settings"]), workers=1)
    old.close()
    state.pop("snapshot", None)
    assert "second label" in client.get("/skill/one").get_data(as_text=True)
