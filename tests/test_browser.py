"""Browser tests: Playwright driving Debian's chromium (headless) through the real pages.

Home, search with autocomplete, following links, a source document, a query in the SPARQL editor and a
canned question's form; each page is checked for what it shows and for console errors, and
screenshots are kept under test-artifacts/. Outside CI the module skips when /usr/bin/chromium or
Playwright is missing (scripts/install-chromium installs chromium); in CI (CI=true) that fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (run scripts/install-chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def test_browser_prerequisites() -> None:
    """In CI the browser must be there; elsewhere its absence skips the browser tests."""
    problem = _missing()
    if problem and IN_CI:
        pytest.fail(f"browser tests cannot run in CI: {problem}")
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="module")
def server(live_server: str) -> str:
    """The real production server (granian processes, query workers) over the validated real data."""
    return live_server


@pytest.fixture(scope="module")
def browser():
    problem = _missing()
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, request):
    """A fresh page that records console errors and uncaught exceptions; a screenshot at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.errors = []
    pg.on(
        "console",
        lambda m: pg.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    pg.on("pageerror", lambda e: pg.errors.append(f"page error: {e}"))
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_home_search_autocomplete_and_links(server, page) -> None:
    page.goto(server + "/")
    assert page.locator("h1").inner_text().startswith("The machine-learning-engineer career")
    assert page.locator(".type-grid a").count() >= 10
    page.locator("#home-q").fill("pyth")
    option = page.locator("#home-q-list [role=option]").first
    option.wait_for()
    assert option.locator(".s-label").inner_text() == "Python"
    assert page.locator("#home-q").get_attribute("aria-expanded") == "true"
    page.locator("#home-q").press("ArrowDown")
    page.locator("#home-q").press("Enter")
    page.wait_for_url(re.compile(r"/skill/python$"))
    assert page.locator("h1").inner_text() == "Python"
    assert page.locator("table.props th", has_text="broader").count() == 1
    # follow a link to the role that requires Python
    page.locator("section.incoming a", has_text="machine learning engineer").first.click()
    page.wait_for_url(re.compile(r"/role/machine-learning-engineer$"))
    assert page.locator("h1").inner_text() == "machine learning engineer"
    assert page.locator("figure.chart svg").count() >= 2  # salary charts, no JS needed
    assert page.locator("ol.evidence-list blockquote mark").count() > 10  # quoted evidence
    assert page.errors == []


def test_search_page_without_autocomplete(server, page) -> None:
    page.goto(server + "/search?q=data+scientist")
    assert "result" in page.locator("h2#res-h").inner_text()
    page.locator("ol.results a", has_text="data scientist").first.click()
    assert page.locator("h1").inner_text() == "data scientist"
    assert page.errors == []


def test_source_document_view(server, page) -> None:
    page.goto(server + "/skill/python")
    page.locator("ol.evidence-list .cite a").first.click()  # the document, at the span
    page.wait_for_url(re.compile(r"/source/[^/#]+#c\d+-\d+$"))
    assert page.locator(".doc-text a.hl").count() > 50
    coverage = page.locator("p.coverage").inner_text()
    assert re.search(r"\d+% of the document's \d+ content lines", coverage)
    # a highlight leads to its span page, which quotes the text and says what it supports
    page.locator(".doc-text a.hl").nth(3).click()
    page.wait_for_url(re.compile(r"/source/[^/]+/c\d+-\d+$"))
    assert page.locator("section.span-view mark").inner_text().strip() != ""
    assert page.locator("section.incoming a").count() >= 1
    assert page.errors == []


def test_sparql_editor_runs_a_query(server, page) -> None:
    page.goto(server + "/sparql")
    page.locator(".yasqe .CodeMirror").wait_for()
    assert page.locator("form textarea#query").is_hidden()  # the plain form is the fallback
    page.evaluate("""() => window.mlkgYasgui.getTab().getYasqe().setValue(
        'PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\\n' +
        'SELECT ?label WHERE { <https://w3id.org/mlkg/skill/python> rdfs:label ?label }')""")
    assert page.locator(".CodeMirror .cm-keyword", has_text="SELECT").count() >= 1  # highlighted
    page.locator(".yasqe_queryButton").click()
    cell = page.locator(".yasr table tbody tr td", has_text="Python").first
    cell.wait_for()
    csv = page.locator("#editor-downloads a[data-format=csv]")
    assert "format=csv" in csv.get_attribute("href") and "query=" in csv.get_attribute("href")
    page.locator("button[data-prefix=schema]").click()
    assert "PREFIX schema: <http://schema.org/>" in page.evaluate(
        "() => window.mlkgYasgui.getTab().getYasqe().getValue()"
    )
    # an ASK answer has no CSV or TSV form (406): those links go, JSON and XML stay
    page.evaluate("() => window.mlkgYasgui.getTab().getYasqe().setValue('ASK { ?s ?p ?o }')")
    page.locator(".yasqe_queryButton").click()
    page.locator("#editor-downloads a[data-format=csv]").wait_for(state="hidden")
    assert page.locator("#editor-downloads a[data-format=tsv]").is_hidden()
    assert page.locator("#editor-downloads a[data-format=json]").is_visible()
    assert page.errors == []


def test_canned_query_form(server, page) -> None:
    page.goto(server + "/")
    page.locator("a[href='/queries']").first.click()
    page.wait_for_url(re.compile(r"/queries$"))
    page.goto(server + "/queries/certifications_under_price")
    page.locator("#p-maxPrice").fill("1000")
    page.locator("form.query-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"maxPrice=1000"))
    assert page.locator("#answer-h").inner_text() == "Answer"
    assert page.locator("section table tbody tr").count() >= 1
    assert page.errors == []


def test_no_javascript_pages_still_work(browser, server) -> None:
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    pg.goto(server + "/search?q=tuition")
    assert pg.locator("ol.results li").count() >= 1
    pg.goto(server + "/classes/University")
    assert pg.locator("figure.chart svg").count() == 2
    pg.goto(server + "/sparql")
    assert pg.locator("form textarea#query").is_visible()  # the plain form
    context.close()
