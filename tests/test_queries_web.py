"""mlkg.web.queries: the catalogue, forms, answers in every format, errors, paging and hostile
values over HTTP."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest

from mlkg.errors import QueryFileError

BASE = "https://w3id.org/mlkg/"
AWS = BASE + "certification/aws-certified-machine-learning-specialty"


@pytest.fixture()
def client(queries_app):
    return queries_app.test_client()


def assert_problem(response, status: int, parameter: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if parameter:
        assert problem["parameter"] == parameter
        assert repr(parameter) in problem["detail"]
    return problem


# ---------------------------------------------------------------- catalogue


def test_catalogue_as_json(client):
    response = client.get("/queries", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    queries = {q["name"]: q for q in response.get_json()["queries"]}
    assert len(queries) >= 25
    cheap = queries["certifications_under_price"]
    assert cheap["url"] == "/queries/certifications_under_price"
    assert {p["name"]: (p["type"], p["required"], p["default"]) for p in cheap["parameters"]} == {
        "maxPrice": ("number", False, "250"),
        "billing": ("iri", False, BASE + "def/OneOff"),
    }
    assert queries["search"]["parameters"] == [
        {"name": "text", "type": "literal", "required": True, "default": None, "enum": None}
    ]


def test_catalogue_as_html(client):
    response = client.get("/queries", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'href="/queries/exam_facts"' in page and "Exam facts of a certification" in page
    assert client.get("/queries?format=json").mimetype == "application/json"


# ---------------------------------------------------------------- answers and formats


def test_json_answer_with_defaults(client):
    response = client.get("/queries/certifications_under_price")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["parameters"] == {"maxPrice": "250", "billing": BASE + "def/OneOff"}
    assert {row["price"] for row in body["rows"]} == {0, 109, 200}
    assert body["columns"][:2] == ["certification", "name"]
    assert response.headers["Vary"] == "Accept"


@pytest.mark.parametrize(
    ("how", "mimetype"),
    [
        ({"headers": {"Accept": "text/csv"}}, "text/csv"),
        ({"suffix": ".csv"}, "text/csv"),
        ({"query": "format=csv"}, "text/csv"),
        ({"headers": {"Accept": "text/tab-separated-values"}}, "text/tab-separated-values"),
        ({"suffix": ".tsv"}, "text/tab-separated-values"),
        (
            {"headers": {"Accept": "application/sparql-results+json"}},
            "application/sparql-results+json",
        ),
        ({"suffix": ".srj"}, "application/sparql-results+json"),
        (
            {"headers": {"Accept": "application/sparql-results+xml"}},
            "application/sparql-results+xml",
        ),
        ({"suffix": ".srx"}, "application/sparql-results+xml"),
        ({"headers": {"Accept": "text/html"}}, "text/html"),
        ({"suffix": ".html"}, "text/html"),
        ({"headers": {"Accept": "*/*"}}, "application/json"),
    ],
)
def test_formats_by_accept_suffix_or_argument(client, how, mimetype):
    url = "/queries/exam_facts" + how.get("suffix", "") + f"?certification={quote(AWS)}"
    if "query" in how:
        url += "&" + how["query"]
    response = client.get(url, headers=how.get("headers", {}))
    assert response.status_code == 200
    assert response.mimetype == mimetype
    text = response.get_data(as_text=True)
    if mimetype in ("text/csv", "text/tab-separated-values"):
        rows = list(
            csv.DictReader(io.StringIO(text), delimiter="," if mimetype == "text/csv" else "\t")
        )
        key = "passingScore" if mimetype == "text/csv" else "?passingScore"
        assert [r[key] for r in rows] in (
            ["750"],
            ['"750"^^<http://www.w3.org/2001/XMLSchema#integer>'],
        )
    elif mimetype == "application/sparql-results+json":
        bindings = json.loads(text)["results"]["bindings"]
        assert [b["passingScore"]["value"] for b in bindings] == ["750"]
    elif mimetype == "application/sparql-results+xml":
        ns = {"s": "http://www.w3.org/2005/sparql-results#"}
        root = ET.fromstring(text)  # noqa: S314 - the app's own answer
        values = [
            b.find("s:literal", ns).text
            for b in root.iterfind(".//s:binding", ns)
            if b.get("name") == "passingScore"
        ]
        assert values == ["750"]
    elif mimetype == "text/html":
        assert "<table" in text and ">750<" in text
    else:
        assert response.get_json()["rows"][0]["passingScore"] == 750


def test_unknown_format_is_406(client):
    problem = assert_problem(client.get("/queries/schools?format=yaml"), 406)
    assert "csv" in problem["detail"]
    assert_problem(client.get("/queries/schools", headers={"Accept": "image/png"}), 406)


@pytest.fixture()
def ask_client(real_store, tmp_path):
    """An app whose catalogue is one ASK query (the real catalogue has none)."""
    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store
    from mlkg.web import create_app

    (tmp_path / "python_is_a_skill.rq").write_text(
        "#+ summary: Is Python a skill?\nASK { <https://w3id.org/mlkg/skill/python> ?p ?o }\n"
    )
    settings = real_store.with_overrides(queries_dir=tmp_path)
    backend = EmbeddedBackend(current_store(settings))
    return create_app({"TESTING": True, "SETTINGS": settings, "BACKEND": backend}).test_client()


def test_an_ask_query_is_not_offered_as_csv_or_tsv(ask_client):
    """The SPARQL 1.1 CSV/TSV formats carry SELECT tables only; before, an ASK query's answer came
    back as a bare 'true' labelled text/csv or TSV."""
    url = "/queries/python_is_a_skill"
    offered = ["application/json", "text/html", "application/sparql-results+json",
               "application/sparql-results+xml"]
    for refused in (
        ask_client.get(url + ".csv"),
        ask_client.get(url + "?format=tsv"),
        ask_client.get(url, headers={"Accept": "text/csv"}),
        ask_client.get(url, headers={"Accept": "text/tab-separated-values"}),
    ):
        assert assert_problem(refused, 406)["available"] == offered
    chosen = ask_client.get(url, headers={"Accept": "text/csv, */*;q=0.1"})
    assert chosen.status_code == 200 and chosen.get_json()["boolean"] is True
    srj = ask_client.get(url + ".srj")
    assert srj.status_code == 200 and json.loads(srj.data)["boolean"] is True
    page = ask_client.get(url, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert ".csv" not in page and ".tsv" not in page and "Accept: text/csv" not in page


def test_post_form_runs_the_query(client):
    response = client.post(
        "/queries/schools_in_state",
        data={"state": BASE + "place/illinois"},
        headers={"Accept": "application/json"},
    )
    assert [r["name"] for r in response.get_json()["rows"]] == [
        "University of Illinois Urbana-Champaign"
    ]


# ---------------------------------------------------------------- errors


def test_missing_required_parameter_is_400_naming_it_and_its_type(client):
    problem = assert_problem(client.get("/queries/search"), 400, "text")
    assert problem["expected"] == "literal"
    problem = assert_problem(client.get("/queries/evidence_for"), 400, "subject")
    assert problem["expected"] == "iri"


@pytest.mark.parametrize(
    ("url", "parameter", "expected"),
    [
        ("/queries/certifications_under_price?maxPrice=cheap", "maxPrice", "number"),
        ("/queries/degree_fields_in_several_documents?minDocuments=2.5", "minDocuments", "integer"),
        ("/queries/schools_in_state?state=california", "state", "iri"),
        ("/queries/salary_figures?scope=" + quote(BASE + "def/Galaxy"), "scope", "iri"),
        ("/queries/schools?page=0", "page", "integer"),
        ("/queries/schools?page=x", "page", "integer"),
        ("/queries/schools?page=%C2%B2", "page", "integer"),  # a digit to str.isdigit, not to int
        ("/queries/schools?page=%D9%A2", "page", "integer"),  # an Arabic-Indic 2
        ("/queries/schools?colour=red", "colour", None),
        ("/queries/search?text=a&text=b", "text", "literal"),
    ],
)
def test_ill_typed_values_are_400_naming_the_parameter(client, url, parameter, expected):
    problem = assert_problem(client.get(url), 400, parameter)
    if expected:
        assert problem["expected"] == expected


def test_unknown_query_is_404_with_suggestions(client):
    problem = assert_problem(client.get("/queries/school"), 404)
    assert {"path": "/queries/schools", "label": "schools"} in problem["suggestions"]
    page = client.get("/queries/school", headers={"Accept": "text/html"})
    assert page.status_code == 404 and 'href="/queries/schools"' in page.get_data(as_text=True)


def test_a_broken_query_file_stops_the_app(real_store, tmp_path):
    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store
    from mlkg.web import create_app

    (tmp_path / "good.rq").write_text("#+ summary: ok\nSELECT * WHERE { ?s ?p ?o } ORDER BY ?s\n")
    (tmp_path / "broken.rq").write_text(
        "#+ summary: ok\n#+ colour: red\nSELECT * WHERE { ?s ?p ?o }\n"
    )
    settings = real_store.with_overrides(queries_dir=tmp_path)
    with pytest.raises(QueryFileError, match=r"broken\.rq:2: unknown header key 'colour'"):
        create_app(
            {
                "TESTING": True,
                "SETTINGS": settings,
                "BACKEND": EmbeddedBackend(current_store(settings)),
            }
        )


# ---------------------------------------------------------------- forms


def test_form_without_values_shows_the_form_not_an_error(client):
    response = client.get("/queries/search", headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<input id="p-text" name="text"' in page and "required" in page
    assert '<table class="answer"' not in page


def test_form_offers_choices_drawn_from_the_graph(client):
    page = client.get("/queries/exam_facts", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert '<select id="p-certification" name="certification">' in page
    name = "AWS Certified Machine Learning \u2013 Specialty"
    assert f'<option value="{AWS}">{name}</option>' in page
    assert (
        "Harvard Data Science: Machine Learning" in page
    )  # every certification, even without an exam


def test_form_with_a_bad_value_is_400_with_the_message(client):
    response = client.get(
        "/queries/certifications_under_price?maxPrice=cheap", headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Parameter &#39;maxPrice&#39; must be a decimal number" in page
    assert 'value="cheap"' in page


def test_html_answer_says_when_nothing_is_stated(client):
    page = client.get("/queries/average_salary_in_place", headers={"Accept": "text/html"}).get_data(
        as_text=True
    )
    assert "No answer." in page and "no document states it" in page


@pytest.mark.parametrize("path", ["/queries/podcasts?page=abc", "/queries/podcasts?bogus=1",
                                  "/queries/role_profile?page=0"])
def test_html_page_of_a_refused_request_says_why(client, path):
    """A query without parameters has no form; its page showed no error at all (a bare 400)."""
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'class="error" role="alert"' in page
    assert page.count('role="alert"') == 1


def test_a_post_body_that_is_not_a_form_is_refused_not_ignored(client):
    """Before, a JSON body was dropped without a word and the query ran on its defaults."""
    response = client.post("/queries/certifications_under_price", json={"maxPrice": 100})
    assert response.status_code == 415
    assert "application/json" in response.get_json()["detail"]
    form = client.post("/queries/certifications_under_price", data={"maxPrice": "100"},
                       headers={"Accept": "application/json"})
    assert form.status_code == 200
    assert '"100"' in form.get_data(as_text=True) and '"250"' not in form.get_data(as_text=True)


# ---------------------------------------------------------------- paging


def test_pages_and_link_headers(client):
    first = client.get("/queries/role_profile.csv")
    assert first.status_code == 200
    links = first.headers["Link"]
    assert '</queries/role_profile.csv?page=2>; rel="next"' in links
    assert 'rel="prev"' not in links
    rows1 = list(csv.DictReader(io.StringIO(first.get_data(as_text=True))))
    assert len(rows1) == 200
    second = client.get("/queries/role_profile.csv?page=2")
    assert '</queries/role_profile.csv?page=1>; rel="prev"' in second.headers["Link"]
    rows2 = list(csv.DictReader(io.StringIO(second.get_data(as_text=True))))
    assert 0 < len(rows2) <= 200
    seen = {(r["aspect"], r["item"]) for r in rows1}
    assert not seen & {(r["aspect"], r["item"]) for r in rows2}
    json_page = client.get("/queries/role_profile?page=2").get_json()
    assert json_page["page"] == 2 and json_page["links"]["prev"].endswith("page=1")


def test_paging_keeps_the_arguments(client):
    url = "/queries/role_profile?aspect=" + quote(BASE + "def/requiresSkill")
    body = client.get(url).get_json()
    assert body["has_next"] is False and "next" not in body["links"]
    assert all(r["aspect"] == BASE + "def/requiresSkill" for r in body["rows"])
    assert "aspect=" in body["links"]["first"]


@pytest.mark.parametrize(
    "request_args",
    [
        {"method": "POST", "data": {"format": "csv"}},  # the form's format was left out
        {"query_string": "format=&format=csv"},  # the empty one was taken, and dropped
    ],
)
def test_paging_links_keep_the_format_the_answer_was_sent_in(client, request_args):
    """Following the next link with the same Accept gave JSON after a CSV page."""
    first = client.open("/queries/role_profile", **request_args)
    assert first.mimetype == "text/csv"
    assert '</queries/role_profile?format=csv&page=2>; rel="next"' in first.headers["Link"]


def test_a_page_past_the_end_is_empty(client):
    body = client.get("/queries/schools?page=50").get_json()
    assert body["rows"] == [] and body["has_next"] is False


# ---------------------------------------------------------------- hostile values

HOSTILE_TEXT = [
    '" } UNION { ?entity ?p ?o } #',
    "' } UNION { ?entity ?p ?o } #",
    "}",
    "{",
    "} UNION {",
    ")) } #",
    "python\n} UNION { ?entity ?p ?o }",
    "\\u0022 } UNION { ?entity ?p ?o } #",
    'python") || true || ("',
    "x" * 1000,
]


@pytest.mark.parametrize("value", HOSTILE_TEXT)
def test_hostile_text_is_bound_harmlessly(client, value):
    response = client.get("/queries/search", query_string={"text": value})
    assert response.status_code == 200
    rows = response.get_json()["rows"]
    assert all(
        value.lower() in r["label"].lower() for r in rows
    )  # only labels that contain the text
    assert rows == []  # no label contains any of these


def test_a_huge_value_is_refused(client):
    problem = assert_problem(
        client.get("/queries/search", query_string={"text": "x" * 1001}), 400, "text"
    )
    assert "at most 1000 characters" in problem["detail"]
    response = client.post("/queries/search", data={"text": "x" * 2_000_000})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "value",
    [
        BASE + "place/austin> } UNION { ?figure ?p ?o } #",
        BASE + "place/aus tin",
        BASE + "place/{austin}",
        BASE + 'place/"austin',
        BASE + "place/austin\n",
        "javascript:alert(1)>",
        "place/austin",
    ],
)
def test_hostile_iris_are_refused_or_harmless(client, value):
    response = client.get("/queries/average_salary_in_place", query_string={"place": value})
    if response.status_code == 200:
        assert response.get_json()["rows"] == []
    else:
        assert_problem(response, 400, "place")


@pytest.mark.parametrize(
    "value", ["250) || true || (1", "250 } UNION {", "1e99999", "Infinity", "0x1F", "250\n"]
)
def test_hostile_numbers_are_refused(client, value):
    assert_problem(
        client.get("/queries/certifications_under_price", query_string={"maxPrice": value}),
        400,
        "maxPrice",
    )


def test_a_number_written_with_an_exponent_is_read_as_a_decimal(client):
    body = client.get(
        "/queries/certifications_under_price", query_string={"maxPrice": "1.5e2"}
    ).get_json()
    assert body["parameters"]["maxPrice"] == "150"
    assert {r["price"] for r in body["rows"]} == {0, 109}


def test_answers_through_the_servers_own_backend(real_store):
    """The same answers through the backend the server opens by default (worker processes)."""
    from mlkg.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": real_store})
    try:
        client = app.test_client()
        body = client.get("/queries/salary_extremes_by_publisher").get_json()
        assert [(r["rank"], r["location"]) for r in body["rows"]] == [
            ("highest", "San Francisco"),
            ("lowest", "Florida"),
        ]
        csv_text = client.get("/queries/named_in_all_documents.csv").get_data(as_text=True)
        assert sorted(csv_text.splitlines()[1:]) == sorted(
            [
                "https://w3id.org/mlkg/skill/java,Java,3",
                "https://w3id.org/mlkg/skill/python,Python,3",
            ]
        )
    finally:
        app.extensions["mlkg"]["backend"].close()
