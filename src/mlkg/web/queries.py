"""Canned queries over HTTP: `/queries` (the catalogue), `/queries/<name>` (a form, and the answer
in HTML, JSON, CSV, TSV or the SPARQL result formats, paged with Link headers), `/openapi.json` and
`/api/docs`. Thin: checking and binding live in `mlkg.queries`, running and formats in
`mlkg.catalogue_run`, the API description in `mlkg.openapi`.
"""

from __future__ import annotations

import difflib
import threading
from typing import Any, cast
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import UnsupportedMediaType

from mlkg.catalogue_run import (
    ANSWER_FORMATS,
    Answer,
    AnswerFormat,
    answer_formats,
    check_answer_format,
    choices,
    parse_page,
    run_canned,
)
from mlkg.errors import MlkgError, NotFoundError, ParameterError, StoreError
from mlkg.formats import choose
from mlkg.openapi import build_openapi
from mlkg.queries import RESERVED, CannedQuery, Catalogue, load_catalogue

bp = Blueprint("queries", __name__, url_prefix="/queries")
api = Blueprint("openapi", __name__)
_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Load the catalogue (a broken file stops start-up) and register the routes."""
    state = app.extensions["mlkg"]
    state["queries"] = load_catalogue(state["settings"].queries_dir)
    app.register_blueprint(bp)
    app.register_blueprint(api)


# ---------------------------------------------------------------- state


def catalogue() -> Catalogue:
    """The app's canned queries."""
    return current_app.extensions["mlkg"]["queries"]


def backend():
    """The app's backend; until one is wired in, an embedded backend on the current store.

    :raises StoreError: when no store has been built.
    """
    state = current_app.extensions["mlkg"]
    if state.get("backend") is not None:
        return state["backend"]
    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store

    path = current_store(state["settings"])
    with _lock:
        mine = state.get("queries_backend")
        if mine is None or mine[0] != path:
            mine = (path, EmbeddedBackend(path))
            state["queries_backend"] = mine
    return mine[1]


def param_choices(query: CannedQuery) -> dict[str, list[tuple[str, str]]]:
    """For each parameter with x-choices, (IRI, label) pairs from the graph (cached per store)."""
    wanted = [p for p in query.parameters if p.choices_from]
    if not wanted:
        return {}
    state = current_app.extensions["mlkg"]
    try:
        store = backend()
    except StoreError:
        return {}
    key = (id(store), str(getattr(store, "store_dir", "")))
    with _lock:
        cache = state.get("queries_choices")
        if cache is None or cache[0] != key:
            cache = (key, {})
            state["queries_choices"] = cache
    found: dict[str, list[tuple[str, str]]] = {}
    for param in wanted:
        classes = param.choices_from
        if classes not in cache[1]:
            cache[1][classes] = choices(store, param, timeout=state["settings"].query_timeout)
        found[param.name] = cache[1][classes]
    return found


# ---------------------------------------------------------------- negotiation


def pick_format(
    override: str | None, offered: tuple[AnswerFormat, ...] = ANSWER_FORMATS
) -> AnswerFormat:
    """`?format=` or a suffix first, then Accept; JSON when the client does not care.

    :raises NotAcceptableError: when nothing on offer fits.
    """
    return cast(AnswerFormat, choose(request.accept_mimetypes, offered, override))


def _split_suffix(name: str) -> tuple[str, str | None]:
    stem, dot, suffix = name.partition(".")
    return (stem, suffix) if dot else (name, None)


def _arguments() -> dict[str, list[str]]:
    """Query-string and form arguments, each name with all its values.

    :raises UnsupportedMediaType: for a POST body that is not a form (a JSON body was ignored, and
        the query ran on its defaults).
    """
    if request.method == "POST" and request.content_length and request.mimetype not in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        raise UnsupportedMediaType(
            f"Cannot read a POST body of type {request.mimetype or 'none'!r}: send the arguments "
            "as a form (application/x-www-form-urlencoded) or in the query string."
        )
    merged: dict[str, list[str]] = {}
    for source in (request.args, request.form):
        for key in source:
            merged.setdefault(key, []).extend(source.getlist(key))
    return merged


def _single(args: dict[str, list[str]], key: str) -> str | None:
    values = [v for v in args.get(key, []) if v != ""]
    if len(values) > 1:
        raise ParameterError(
            f"Argument {key!r} was given {len(values)} times; give it once", parameter=key
        )
    return values[0] if values else None


# ---------------------------------------------------------------- routes


@bp.get("")
def index():
    """The catalogue: every canned query with its parameters (HTML or JSON)."""
    fmt = pick_format(request.args.get("format"), (ANSWER_FORMATS[0], ANSWER_FORMATS[1]))
    queries = list(catalogue())
    if fmt.name == "html":
        response = Response(
            render_template("queries/list.html", queries=queries), mimetype="text/html"
        )
    else:
        response = jsonify({"queries": [describe(q) for q in queries]})
    response.vary.add("Accept")
    return response


