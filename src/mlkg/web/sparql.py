"""The SPARQL 1.1 Protocol endpoint (`/sparql`): queries by GET, POST form and POST
`application/sparql-query`; the service description or the query editor on a GET without a query.

No RDF logic here: `mlkg.sparql` analyses and refuses, the backend runs, `mlkg.servicedesc` describes.
"""

from __future__ import annotations

import codecs
import io
import time
from urllib.parse import parse_qs, unquote_plus, unquote_to_bytes

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.datastructures import CombinedMultiDict, MIMEAccept, MultiDict
from werkzeug.exceptions import UnsupportedMediaType

from mlkg._logbuffer import ACCESS
from mlkg._results import boolean_refused
from mlkg.errors import BadRequestError, ForbiddenQueryError, MlkgError, NotAcceptableError
from mlkg.formats import FORMATS, OutputFormat, by_name, formats_of, offers_for, parse_accept
from mlkg.sparql import analyze, check_graph_iri

bp = Blueprint("sparql", __name__, url_prefix="/sparql")

FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
TRUNCATED_HEADER = "MLKG-Truncated"
LIMIT_HEADER = "X-SPARQL-MaxRows"
#: Service descriptions kept written, per endpoint IRI (from the request's Host) and format.
SD_CACHE_ENTRIES = 32

RESULT_CANDIDATES = [f for f in FORMATS if f.kind == "results"]
GRAPH_CANDIDATES = [f for f in FORMATS if f.kind == "graph"] + [
    f for f in FORMATS if f.kind == "dataset"
]
#: By the kind of answer (`QueryInfo.kind`): an ASK's is "boolean", which CSV and TSV cannot carry.
CANDIDATES = {
    "results": RESULT_CANDIDATES,
    "boolean": formats_of("boolean"),
    "graph": GRAPH_CANDIDATES,
}
#: Names of graph formats `by_name` does not know: N3 asked for (Turtle is N3's subset). It reads
#: `format=json` and `format=xml` on a CONSTRUCT (what SPARQLWrapper sends) as JSON-LD and RDF/XML.
GRAPH_ALIASES = {"n3": "turtle"}


#: The query editor, on offer to browsers beside the service description: (type, aliases).
LANDING_PAGE = ("text/html", ("application/xhtml+xml",))


def choose_format(accept: MIMEAccept, kind: str, override: str | None) -> OutputFormat:
    """The output format for a `kind` answer: `override` (name, suffix or media type), then Accept.

    :raises NotAcceptableError: listing what is on offer when nothing fits.
    """
    candidates = CANDIDATES[kind]
    if override:
        key = override.strip().lower()
        found = by_name(GRAPH_ALIASES.get(key, key) if kind == "graph" else key, candidates)
        if found is not None:
            return found
        table = by_name(key, RESULT_CANDIDATES) if kind == "boolean" else None
        if table is not None:  # csv or tsv for an ASK
            raise boolean_refused(table.name)
        raise NotAcceptableError(
            f"Unknown format {override!r} for this query; use one of {[f.name for f in candidates]}",
            available=[f.media_type for f in candidates],
        )
    if not accept:
        return candidates[0]
    offers = offers_for(accept, candidates)
    best = accept.best_match(list(offers))
    if best is None:
        raise NotAcceptableError(
            f"Cannot produce {accept.to_header()!r} for this query; available: "
            f"{[f.media_type for f in candidates]}"
            + (" (an ASK answer: the SPARQL 1.1 CSV and TSV formats carry SELECT tables only)"
               if kind == "boolean" else ""),
            available=[f.media_type for f in candidates],
        )
    return offers[best]


def _refuse_update() -> None:
    raise ForbiddenQueryError(
        "This endpoint is read-only: SPARQL Update is refused and nothing was changed.",
        keyword="update",
    )


def _check_utf8(encoded: bytes, where: str) -> None:
    """Refuse percent-encoded parameters that are not UTF-8 (Werkzeug would put U+FFFD in their
    place, and the query would run on text the client never sent).

    :raises BadRequestError: naming where the bytes are.
    """
    if b"%" not in encoded and encoded.isascii():
        return
    try:
        unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(
            f"The {where} is not valid UTF-8 once percent-decoded (byte {exc.start}); "
            "percent-encode the query's UTF-8 bytes."
        ) from None


