"""Home, class index and class pages (sorting, paging), the editor partial, and markup basics."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest


class _Checker(HTMLParser):
    """Collects what accessibility checks need: headings, images without alt, inputs without labels."""

    def __init__(self) -> None:
        super().__init__()
        self.h1, self.imgs_without_alt, self.inputs, self.labels, self.inline_scripts = (
            0,
            0,
            [],
            set(),
            0,
        )

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        if tag == "img" and "alt" not in a:
            self.imgs_without_alt += 1
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.inputs.append(a.get("id"))
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag == "script" and "src" not in a and a.get("type") != "application/json":
            self.inline_scripts += 1


PAGES = [
    "/",
    "/classes",
    "/classes/Skill",
    "/charts",
    "/search?q=python",
    "/skill/python",
    "/role/machine-learning-engineer",
    "/source/fixture_doc",
    "/source/fixture_doc/c49-55",
    "/def/Skill",
]


def test_pages_have_one_h1_labelled_inputs_and_no_inline_script(browse_client) -> None:
    for path in PAGES:
        response = browse_client.get(path)
        assert response.status_code == 200, path
        checker = _Checker()
        checker.feed(response.get_data(as_text=True))
        assert checker.h1 == 1, path
        assert checker.imgs_without_alt == 0, path
        assert checker.inline_scripts == 0, path
        assert all(i in checker.labels for i in checker.inputs), (path, checker.inputs)


def test_home_counts_classes_and_links_questions(browse_client) -> None:
    html = browse_client.get("/").get_data(as_text=True)
    assert re.search(r'href="/classes/Skill"><span class="n">7</span>', html)  # 7 direct skills
    assert 'href="/queries"' in html and re.search(r'href="/queries/[a-z_]+"', html)
    assert 'action="/search"' in html and 'href="/source/fixture_doc"' in html


def test_class_index_nests_subclasses(browse_client) -> None:
    html = browse_client.get("/classes").get_data(as_text=True)
    skill = html.index('href="/classes/Skill"')
    language = html.index('href="/classes/ProgrammingLanguage"')
    assert skill < language < html.index("</ul>", skill)


def test_class_page_sorts_and_pages(browse_client) -> None:
    html = browse_client.get("/classes/Skill").get_data(as_text=True)
    names = re.findall(r'<tr><td><a href="[^"]+">([^<]+)</a>', html)
    assert names == sorted(names, key=str.casefold) and "Python" in names  # subclasses included
    desc = re.findall(
        r'<tr><td><a href="[^"]+">([^<]+)</a>',
        browse_client.get("/classes/Skill?sort=-label").get_data(as_text=True),
    )
    assert desc == list(reversed(names))
    assert browse_client.get("/classes/Skill?page=2").status_code == 400
    assert browse_client.get("/classes/Skill?sort=colour").status_code == 400
    assert browse_client.get("/classes/NoSuchClass").status_code == 404


@pytest.mark.parametrize("key", ["PayPeriod", "Skill"])
def test_class_page_lists_the_members_its_entity_page_counts(browse_client, key: str) -> None:
    # /def/PayPeriod said "Browse all 2 pay period entities" (per hour, per year: individuals of the
    # ontology) and linked to /classes/PayPeriod, which listed none of them
    entity = browse_client.get(f"/def/{key}").get_data(as_text=True)
    count = re.search(r'Members <span class="count">(\d+)</span>', entity).group(1)
    listed = re.findall(r'<li><a href="([^"]+)">', entity.split('id="members-h"')[1].split("</section>")[0])
    html = browse_client.get(f"/classes/{key}").get_data(as_text=True)
    assert re.search(r'<h1>[^<]*<span class="count">(\d+)</span>', html).group(1) == count != "0"
    rows = re.findall(r'<tr><td><a href="([^"]+)"', html)
    assert set(listed) <= set(rows)


def test_class_page_pages_on_the_real_graph(queries_app) -> None:
    client = queries_app.test_client()
    first = client.get("/classes/Skill").get_data(as_text=True)
    assert 'rel="next" href="?sort=label&amp;page=2"' in first
    second = client.get("/classes/Skill?page=2").get_data(as_text=True)
    assert re.findall(r'<tr><td><a href="([^"]+)"', first)[0] not in re.findall(
        r'<tr><td><a href="([^"]+)"', second
    )


def test_editor_partial_loads_yasgui_when_set_up(queries_app) -> None:
    from mlkg.web.ui import vendor_asset

    with queries_app.test_request_context():
        present = vendor_asset("yasgui/yasgui.min.js")
    html = (
        queries_app.test_client()
        .get("/sparql", headers={"Accept": "text/html"})
        .get_data(as_text=True)
    )
    assert '<textarea id="query"' in html  # the no-JS form stays
    if present:
        assert 'src="/static/vendor/yasgui/yasgui.min.js"' in html and 'id="yasgui"' in html
        assert "data-example=" in html and 'data-prefix="schema"' in html
    else:
        assert 'id="yasgui"' not in html


def test_editor_examples_run_as_their_canned_queries(queries_app) -> None:
    """An example with a default ran with its parameter unbound: 'Average salary in a place' gave
    every place's figures, 'Certifications under a price' nothing, 'Entity mentions' the time limit."""
    from mlkg.web.ui import editor_context

    with queries_app.test_request_context():
        examples = editor_context()["examples"]
    client = queries_app.test_client()
    assert any(ex["name"] == "certifications_under_price" for ex in examples)
    for ex in examples:
        raw = client.post("/sparql", data={"query": ex["text"], "format": "json"})
        assert raw.status_code == 200, ex["name"]
        canned = client.get(f"/queries/{ex['name']}?format=srj").get_json()
        rows = sorted(map(str, raw.get_json()["results"]["bindings"]))
        assert rows == sorted(map(str, canned["results"]["bindings"])), ex["name"]


def test_home_over_the_real_data_counts_entities_not_alignment_justifications(queries_app) -> None:
    """The ESCO alignment's owl:Axiom nodes were listed as a class of 57 'axiom' entities."""
    html = queries_app.test_client().get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/classes/Skill"' in html
    assert "owl:Axiom" not in html and 'href="/classes/owl:Axiom"' not in html