def describe(query: CannedQuery) -> dict[str, Any]:
    """A query as the catalogue lists it in JSON."""
    return {
        "name": query.name,
        "summary": query.summary,
        "description": query.description,
        "tags": list(query.tags),
        "url": f"{request.script_root}/queries/{query.name}",
        "paged": query.page_size is not None,
        "per_page": query.page_size,
        "parameters": [
            {
                "name": p.name,
                "type": p.type_name,
                "required": p.needed,
                "default": str(p.default) if p.default is not None else None,
                "enum": [str(v) for v in p.enum] or None,
            }
            for p in query.parameters
        ],
    }


@bp.route("/<name>", methods=["GET", "POST"])
def run(name: str):
    """Show the form, or run the query with the request's arguments, in the negotiated format."""
    stem, suffix = _split_suffix(name)
    query = catalogue().get(stem)
    if query is None:
        close = difflib.get_close_matches(stem, [q.name for q in catalogue()], n=3, cutoff=0.5)
        raise NotFoundError(
            f"No canned query called {stem!r}; see /queries for the catalogue",
            suggestions=[{"path": f"/queries/{c}", "label": c} for c in close] or None,
        )
    args = _arguments()
    override = _single(args, "format") or suffix
    # Accept chooses among what this query's form offers; a named format is read among them all,
    # so that csv for an ASK is refused as such, not as an unknown name
    fmt = pick_format(override, ANSWER_FORMATS if override else answer_formats(query.form))
    check_answer_format(query.form, fmt.name)
    settings = current_app.extensions["mlkg"]["settings"]
    params = {k: v for k, v in args.items() if k not in RESERVED}
    if fmt.name == "html":
        return _run_html(query, params, args)
    page = parse_page(_single(args, "page"))
    answer = run_canned(backend(), query, params, page=page, timeout=settings.query_timeout)
    links = _links(answer, name, params, _single(args, "format"))
    response = Response(answer.serialize(fmt.name, links), mimetype=fmt.media_type)
    if fmt.media_type.startswith("text/"):
        response.mimetype_params["charset"] = "utf-8"
    _add_link_header(response, links)
    response.vary.add("Accept")
    return response


def _run_html(query: CannedQuery, params: dict[str, list[str]], args: dict[str, list[str]]):
    status, answer, error = 200, None, None
    settings = current_app.extensions["mlkg"]["settings"]
    given = any(v != "" for values in params.values() for v in values)
    if given or not any(p.needed for p in query.parameters):
        try:
            page = parse_page(_single(args, "page"))
            answer = run_canned(backend(), query, params, page=page, timeout=settings.query_timeout)
        except ParameterError as exc:
            status, error = 400, exc
    links = _links(answer, query.name, params, _single(args, "format")) if answer else {}
    values = {k: (v[0] if v else "") for k, v in params.items()}
    body = render_template(
        "queries/run.html",
        query=query,
        answer=answer,
        error=error,
        values=values,
        choices=param_choices(query),
        links=links,
        formats=[f for f in answer_formats(query.form) if f.name != "html"],
        query_string=urlencode([(k, v) for k, vs in params.items() for v in vs if v != ""]),
    )
    response = Response(body, status=status, mimetype="text/html")
    _add_link_header(response, links)
    response.vary.add("Accept")
    return response


def _links(
    answer: Answer | None, name: str, params: dict[str, list[str]], fmt: str | None
) -> dict[str, str]:
    """first/prev/next links of a paged answer, keeping the arguments, the `format` argument
    (from the query string or a posted form) and the path's suffix."""
    if answer is None or answer.query.page_size is None:
        return {}
    keep = [(k, v) for k, vs in params.items() for v in vs if v != ""]
    if fmt:
        keep.append(("format", fmt))

    def url(page: int) -> str:
        return f"{request.script_root}/queries/{name}?" + urlencode([*keep, ("page", str(page))])

    links = {"first": url(1)}
    if answer.page > 1:
        links["prev"] = url(answer.page - 1)
    if answer.has_next:
        links["next"] = url(answer.page + 1)
    return links


def _add_link_header(response: Response, links: dict[str, str]) -> None:
    if links:
        response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())


@api.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 description of the canned-query API, generated from the query files."""
    doc = _openapi()
    response = jsonify(doc)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@api.get("/api/docs")
def docs():
    """The API documentation, rendered on the server from the OpenAPI description (no scripts)."""
    return render_template("queries/docs.html", doc=_openapi(), queries=list(catalogue()))


def _openapi() -> dict[str, Any]:
    examples = {}
    for query in catalogue():
        try:
            examples[query.name] = param_choices(query)
        except MlkgError:  # choices are a nicety; the description stands without them
            examples[query.name] = {}
    return build_openapi(
        catalogue(), server=request.host_url.rstrip("/") + request.script_root, choices=examples
    )