def _read_request() -> tuple[list[str], MultiDict]:
    """The query strings sent and the parameters to read the dataset and format from."""
    args = request.args
    _check_utf8(request.query_string, "query string")
    if request.method != "POST":
        if "update" in args:
            _refuse_update()
        return args.getlist("query"), args
    mimetype = request.mimetype
    if mimetype == FORM:
        _check_utf8(request.get_data(cache=True), "form body")
        form = request.form
        if "update" in form or "update" in args:
            _refuse_update()
        return form.getlist("query") + args.getlist("query"), CombinedMultiDict([args, form])
    if mimetype == DIRECT:
        if "update" in args:
            _refuse_update()
        charset = request.mimetype_params.get("charset")
        if charset and charset.lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"The query must be sent as UTF-8, not {charset!r} "
                "(Content-Type: application/sparql-query; charset=utf-8)."
            )
        try:
            text = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestError(
                f"The query body is not valid UTF-8 (byte {exc.start})."
            ) from None
        return [text, *args.getlist("query")], args
    if mimetype == UPDATE:
        _refuse_update()
    raise UnsupportedMediaType(
        f"Cannot read a POST body of type {mimetype or 'none'!r}: send the query as "
        f"{DIRECT!r} or as {FORM!r} with a 'query' field."
    )


def _endpoint() -> Response:
    """Answer one SPARQL protocol request."""
    failed = request.environ.get(FAST_ERROR)
    if failed is not None:  # the fast path ran the query and it failed: render that error
        raise failed
    queries, params = _read_request()
    if not queries:
        if request.method in ("GET", "HEAD"):
            return _landing()
        raise BadRequestError(
            "No query: send it in the 'query' parameter or as the body.", parameter="query"
        )
    if len(queries) > 1:
        raise BadRequestError(f"Send one query per request, not {len(queries)}.", parameter="query")
    query = queries[0]
    if not query.strip():
        raise BadRequestError("The query is empty.", parameter="query")
    state = current_app.extensions["mlkg"]
    backend = state["backend"]
    default_graph = [
        check_graph_iri(g, "default-graph-uri") for g in params.getlist("default-graph-uri")
    ]
    named_graphs = [
        check_graph_iri(g, "named-graph-uri") for g in params.getlist("named-graph-uri")
    ]
    protocol_dataset = bool(default_graph or named_graphs)
    info = analyze(query)  # refuses updates, SERVICE and LOAD; the backend checks FROM graphs
    if info is None:  # not recognisably a query: the engine reports the syntax error
        fmt = RESULT_CANDIDATES[0]
    else:
        fmt = choose_format(
            request.accept_mimetypes, info.kind, params.get("format") or params.get("output")
        )
    result = backend.run(
        query,
        result_format=fmt.name,
        timeout=state["settings"].query_timeout,
        default_graph=default_graph if protocol_dataset else None,
        named_graphs=named_graphs if protocol_dataset else None,
    )
    response = Response(result.body, content_type=_content_type(result.media_type))
    response.headers["Vary"] = "Accept"
    if result.truncated:
        response.headers[TRUNCATED_HEADER] = "true"
        response.headers[LIMIT_HEADER] = str(state["settings"].result_limit)
    return response


def _content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


def _landing() -> Response | str:
    """GET without a query: the service description (RDF) or, for browsers, the query editor."""
    accept = request.accept_mimetypes
    override = request.args.get("format") or request.args.get("output")
    fmt: OutputFormat | None
    if override:
        page = override.split(";", 1)[0].strip().lower() in ("html", "text/html")
        fmt = None if page else choose_format(accept, "graph", override)
    elif not accept:
        fmt = GRAPH_CANDIDATES[0]
    else:
        offers: dict = offers_for(accept, GRAPH_CANDIDATES)
        offers.update((k, None) for k in offers_for(accept, [LANDING_PAGE]) if k not in offers)
        best = accept.best_match(list(offers))
        if best is None:
            raise NotAcceptableError(
                f"Cannot produce {accept.to_header()!r}; the service description is offered as "
                f"{[f.media_type for f in GRAPH_CANDIDATES]}, the query editor as 'text/html'",
                available=[f.media_type for f in GRAPH_CANDIDATES] + ["text/html"],
            )
        fmt = offers[best]
    if fmt is None:
        return render_template("sparql/editor.html", formats=FORMATS)
    return _service_description(fmt)


