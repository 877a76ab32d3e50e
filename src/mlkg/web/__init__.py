"""The Flask app: a thin web layer over mlkg's core. Only this package imports Flask."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Request, g, jsonify, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.utils import cached_property

from mlkg._logbuffer import ACCESS
from mlkg.config import Settings
from mlkg.formats import parse_accept
from mlkg.web.errors import handle_error
from mlkg.web.ranges import RangeResponse

#: Set in the WSGI environ of requests the app makes to itself (not logged).
INTERNAL = "mlkg.internal"

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")

#: Security and CORS headers on every answer (a handler may set its own value first).
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "MLKG-Truncated, X-SPARQL-MaxRows, Retry-After"),
)


class MlkgRequest(Request):
    """Flask's request, with the Accept header read by `mlkg.formats.parse_accept` (parameters
    other than q do not stop a media type from matching)."""

    @cached_property
    def accept_mimetypes(self) -> MIMEAccept:
        return parse_accept(self.headers.get("Accept"))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` may hold Flask keys and `SETTINGS` (a Settings or a dict of overrides)."""
    app = Flask(__name__)
    app.request_class = MlkgRequest
    app.response_class = RangeResponse  # files: one byte range served, any other Range ignored
    app.config.update(JSON_SORT_KEYS=False)
    config = dict(test_config or {})
    settings = config.pop("SETTINGS", None)
    if isinstance(settings, dict):
        settings = Settings().with_overrides(**settings)
    settings = settings or Settings()
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    app.extensions["mlkg"] = {"settings": settings}

    app.register_error_handler(Exception, handle_error)
    _register_blueprints(app)

    @app.get("/health")
    def health():
        """Liveness and the store in service; 503 when the backend says it cannot answer queries
        (no query worker running), so that a probe sees it."""
        body = {"status": "ok", **app.extensions["mlkg"].get("health", lambda: {})()}
        return jsonify(body), 200 if body["status"] == "ok" else 503

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        for name, value in HEADERS:
            response.headers.setdefault(name, value)
        _cors(response)
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        if not request.environ.get(INTERNAL):
            ACCESS(request.method, request.full_path.rstrip("?"), response.status_code, elapsed)
        return response

    return app


def preload(settings: Settings) -> None:
    """Import every module `create_app` uses and parse the canned queries, once, in a process that
    then forks server processes (so that each does not do it again on the same two cores)."""
    import mlkg.build  # noqa: F401
    import mlkg.web.entities  # noqa: F401
    import mlkg.web.exports  # noqa: F401
    import mlkg.web.hardening  # noqa: F401
    import mlkg.web.pagecache  # noqa: F401
    import mlkg.web.reload  # noqa: F401
    import mlkg.web.search  # noqa: F401
    import mlkg.web.sparql  # noqa: F401
    import mlkg.web.ui  # noqa: F401
    from mlkg.queries import load_catalogue
    from mlkg.web import queries  # noqa: F401

    if settings.queries_dir.is_dir():
        load_catalogue(settings.queries_dir)


def _register_blueprints(app: Flask) -> None:
    """Register each feature's blueprint (each module owns its routes)."""
    # Blueprint modules add themselves here, one line each.
    from mlkg.web import sparql; sparql.register(app)  # noqa: E702  (also opens the backend)
    from mlkg.web import queries; queries.init_app(app)  # noqa: E702  (/queries, /openapi.json, /api/docs)
    from mlkg.web import search, ui; ui.register(app); app.register_blueprint(search.bp)  # noqa: E702
    from mlkg.web import exports; exports.register(app)  # noqa: E702  (/export.*, /context.jsonld, /.well-known/void, /ontology)
    from mlkg.web import entities; app.register_blueprint(entities.bp)  # noqa: E702  (last: entity IRIs)
    from mlkg.web import hardening; hardening.install(app)  # noqa: E702  (bidi controls shown in templates)
    from mlkg.web import pagecache; pagecache.install(app)  # noqa: E702  (rendered pages per store version)


def _cors(response) -> None:
    """Let pages on any origin GET and POST (the API is public and read-only; the origin and
    exposed headers are in `HEADERS`): answer a preflight."""
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
