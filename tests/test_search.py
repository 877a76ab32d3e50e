"""Search: ranking, case and accent folding, prefixes, the JSON API and the HTML page."""

from __future__ import annotations

from mlkg.search import EntityIndex, Entry, fallback_label

BASE = "https://w3id.org/mlkg/"


def index() -> EntityIndex:
    return EntityIndex(
        [
            Entry(
                BASE + "skill/python", "Python", [], [BASE + "def/ProgrammingLanguage"], degree=20
            ),
            Entry(
                BASE + "tool/python-notebook", "Python notebook", [], [BASE + "def/Tool"], degree=3
            ),
            Entry(BASE + "skill/monty", "Monty", ["Python-like"], [BASE + "def/Skill"], degree=1),
            Entry(BASE + "skill/cafe", "Café skill", ["Kaffee"], [BASE + "def/Skill"]),
            Entry(
                BASE + "role/mle",
                "machine learning engineer",
                ["ML engineer"],
                [BASE + "def/Role"],
                degree=50,
            ),
            Entry(
                BASE + "def/Role", "role", [], ["http://www.w3.org/2002/07/owl#Class"], degree=80
            ),
            Entry(BASE + "role/roleplayer", "role player", [], [BASE + "def/Role"], degree=1),
            Entry(BASE + "source/x/c1-2"),
        ]
    )


def test_exact_label_ranks_first_then_prefixes() -> None:
    hits = index().search("python")
    assert [h.entry.iri for h in hits][:3] == [
        BASE + "skill/python",
        BASE + "tool/python-notebook",
        BASE + "skill/monty",
    ]
    assert hits[2].matched == "Python-like"


def test_case_and_accents_do_not_matter() -> None:
    assert index().search("CAFE")[0].entry.iri == BASE + "skill/cafe"
    assert index().search("café")[0].entry.iri == BASE + "skill/cafe"


def test_prefix_of_any_word_and_alternative_labels_match() -> None:
    assert index().search("eng")[0].entry.iri == BASE + "role/mle"
    assert index().search("ML eng")[0].matched == "ML engineer"


def test_data_entities_outrank_ontology_terms_in_a_tie() -> None:
    hits = index().search("rol")
    assert [h.entry.iri for h in hits] == [BASE + "role/roleplayer", BASE + "def/Role"]
    assert index().search("role")[0].entry.iri == BASE + "def/Role"  # exact label still wins


def test_types_filter_and_limit() -> None:
    assert [h.entry.iri for h in index().search("python", types={BASE + "def/Tool"})] == [
        BASE + "tool/python-notebook"
    ]
    assert len(index().search("python", limit=1)) == 1


def test_unlabelled_entities_are_not_searched_but_have_names() -> None:
    assert index().search("c1") == []
    assert fallback_label(BASE + "source/x/c1-2") == "characters 1–2 of x"


def test_suggestions_for_a_misspelt_iri() -> None:
    assert index().suggest(BASE + "skill/pyhton")[0].iri == BASE + "skill/python"


def test_api_search(browse_client) -> None:
    response = browse_client.get("/api/search?q=pyth")
    assert response.status_code == 200 and response.mimetype == "application/json"
    first = response.get_json()["results"][0]
    assert first == {
        "iri": BASE + "skill/python",
        "path": "/skill/python",
        "label": "Python",
        "matched": "Python",
        "types": ["programming language"],
    }
    assert (
        browse_client.get("/api/search?q=kaffee").get_json()["results"][0]["path"]
        == "/skill/caf%C3%A9"
    )
    assert browse_client.get("/api/search?q=zurich").get_json()["results"][0]["label"] == "Zürich"


def test_api_search_type_filter(browse_client) -> None:
    results = browse_client.get("/api/search?q=p&type=ProgrammingLanguage").get_json()["results"]
    assert [r["label"] for r in results] == ["Python"]


def test_api_search_rejects_bad_arguments(browse_client) -> None:
    for url, parameter in [
        ("/api/search", "q"),
        ("/api/search?q=", "q"),
        ("/api/search?q=x&limit=0", "limit"),
        ("/api/search?q=x&limit=ten", "limit"),
        ("/api/search?q=" + "x" * 201, "q"),
        ("/api/search?q=x&type=Nope", "type"),
    ]:
        response = browse_client.get(url)
        assert response.status_code == 400, url
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["parameter"] == parameter


def test_search_page(browse_client) -> None:
    html = browse_client.get("/search?q=ML+engineer").get_data(as_text=True)
    assert 'href="/role/machine-learning-engineer"' in html
    empty = browse_client.get("/search").get_data(as_text=True)
    assert 'name="q"' in empty and "result" not in empty.split("<main")[1].split("</form>")[1]
    none = browse_client.get("/search?q=pythn").get_data(as_text=True)
    assert "Did you mean" in none and 'href="/skill/python"' in none