def _service_description(fmt: OutputFormat) -> Response:
    from mlkg.servicedesc import describe_service

    state = current_app.extensions["mlkg"]
    endpoint = request.base_url.rstrip("/")
    cache = state.setdefault("sparql_sd_cache", {})
    key = (endpoint, fmt.name)
    if key not in cache:
        if len(cache) >= SD_CACHE_ENTRIES:  # a Host of the client's choosing each time
            cache.clear()
        backend = state["backend"]
        settings = state["settings"]
        triples = backend.info().get("triples")
        graph = describe_service(
            endpoint,
            backend.graphs(),
            default_triples=triples if isinstance(triples, int) else None,
            timeout=settings.query_timeout,
            result_limit=settings.result_limit,
        )
        if fmt.kind == "dataset":  # N-Quads and TriG write a dataset: the description is its default graph
            from rdflib import Dataset

            dataset = Dataset()
            dataset.namespace_manager = graph.namespace_manager
            for triple in graph:
                dataset.add(triple)
            graph = dataset
        cache[key] = graph.serialize(format=fmt.rdflib_format or fmt.name, encoding="utf-8")
    response = Response(cache[key], content_type=_content_type(fmt.media_type))
    response.headers["Vary"] = "Accept"
    return response


bp.add_url_rule("", "endpoint", _endpoint, methods=["GET", "POST"])
bp.add_url_rule("/", "endpoint_slash", _endpoint, methods=["GET", "POST"])


def register(app: Flask) -> None:
    """Register the blueprint and open the backend the settings ask for (once per app)."""
    from mlkg.backends import open_backend

    state = app.extensions["mlkg"]
    if "backend" not in state:
        state["backend"] = app.config.get("BACKEND") or open_backend(state["settings"])
    backend = state["backend"]
    state.setdefault("health", backend.info)
    app.register_blueprint(bp)
    app.wsgi_app = FastPath(app.wsgi_app, app)  # type: ignore[method-assign]


# ---------------------------------------------------------------- the lean path

FAST_ERROR = "mlkg.sparql.error"
_FAST_PARAMS = frozenset({"query", "format", "output", "default-graph-uri", "named-graph-uri"})


def decode_component(text: str) -> str:
    """`unquote_plus(text, errors="strict")`, in C for the usual case: an ASCII query string with
    no backslash, whose `%XX` escapes `codecs.escape_decode` reads as `\\xXX` (timed alone on a
    look-up's query string: 1.2-1.9 µs against 6.4-10.6 µs). Anything else, and escapes it cannot
    read (`%zz`, a lone `%`), take `unquote_plus`, which leaves those as they are.

    :raises UnicodeDecodeError: when the decoded bytes are not UTF-8, as `unquote_plus` does.

    >>> decode_component("SELECT+%3Fs+%7B%7D+%23+caf%C3%A9"), decode_component("100%25+%zz")
    ('SELECT ?s {} # café', '100% %zz')
    """
    if text.isascii() and "\\" not in text:
        try:
            raw = codecs.escape_decode(text.replace("+", " ").replace("%", "\\x"))[0]
        except ValueError:  # an escape that is not two hex digits: unquote_plus keeps it as text
            pass
        else:
            return raw.decode("utf-8")
    return unquote_plus(text, errors="strict")


