"""One error handler: problem JSON (RFC 9457) for programs, an HTML page for browsers."""

from __future__ import annotations

import logging

from flask import Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from mlkg.errors import MlkgError

log = logging.getLogger("mlkg.web")


def wants_html() -> bool:
    """True when the client prefers an HTML page to problem JSON."""
    best = request.accept_mimetypes.best_match(["application/problem+json", "application/json", "text/html"])
    return best == "text/html"


def handle_error(exc: Exception) -> Response:
    """Render MlkgError or HTTPException; anything else is a logged 500 with a generic body."""
    headers: dict[str, str] = {}
    if isinstance(exc, MlkgError):
        problem = {"type": "about:blank", "title": exc.title, "status": exc.status, "detail": exc.detail,
                   **{k: v for k, v in exc.extra.items() if v is not None}}
        if exc.status == 429 and "retry_after" in exc.extra:
            headers["Retry-After"] = str(int(exc.extra["retry_after"]))
        if exc.status == 503 and "retry_after" in exc.extra:
            headers["Retry-After"] = str(int(exc.extra["retry_after"]))
    elif isinstance(exc, HTTPException):
        problem = {"type": "about:blank", "title": exc.name, "status": exc.code or 500,
                   "detail": exc.description}
        headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
        generic = InternalServerError()
        problem = {"type": "about:blank", "title": generic.name, "status": 500,
                   "detail": "The server hit an unexpected error; it has been logged."}
    if wants_html():
        response = Response(render_template("error.html", problem=problem), status=problem["status"],
                            mimetype="text/html")
    else:
        response = jsonify(problem)
        response.status_code = problem["status"]
        response.mimetype = "application/problem+json"
    for key, value in headers.items():
        response.headers[key] = value
    response.vary.add("Accept")
    return response
