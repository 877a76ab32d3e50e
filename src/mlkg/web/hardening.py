"""Hardening applied to the whole app: fair-use limits (see `mlkg.fairuse`) on every request, the
body limit for bodies without a length, and bidirectional-text controls made visible in every
template.

A label such as ``"safe\\u202Egnp.exe"`` would show as ``safeexe.png`` (the RIGHT-TO-LEFT OVERRIDE
reverses what follows) and can spill into the text around it. Every ``{{ value }}`` in a template
passes through `finalize`, which replaces each bidi control with a visible ``[U+XXXX]`` marker;
escaping (autoescape) happens after, as before.
"""

from __future__ import annotations

import io
import re
import time

from flask import Flask
from markupsafe import Markup
from werkzeug.wsgi import ClosingIterator

from mlkg.errors import TooManyRequestsError
from mlkg.fairuse import CLIENT, FairUse, Limits, Refused

#: Paths no limit applies to (liveness checks, the page's own styles and scripts).
UNLIMITED_PREFIXES = ("/static/", "/health")

#: Embedding, override and isolate controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI), LRM/RLM/ALM.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def show_bidi(text: str) -> str:
    """`text` with bidi controls replaced by visible markers.

    >>> show_bidi("safe\\u202egnp.exe")
    'safe[U+202E]gnp.exe'
    """
    return BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def finalize(value: object) -> object:
    """Jinja's finalize hook: neutralize bidi controls in any string printed by a template."""
    if isinstance(value, str) and BIDI_CONTROLS.search(value):
        fixed = show_bidi(value)
        return Markup(fixed) if isinstance(value, Markup) else fixed
    return value


class FairUseMiddleware:
    """WSGI middleware: mark the request's client (`mlkg.fairuse.CLIENT`, for the query workers'
    fair share), and count each request in and out of `FairUse`; answer 429 when over a limit.

    It wraps the whole app (including /sparql's fast path). A refusal is rendered by the app's one
    error handler, so it is problem JSON (or the HTML error page) with every security header.
    """

    def __init__(self, wsgi_app, app: Flask, fair: FairUse) -> None:
        self.wsgi_app, self.app, self.fair = wsgi_app, app, fair

    def __call__(self, environ, start_response):
        client = environ.get("REMOTE_ADDR")
        CLIENT.set(client)
        path = environ.get("PATH_INFO") or ""
        # no REMOTE_ADDR: an in-process call (tests, tools), not a network client
        if not client or self.fair.exempt(client) or path.startswith(UNLIMITED_PREFIXES):
            return self.wsgi_app(environ, start_response)
        try:
            self.fair.enter(client)
        except Refused as refused:
            return self._refuse(environ, start_response, refused)
        started = time.perf_counter()
        done = False

        def leave() -> None:
            nonlocal done
            if not done:
                done = True
                self.fair.leave(client, time.perf_counter() - started)

        try:
            body = self.wsgi_app(environ, start_response)
        except BaseException:
            leave()
            raise
        return _Counted(body, leave)

    def _refuse(self, environ, start_response, refused: Refused):
        error = TooManyRequestsError(
            f"Too many requests: {refused.reason}. Try again in {refused.retry_after} s.",
            retry_after=refused.retry_after,
        )
        return _answer_error(self.app, error, environ, start_response)


def _answer_error(app: Flask, error: Exception, environ, start_response, **headers: str):
    """Answer `error` from a middleware, as the app's one error handler renders it (problem JSON or
    the HTML page, with every security header)."""
    from mlkg.web.errors import handle_error

    with app.request_context(environ):
        response = app.process_response(app.make_response(handle_error(error)))
    response.headers.update(headers)
    return response(environ, start_response)


class BodyLimit:
    """WSGI middleware: a body sent without a Content-Length (``Transfer-Encoding: chunked``) is
    read here, at most `max_body` bytes; a longer one is refused with 413, a shorter one goes on with
    its Content-Length set. (Flask's own limit needs a Content-Length: past it, werkzeug would stop
    reading a chunked body at the limit without a word, and the app would run what it got.)"""

    def __init__(self, wsgi_app, app: Flask, max_body: int) -> None:
        self.wsgi_app, self.app, self.max_body = wsgi_app, app, max_body

    def __call__(self, environ, start_response):
        if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get(
            "HTTP_TRANSFER_ENCODING", ""
        ).lower():
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(self.max_body + 1)
        if len(body) > self.max_body:
            from werkzeug.exceptions import RequestEntityTooLarge

            error = RequestEntityTooLarge(
                f"The request body is larger than the {self.max_body:,} bytes this server accepts."
            )  # and the rest of the body is never read: the connection closes
            return _answer_error(self.app, error, environ, start_response, Connection="close")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.wsgi_app(environ, start_response)


class _Counted(ClosingIterator):
    """The answer's body; the request counts out when the body has been sent or is closed, whichever
    comes first (a server must call close(), but a client that reads it all is done either way)."""

    def __init__(self, body, leave) -> None:
        super().__init__(body, [leave])
        self._leave = leave

    def __next__(self):
        try:
            return super().__next__()
        except StopIteration:
            self._leave()
            raise


def install(app: Flask, limits: Limits | None = None) -> None:
    """Apply the hooks above to `app` (limits: `FAIR_USE` in the app config, else the environment)."""
    app.jinja_env.finalize = finalize
    limits = limits or app.config.get("FAIR_USE") or Limits.from_env()
    fair = FairUse(limits)
    app.extensions["mlkg"]["fair_use"] = fair
    max_body = app.extensions["mlkg"]["settings"].max_body
    app.wsgi_app = BodyLimit(app.wsgi_app, app, max_body)  # type: ignore[method-assign]
    app.wsgi_app = FairUseMiddleware(app.wsgi_app, app, fair)  # type: ignore[method-assign]