class FastPath:
    """WSGI middleware: answers plain query requests to /sparql without Flask's per-request work.

    It takes GET with a query string, and POST `application/sparql-query`, whose parameters are only
    query, format/output and the graph parameters. It does what `_endpoint` does (same analysis,
    negotiation, backend call and headers, the headers the app adds to every answer, one access-log
    line). Anything else, and anything that fails before the query runs, goes to Flask unchanged; a
    query that failed while running is handed to Flask as `FAST_ERROR`, so that the one error
    handler renders it and the query is never run twice.
    """

    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app, self.app = wsgi_app, app
        self.state = app.extensions["mlkg"]
        self.extra_headers: list[tuple[str, str]] | None = None
        self._formats: dict[tuple[str, str, str], OutputFormat] = {}

    def _learn_headers(self) -> list[tuple[str, str]]:
        """The headers the app adds to a /sparql answer (security, CORS), learnt from one request."""
        from mlkg.web import INTERNAL

        environ = {  # by hand: test_request_context imports flask.testing (and pdb), ~10 ms
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/sparql",
            "QUERY_STRING": "query=ASK%20%7B%7D",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": io.StringIO(),
            INTERNAL: True,
        }
        with self.app.request_context(environ):
            response = self.app.process_response(self.app.make_response(Response(b"")))
        skip = {"content-type", "content-length", "vary"}
        return [(k, v) for k, v in response.headers.items() if k.lower() not in skip]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if path not in ("/sparql", "/sparql/"):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        planned = self._plan(environ)
        if planned is None:
            return self.wsgi_app(environ, start_response)
        query, fmt, default_graph, named_graphs = planned
        settings = self.state["settings"]
        try:
            result = self.state["backend"].run(
                query,
                result_format=fmt.name,
                timeout=settings.query_timeout,
                default_graph=default_graph,
                named_graphs=named_graphs,
            )
        except Exception as exc:  # rendered by the one error handler, through Flask
            environ[FAST_ERROR] = exc
            return self.wsgi_app(environ, start_response)
        if self.extra_headers is None:
            self.extra_headers = self._learn_headers()
        headers = [
            ("Content-Type", _content_type(result.media_type)),
            ("Content-Length", str(len(result.body))),
            ("Vary", "Accept"),
            *self.extra_headers,
        ]
        if result.truncated:
            headers += [(TRUNCATED_HEADER, "true"), (LIMIT_HEADER, str(settings.result_limit))]
        start_response("200 OK", headers)
        query_string = environ.get("QUERY_STRING", "")
        ACCESS(
            environ["REQUEST_METHOD"],
            path + ("?" + query_string if query_string else ""),
            200,
            (time.perf_counter() - started) * 1000,
        )
        return [result.body]

    def _plan(self, environ) -> tuple[str, OutputFormat, list[str] | None, list[str] | None] | None:
        """(query, format, default graphs, named graphs), or None to leave the request to Flask."""
        method = environ.get("REQUEST_METHOD")
        try:
            query_string = environ.get("QUERY_STRING", "")
            if query_string.startswith("query=") and "&" not in query_string:
                # what parse_qs gives, sooner; text that is not UTF-8 goes to Flask, which says so
                params = {"query": [decode_component(query_string[6:])]}
            else:
                params = parse_qs(query_string, keep_blank_values=True, errors="strict")
            if not params.keys() <= _FAST_PARAMS:
                return None
            if method == "GET":
                queries = params.get("query", [])
            elif (
                method == "POST" and environ.get("CONTENT_TYPE", "").split(";")[0].strip() == DIRECT
            ):
                content_type = environ["CONTENT_TYPE"].lower()
                length = int(environ.get("CONTENT_LENGTH") or -1)
                if (
                    "charset" in content_type
                    and "utf-8" not in content_type
                    and "utf8" not in content_type
                ):
                    return None
                if not 0 < length <= self.state["settings"].max_body or "query" in params:
                    return None
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)  # Flask can still read it
                queries = [body.decode("utf-8")]
            else:
                return None
            if len(queries) != 1 or not queries[0].strip():
                return None
            query = queries[0]
            info = analyze(query)
            if info is None:
                return None
            # as Flask's path reads them: the first `format`, or when that is empty the first `output`
            override = (params.get("format") or [""])[0] or (params.get("output") or [""])[0]
            accept = environ.get("HTTP_ACCEPT", "")
            key = (info.kind, override, accept)
            fmt = self._formats.get(key)
            if fmt is None:
                fmt = choose_format(parse_accept(accept), info.kind, override or None)
                if len(self._formats) < 1024:
                    self._formats[key] = fmt
            default_graph = [
                check_graph_iri(g, "default-graph-uri") for g in params.get("default-graph-uri", [])
            ]
            named_graphs = [
                check_graph_iri(g, "named-graph-uri") for g in params.get("named-graph-uri", [])
            ]
        except (MlkgError, UnicodeDecodeError, ValueError, KeyError):
            return None  # Flask answers it, with the one error handler
        if default_graph or named_graphs:
            return query, fmt, default_graph, named_graphs
        return query, fmt, None, None
