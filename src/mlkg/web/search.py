"""Search: `/api/search?q=` (JSON, behind the search box's autocomplete) and `/search?q=` (HTML).

Label and alternative-label matches, case- and accent-insensitive, prefixes included, exact label
first; answered from the in-memory entity index (no store query).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template, request

from mlkg.entities import class_from_key, iri_to_path
from mlkg.errors import ParameterError
from mlkg.search import MAX_QUERY, Hit
from mlkg.snapshot import Snapshot
from mlkg.web.entities import settings, snapshot

bp = Blueprint("search", __name__)

DEFAULT_LIMIT, MAX_LIMIT, PAGE_LIMIT = 10, 50, 50
#: How far into the ranked matches a client can page (each request ranks offset + limit of them).
MAX_OFFSET = 10_000


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(
            f"{name} must be a whole number from {low} to {high}, not {raw!r}", parameter=name
        ) from None
    if not low <= value <= high:
        raise ParameterError(f"{name} must be from {low} to {high}, not {value}", parameter=name)
    return value


def _query_arg(required: bool) -> str:
    q = request.args.get("q", "").strip()
    if required and not q:
        raise ParameterError(
            "Give the text to search for in q, for example /api/search?q=python", parameter="q"
        )
    if len(q) > MAX_QUERY:
        raise ParameterError(
            f"q is {len(q)} characters long; search for at most {MAX_QUERY}", parameter="q"
        )
    return q


def _types_arg(snap: Snapshot) -> set[str] | None:
    key = request.args.get("type", "").strip()
    if not key:
        return None
    iri = class_from_key(key)
    if iri not in snap.index.class_counts() and not snap.vocabulary.is_class(iri):
        raise ParameterError(
            f"Unknown type {key!r}; use a class name such as Skill or Role", parameter="type"
        )
    return {iri, *snap.vocabulary.descendants(iri)}


def hit_json(snap: Snapshot, hit: Hit) -> dict[str, object]:
    """One search result as JSON."""
    entry = hit.entry
    return {
        "iri": entry.iri,
        "path": iri_to_path(entry.iri, settings().base_iri),
        "label": entry.label,
        "matched": hit.matched,
        "types": [snap.vocabulary.label(t) for t in entry.types],
    }


@bp.get("/api/search")
def api() -> Response:
    """Entities whose label or alternative label matches q, best first (JSON).

    :raises ParameterError: for a missing or too long q, a bad limit or an unknown type.
    """
    snap = snapshot()
    q = _query_arg(required=True)
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, MAX_OFFSET)
    hits, more, _ = _ranked(snap, q, offset, limit)
    response = jsonify({
        "query": q,
        "offset": offset,
        "results": [hit_json(snap, h) for h in hits],
        "more": more,
    })
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.get("/search")
def page() -> str:
    """The search page: a form, and the results for q when given."""
    snap = snapshot()
    q = _query_arg(required=False)
    number = _int_arg("page", 1, 1, MAX_OFFSET // PAGE_LIMIT + 1)
    first = (number - 1) * PAGE_LIMIT
    hits, more, any_match = _ranked(snap, q, first, PAGE_LIMIT) if q else ([], False, False)
    results = [hit_json(snap, h) for h in hits]
    suggestions = []
    if q and not any_match:
        base = settings().base_iri
        suggestions = [
            {"label": e.label, "path": iri_to_path(e.iri, base)} for e in snap.index.suggest(q)
        ]
    return render_template(
        "search/results.html", q=q, results=results, suggestions=suggestions, more=more,
        first=first, past_end=any_match and not results,
        prev_url=_page_url(q, number - 1) if number > 1 and results else None,
        next_url=_page_url(q, number + 1) if more else None,
        first_url=_page_url(q, 1),
    )


def _ranked(snap, q: str, first: int, count: int) -> tuple[list, bool, bool]:
    """Matches `first` to `first` + `count` of `q` (the type filter applied), whether more come
    after them, and whether anything matched at all (one more is ranked than the page shows)."""
    hits = snap.index.search(q, limit=first + count + 1, types=_types_arg(snap))
    return hits[first : first + count], len(hits) > first + count, bool(hits)


def _page_url(q: str, number: int) -> str:
    """The search page's URL for page `number` of `q`, keeping the type filter."""
    args = {"q": q}
    kind = request.args.get("type", "").strip()
    if kind:
        args["type"] = kind
    if number > 1:
        args["page"] = str(number)
    return "/search?" + urlencode(args)
