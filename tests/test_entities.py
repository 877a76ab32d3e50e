"""Entity pages: IRI <-> path mapping, formatting, the page model, content negotiation, unusual IRIs,
404 suggestions, evidence quotes and HTML escaping (on the fixture graph tests/data/browse)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import quote

import pytest
from rdflib import RDFS, Graph, Literal, URIRef
from rdflib.namespace import XSD

from mlkg.entities import (
    format_duration,
    format_money,
    format_number,
    iri_to_path,
    path_to_iri,
    split_suffix,
)

BASE = "https://w3id.org/mlkg/"
RDF_FORMATS = {
    "ttl": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "nt": ("application/n-triples", "nt"),
    "rdf": ("application/rdf+xml", "xml"),
}
UNUSUAL = [
    "skill/c++",
    "skill/a%2Fb",
    "skill/ns:thing",
    "skill/with%20space",
    "skill/café",
    "skill/日本",
]


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    "local", UNUSUAL + ["role/machine-learning-engineer", "def/", "source/x/c1-2"]
)
def test_path_and_iri_round_trip(local: str) -> None:
    iri = BASE + local
    path = iri_to_path(iri)
    assert path is not None and path.isascii()
    assert path_to_iri(path) == iri


def test_path_to_iri_decodes_only_unreserved_and_non_ascii() -> None:
    assert path_to_iri("/skill/%63afe") == BASE + "skill/cafe"
    assert path_to_iri("/skill/a%2fb") == BASE + "skill/a%2Fb"
    assert path_to_iri("/skill/caf%C3%A9?x=1") == BASE + "skill/café"


def test_iri_outside_the_base_has_no_path() -> None:
    assert iri_to_path("http://schema.org/Person") is None


def test_split_suffix() -> None:
    assert split_suffix("/skill/python.nt")[1].name == "ntriples"
    assert split_suffix("/skill/python.rdf")[1].name == "rdfxml"
    assert split_suffix("/skill/python.html") == ("/skill/python.html", None)


def test_number_money_and_duration_formatting() -> None:
    assert format_number(Decimal("1234567.50")) == "1,234,567.5"
    assert format_money(Decimal("63468.0"), "USD") == "$63,468"
    assert format_money(Decimal("5"), "XYZ") == "5 XYZ"
    assert format_duration("P1Y2M3DT4H") == "1 year 2 months 3 days 4 hours"
    assert format_duration("not a duration") == "not a duration"


# ---------------------------------------------------------------- HTML pages


def test_entity_page_shows_labels_values_links_and_evidence(browse_client) -> None:
    page = browse_client.get("/role/machine-learning-engineer", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<h1>machine learning engineer</h1>" in html
    assert "ML engineer" in html  # alternative label
    assert ">required skill</a>" in html  # ontology label, not the IRI
    assert 'href="/skill/python"' in html  # linked neighbour
    assert "mlkg:requiresSkill" not in html and "def/requiresSkill</" not in html
    # the statement's evidence span is quoted, with its document
    assert "<mark>machine learning engineer needs Python</mark>" in html
    assert "Fixture guide" in html and "characters 17–55" in html


def test_incoming_links_are_listed(browse_client) -> None:
    html = browse_client.get("/skill/python").get_data(as_text=True)
    assert "What refers to this" in html
    assert 'href="/role/machine-learning-engineer"' in html


def test_figures_are_formatted_with_currency_and_period(browse_client) -> None:
    html = browse_client.get("/salary/fixture-zurich").get_data(as_text=True)
    assert "$50,000 per year (average)" in html
    html = browse_client.get("/salary/fixture-range").get_data(as_text=True)
    assert "$40,000 – $60,000+ per year (typical range)" in html
    html = browse_client.get("/university/fixture-u").get_data(as_text=True)
    assert "45%" in html and "40,792" in html and "$9,695" in html
    html = browse_client.get("/certification/fixture-cert").get_data(as_text=True)
    assert "2 years" in html and "$49 per month" in html


@pytest.mark.parametrize("local", UNUSUAL)
def test_unusual_iris_are_served(browse_client, local: str) -> None:
    path = iri_to_path(BASE + local)
    response = browse_client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, path
    assert f"<code>{BASE + local}</code>" in response.get_data(as_text=True)
    turtle = browse_client.get(path, headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200
    graph = Graph().parse(data=turtle.get_data(as_text=True), format="turtle")
    assert (URIRef(BASE + local), RDFS.label, None) in graph


def test_non_ascii_path_sent_raw_is_served(browse_client) -> None:
    assert browse_client.get("/skill/" + quote("日本")).status_code == 200


def test_ontology_terms_are_served_at_def(browse_client) -> None:
    html = browse_client.get("/def/requiresSkill").get_data(as_text=True)
    assert "<h1>required skill</h1>" in html
    cls = browse_client.get("/def/Skill")
    assert cls.status_code == 200 and 'href="/classes/Skill"' in cls.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/def/Skill", "/def/requiresSkill", "/def/", "/skill/python"])
def test_type_chips_link_to_pages_that_exist(browse_client, path: str) -> None:
    # an ontology term's types (owl:Class, owl:ObjectProperty…) linked to /classes/owl:Class, a 404:
    # the class pages list the data's members, and these have none
    html = browse_client.get(path).get_data(as_text=True)
    chips = re.findall(r'<a class="chip type" href="([^"]+)"', html)
    assert chips
    for href in chips:
        if href.startswith("/"):
            assert browse_client.get(href).status_code == 200, href
    if path == "/def/Skill":
        assert "http://www.w3.org/2002/07/owl#Class" in chips


# ---------------------------------------------------------------- content negotiation


@pytest.mark.parametrize("suffix", sorted(RDF_FORMATS))
def test_suffix_selects_an_rdf_format(browse_client, suffix: str) -> None:
    media_type, parser = RDF_FORMATS[suffix]
    response = browse_client.get(f"/skill/python.{suffix}")
    assert response.status_code == 200 and response.mimetype == media_type
    graph = Graph().parse(data=response.get_data(as_text=True), format=parser)
    assert (URIRef(BASE + "skill/python"), RDFS.label, Literal("Python", lang="en")) in graph


@pytest.mark.parametrize("suffix", sorted(RDF_FORMATS))
def test_accept_selects_an_rdf_format(browse_client, suffix: str) -> None:
    media_type, parser = RDF_FORMATS[suffix]
    response = browse_client.get("/skill/python", headers={"Accept": media_type})
    assert response.status_code == 200 and response.mimetype == media_type
    assert "Accept" in response.headers["Vary"]
    graph = Graph().parse(data=response.get_data(as_text=True), format=parser)
    assert (
        URIRef(BASE + "role/machine-learning-engineer"),
        None,
        URIRef(BASE + "skill/python"),
    ) in graph


def test_browser_accept_gets_html_with_alternates(browse_client) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = browse_client.get("/skill/python", headers={"Accept": accept})
    assert response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    link = response.headers["Link"]
    for suffix, (media_type, _) in RDF_FORMATS.items():
        assert f'</skill/python.{suffix}>; rel="alternate"; type="{media_type}"' in link
    html = response.get_data(as_text=True)
    assert '<link rel="alternate" type="text/turtle" href="/skill/python.ttl"' in html


def test_format_parameter_and_unacceptable_types(browse_client) -> None:
    assert browse_client.get("/skill/python?format=ntriples").mimetype == "application/n-triples"
    # ?format= takes what Accept takes: application/json is JSON-LD here, so is format=json
    # (it was a 406 while the header got JSON-LD)
    by_accept = browse_client.get("/skill/python", headers={"Accept": "application/json"})
    by_format = browse_client.get("/skill/python?format=json")
    assert by_accept.mimetype == by_format.mimetype == "application/ld+json"
    assert by_format.get_json() == by_accept.get_json()
    assert_problem(browse_client.get("/skill/python?format=yaml"), 406)
    problem = assert_problem(
        browse_client.get("/skill/python", headers={"Accept": "image/png"}), 406
    )
    assert "text/turtle" in problem["available"]


def test_unknown_entity_is_a_404_with_near_matches(browse_client) -> None:
    problem = assert_problem(
        browse_client.get("/skill/pyton", headers={"Accept": "application/json"}), 404
    )
    assert problem["iri"] == BASE + "skill/pyton"
    assert {"label": "Python", "path": "/skill/python"} in problem["suggestions"]
    page = browse_client.get("/skill/pyton", headers={"Accept": "text/html"})
    assert page.status_code == 404 and 'href="/skill/python"' in page.get_data(as_text=True)


def test_entity_routes_do_not_shadow_other_paths(browse_app) -> None:
    rules = {r.rule: r.endpoint for r in browse_app.url_map.iter_rules()}
    assert not any(
        e.startswith("entities.")
        for r, e in rules.items()
        if r.startswith(("/sparql", "/queries", "/export", "/.well-known/void", "/ontology"))
    )


# ---------------------------------------------------------------- evidence and sources


def test_source_document_is_rendered_with_highlights_and_coverage(browse_client) -> None:
    html = browse_client.get("/source/fixture_doc").get_data(as_text=True)
    assert 'class="doc-text"' in html
    assert 'href="/source/fixture_doc/c49-55"' in html  # the Python span is a link
    assert 'id="c17-42"' in html  # anchors for spans
    assert "of its characters" in html and "content lines" in html
    # the document's own text is escaped, never markup
    assert (
        "&lt;script&gt;alert(&#34;doc&#34;)&lt;/script&gt;" in html
        or "&lt;script&gt;alert(&quot;doc&quot;)" in html
    )
    assert '<script>alert("doc")' not in html


def test_span_page_quotes_its_text_and_what_it_supports(browse_client) -> None:
    html = browse_client.get("/source/fixture_doc/c49-55").get_data(as_text=True)
    assert "<mark>Python</mark>" in html
    assert 'href="/skill/python"' in html
    assert 'href="/source/fixture_doc#c49-55"' in html


def test_without_source_texts_offsets_are_shown(tmp_path) -> None:
    from _browse import make_browse_app

    app = make_browse_app(tmp_path / "var", sources=tmp_path / "missing")
    client = app.test_client()
    html = client.get("/skill/python").get_data(as_text=True)
    assert "not available to the server" in html and "characters 49–55" in html
    doc = client.get("/source/fixture_doc").get_data(as_text=True)
    assert "not available to the server" in doc and 'class="doc-text"' not in doc


def test_statement_pages_read_as_a_triple(browse_client, browse_app) -> None:
    from mlkg.web.entities import snapshot

    with browse_app.test_request_context():
        index = snapshot().index
    statement = next(
        iri
        for iri, e in index.entries.items()
        if "http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement" in e.types
    )
    html = browse_client.get(iri_to_path(statement)).get_data(as_text=True)
    assert "machine learning engineer — required skill → Python" in html


# ---------------------------------------------------------------- escaping


def test_hostile_literals_render_as_text(browse_client) -> None:
    for path in (
        "/skill/hostile",
        "/role/machine-learning-engineer",
        "/search?q=script",
        "/classes/Skill",
        "/salary/fixture-zurich",
        "/charts",
        "/role/machine-learning-engineer",
    ):
        html = browse_client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<script>document.title" not in html, path
        assert "<i>hostile</i>" not in html, path
    html = browse_client.get("/skill/hostile").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;models&lt;/b&gt;" in browse_client.get(
        "/role/machine-learning-engineer"
    ).get_data(as_text=True)


def test_pages_send_a_content_security_policy(browse_client) -> None:
    csp = browse_client.get("/skill/python").headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )


def test_search_api_escapes_nothing_but_returns_json(browse_client) -> None:
    data = json.loads(browse_client.get("/api/search?q=script").data)
    assert data["results"][0]["label"] == "<script>alert('xss')</script>"


# ---------------------------------------------------------------- the real graph, every entity


FORMATS_TO_WALK = [("html", "text/html"), *((s, m) for s, (m, _) in RDF_FORMATS.items())]


@pytest.mark.parametrize("suffix,media_type", FORMATS_TO_WALK)
def test_every_entity_of_the_graph_is_served(queries_app, suffix: str, media_type: str) -> None:
    """Every IRI under the base in the real graph answers 200 in HTML and in each RDF format."""
    from mlkg.web.entities import snapshot

    app = queries_app
    client = app.test_client()
    with app.test_request_context():
        iris = sorted({iri.split("#")[0] for iri in snapshot().index.entries})
    assert len(iris) > 100
    failures = []
    for iri in iris:
        path = iri_to_path(iri)
        url = path if suffix == "html" else f"{path}.{suffix}"
        response = client.get(url, headers={"Accept": "text/html"})
        if response.status_code != 200 or response.mimetype != media_type:
            failures.append((url, response.status_code))
    assert not failures, failures[:10]


def test_literal_datatypes_survive_in_rdf(browse_client) -> None:
    graph = Graph().parse(
        data=browse_client.get("/university/fixture-u.ttl").get_data(as_text=True), format="turtle"
    )
    rate = graph.value(
        URIRef(BASE + "university/fixture-u"), URIRef("https://w3id.org/mlkg/def/admissionRate")
    )
    assert rate is not None and rate.datatype == XSD.decimal and rate.toPython() == Decimal("45.0")


def test_a_page_costs_one_or_two_store_queries(browse_app, monkeypatch) -> None:
    """After the per-version snapshot is loaded, a page runs at most two queries."""
    client = browse_app.test_client()
    client.get("/")  # loads the snapshot
    backend = browse_app.extensions["mlkg"]["backend"]
    calls: list[str] = []
    original = backend.run

    def counting_run(query, **kwargs):
        calls.append(query)
        return original(query, **kwargs)

    monkeypatch.setattr(backend, "run", counting_run)
    for path, most in [("/skill/python", 1), ("/skill/python.ttl", 1), ("/role/machine-learning-engineer", 2),
                       ("/source/fixture_doc", 2), ("/source/fixture_doc/c49-55", 1), ("/def/University", 2),
                       ("/classes/Skill", 0), ("/api/search?q=py", 0), ("/search?q=py", 0), ("/", 0)]:
        calls.clear()
        assert client.get(path).status_code == 200, path
        assert len(calls) <= most, (path, len(calls))


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/turtle;charset=utf-8", "text/turtle"),
        ('application/ld+json; profile="http://www.w3.org/ns/json-ld#expanded", text/html;q=0.5',
         "application/ld+json"),
        ("application/*", "application/ld+json"),  # not HTML through application/xhtml+xml
    ],
)
def test_accept_with_parameters_or_wildcards_gets_what_it_asks(browse_client, accept, expected):
    response = browse_client.get("/skill/python", headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == expected


def test_a_named_graph_iri_is_served_at_its_own_path(queries_app) -> None:
    """Named-graph IRIs (described in the VoID and the dumps) were a 404."""
    client = queries_app.test_client()
    backend = queries_app.extensions["mlkg"]["backend"]
    iri = "https://w3id.org/mlkg/graph/data/doc-002"
    response = client.get("/graph/data/doc-002.nt")
    assert response.status_code == 200 and response.mimetype == "application/n-triples"
    triples = Graph().parse(data=response.get_data(as_text=True), format="nt")
    assert len(triples) == backend.graphs()[iri] > 0
    turtle = client.get("/graph/data/doc-002", headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and len(Graph().parse(data=turtle.get_data(as_text=True))) == len(triples)
    page = client.get("/graph/data/doc-002", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["Location"].endswith("/.well-known/void")
    missing = client.get("/graph/data/no-such-graph", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and "/.well-known/void" in missing.get_json()["detail"]


def test_a_page_waiting_too_long_for_the_entity_index_is_a_503_with_retry_after(
    tmp_path, monkeypatch
) -> None:
    """Where no build wrote the entity index (written then by the first request that needs it;
    ~1 min of one core at 1M triples), requests wait a bounded time and are told to come back, not
    left hanging past their client's timeout; once it is there, the page is served."""
    import threading

    from _browse import make_browse_app

    from mlkg.web import entities

    app = make_browse_app(tmp_path / "var")
    release = threading.Event()
    real = entities.load_snapshot

    calls = []

    def slow(*args, **kwargs):
        calls.append(1)
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(entities, "load_snapshot", slow)
    monkeypatch.setattr(entities, "SNAPSHOT_WAIT", 0.3)
    client = app.test_client()
    waited = client.get("/skill/python", headers={"Accept": "application/json"})
    problem = assert_problem(waited, 503)
    assert waited.headers["Retry-After"] == "5" and "entity index" in problem["detail"]
    assert_problem(client.get("/api/search?q=python"), 503)
    assert len(calls) == 1  # both waited for the one load
    loading = app.extensions["mlkg"]["snapshot_loading"]
    release.set()
    assert loading.done.wait(30)
    assert client.get("/skill/python").status_code == 200 and len(calls) == 1
    assert "snapshot_loading" not in app.extensions["mlkg"]
