"""Search: ranking, case and accent folding, prefixes, the JSON API and the HTML page."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlkg import search
from mlkg.provenance import normalize
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


def _every_key_ranked(idx: EntityIndex, query: str, limit: int, types: set[str] | None) -> list:
    """What search gives, found the plain way: every key ranked by `_rank`, all hits sorted."""
    q = normalize(query)[: search.MAX_QUERY]
    best: dict[str, search.Hit] = {}
    for entry, key, is_label, text in idx._keys if q else ():
        if types is not None and not types.intersection(entry.types):
            continue
        rank = search._rank(q, q.split(), key)
        if rank is not None:
            search._keep(best, search.Hit(entry, text, rank * 2 + (0 if is_label else 1)))
    return [(h.entry.iri, h.rank, h.matched) for h in sorted(best.values(), key=search._order)][
        :limit
    ]


_PIECES = st.sampled_from(["ab", "a", "b", "ba", "c", " ", "-", "(", ")", "/", ",", "é", "A"])
_LABELS = st.lists(_PIECES, min_size=1, max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(
        st.tuples(_LABELS, st.lists(_LABELS, max_size=2), st.integers(0, 3), st.booleans()),
        min_size=1,
        max_size=25,
    ),
    query=_LABELS,
    limit=st.integers(1, 12),
    typed=st.booleans(),
)
def test_search_gives_what_ranking_every_key_gives(entries, query, limit, typed) -> None:
    """The index looks only at the keys that hold the query's longest word, and stops before
    word-prefix and substring matches when exact and prefix ones fill the page: the hits, their
    order and the text they matched are those of ranking every key and sorting them all."""
    idx = EntityIndex(
        Entry(
            BASE + ("def/T" if term else "thing/") + str(n),
            label,
            alts,
            [BASE + f"def/K{n % 2}"],
            degree=degree,
        )
        for n, (label, alts, degree, term) in enumerate(entries)
    )
    types = {BASE + "def/K0"} if typed else None
    expected = _every_key_ranked(idx, query, limit, types)
    assert [(h.entry.iri, h.rank, h.matched) for h in idx.search(query, limit, types)] == expected


def test_a_misspelt_name_is_found_among_many_keys() -> None:
    """Only the keys most alike by trigrams are compared letter by letter; the misspelt one is among
    them even when thousands of keys share some of its trigrams."""
    words = ["data", "model", "learning", "vision", "system", "analyst", "platform", "graph"]
    entries = [
        Entry(BASE + f"skill/s{n}", f"{words[n % 8]} operations {words[n // 8 % 8]} {n}")
        for n in range(5000)
    ]
    entries.append(Entry(BASE + "skill/kubernetes", "Kubernetes operations"))
    idx = EntityIndex(entries)
    assert idx.suggest(BASE + "skill/kubernets-operatons")[0].iri == BASE + "skill/kubernetes"
    assert len(idx._alike("kubernets operatons")) == search.FUZZY_CANDIDATES


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


def test_search_page_says_more_only_when_there_are_more(browse_client, monkeypatch) -> None:
    # exactly PAGE_LIMIT matches read "50+ results", as if some had been left off
    from mlkg.web import search as web_search

    count = len(browse_client.get("/api/search?q=ma&limit=50").get_json()["results"])
    assert 1 < count < 50
    monkeypatch.setattr(web_search, "PAGE_LIMIT", count)
    html = browse_client.get("/search?q=ma").get_data(as_text=True)
    assert f">{count} results for" in html and html.count('<li><a href="') == count
    monkeypatch.setattr(web_search, "PAGE_LIMIT", count - 1)
    html = browse_client.get("/search?q=ma").get_data(as_text=True)
    assert f">{count - 1}+ results for" in html and html.count('<li><a href="') == count - 1


def test_api_search_pages_with_offset(browse_client) -> None:
    """Results past the first `limit` could not be reached (there was no offset)."""
    whole = browse_client.get("/api/search?q=m&limit=50").get_json()
    labels = [r["label"] for r in whole["results"]]
    assert 6 < len(labels) < 50 and whole["offset"] == 0 and whole["more"] is False
    pages = [browse_client.get(f"/api/search?q=m&limit=3&offset={o}").get_json()
             for o in range(0, len(labels) + 3, 3)]
    assert [r["label"] for p in pages for r in p["results"]] == labels
    assert [p["more"] for p in pages] == [
        p["offset"] + 3 < len(labels) for p in pages
    ]
    for bad in ("-1", "x", "10001"):
        response = browse_client.get(f"/api/search?q=m&offset={bad}")
        assert response.status_code == 400 and response.get_json()["parameter"] == "offset"


def test_search_page_pages_through_the_results(browse_client, monkeypatch) -> None:
    from mlkg.web import search as web_search

    found = browse_client.get("/api/search?q=m&limit=50").get_json()["results"]
    labels, last_path = [r["label"] for r in found], found[-1]["path"]
    monkeypatch.setattr(web_search, "PAGE_LIMIT", 3)
    first = browse_client.get("/search?q=m").get_data(as_text=True)
    assert ">3+ results for" in first and 'rel="next" href="/search?q=m&amp;page=2"' in first
    assert 'rel="prev"' not in first
    second = browse_client.get("/search?q=m&page=2").get_data(as_text=True)
    assert "Results 4–6 of more for" in second and '<ol class="results" start="4">' in second
    assert 'rel="prev" href="/search?q=m"' in second
    last = (len(labels) - 1) // 3 + 1
    final = browse_client.get(f"/search?q=m&page={last}").get_data(as_text=True)
    assert 'rel="next"' not in final and f'href="{last_path}"' in final
    past = browse_client.get(f"/search?q=m&page={last + 1}").get_data(as_text=True)
    assert "past the last result" in past and "Nothing is labelled like that" not in past
    typed = browse_client.get("/search?q=p&type=Skill").get_data(as_text=True)
    assert 'rel="next" href="/search?q=p&amp;type=Skill&amp;page=2"' in typed  # the filter kept
    assert browse_client.get("/search?q=m&page=0").status_code == 400


# ---------------------------------------------------------------- the index file, per build


def _entries(found: EntityIndex) -> dict:
    return {
        iri: (e.label, e.alt_labels, e.types, e.degree) for iri, e in sorted(found.entries.items())
    }


def test_the_index_file_holds_what_the_index_query_gives(tmp_path, monkeypatch) -> None:
    from exports_helpers import real_build

    from mlkg import search
    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store

    settings, _ = real_build(str(tmp_path / "var"))
    store_dir = current_store(settings)
    expected = search.load_index(EmbeddedBackend(store_dir), base=BASE)

    def not_here(*args, **kwargs):
        raise AssertionError("the index was computed in the calling process")

    monkeypatch.setattr(search, "write_index_file", not_here)
    folder = tmp_path / "cache" / store_dir.name
    found = search.cached_index(store_dir, tmp_path, BASE)
    assert len(found) > 1000 and _entries(found) == _entries(expected)
    assert found.search("python")[0].entry.iri == expected.search("python")[0].entry.iri
    written = folder / search.index_file_name(BASE)
    before = written.stat().st_mtime_ns
    assert _entries(search.cached_index(store_dir, tmp_path, BASE)) == _entries(expected)
    assert written.stat().st_mtime_ns == before  # read, not written again
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == [written.name]


def test_an_index_file_that_is_not_one_is_refused_by_name(tmp_path) -> None:
    import pytest

    from mlkg.errors import StoreError
    from mlkg.search import read_index_file

    bad = tmp_path / "entity-index.json"
    for content in (b"{not json", b'{"format": 0, "types": [], "entries": []}', b"[1]"):
        bad.write_bytes(content)
        with pytest.raises(StoreError, match="cannot read the entity index .*entity-index.json"):
            read_index_file(bad)


def test_without_a_writable_cache_the_snapshot_reads_the_index_through_the_backend(
    tmp_path, caplog
) -> None:
    from exports_helpers import FIXTURE, build_store

    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store
    from mlkg.snapshot import load_snapshot

    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    backend = EmbeddedBackend(current_store(settings))
    (settings.var_dir / "cache").write_text("a file where the cache folder would be")
    snap = load_snapshot(
        backend,
        version=meta.id,
        base=BASE,
        sources_dir=settings.sources_dir,
        var_dir=settings.var_dir,
    )
    assert len(snap.index) > 0
    assert "cannot write the entity index under" in caplog.text
    assert "reading the entity index through the backend instead" in caplog.text
