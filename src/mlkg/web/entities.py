"""Entity pages: every IRI under the base served at its own path, as HTML or RDF by negotiation.

Routes use the first path segments of the IRI scheme (data/README.md), so they never shadow the other
blueprints. A page costs one store query (the entity's description), plus one for a source document's
evidence or a role's salary charts; labels, types and search come from the per-version snapshot.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request
from rdflib import Literal

from mlkg._rows import Backend
from mlkg.charts import (
    render_svg,
    salary_charts,
    salary_figures,
    university_charts,
    university_figures,
)
from mlkg.config import Settings
from mlkg.entities import (
    ENTITY_PREFIXES,
    build_page,
    class_key,
    describe,
    describe_rdf,
    format_literal,
    iri_to_path,
    path_to_iri,
    split_suffix,
)
from mlkg.errors import NotFoundError, StoreError
from mlkg.formats import OutputFormat, choose, formats_of
from mlkg.namespaces import MLKG
from mlkg.snapshot import Snapshot, load_snapshot
from mlkg.web.sparql import LIMIT_HEADER, TRUNCATED_HEADER
from mlkg.sources_view import DocumentView, Support, document_view

bp = Blueprint("entities", __name__)

_lock = threading.Lock()
_SEGMENTS = ",".join(
    f"'{p}'" for p in ENTITY_PREFIXES if "/" not in p and p not in ("def", "source")
)


def settings() -> Settings:
    """The app's settings."""
    return current_app.extensions["mlkg"]["settings"]


def backend() -> Backend:
    """The app's query backend; an in-process one over the current store when none was set up."""
    state = current_app.extensions["mlkg"]
    found = state.get("backend")
    if found is None:
        with _lock:
            found = state.get("backend")
            if found is None:
                from mlkg.backends import EmbeddedBackend
                from mlkg.build import current_store

                found = state["backend"] = EmbeddedBackend(current_store(settings()))
    return found


def store_version(found: Backend) -> str:
    """An identifier of the store version the backend serves."""
    info = getattr(found, "info", None)
    if callable(info):
        version = info().get("store")
        if version:
            return str(version)
    store_dir = getattr(found, "store_dir", None)
    return str(store_dir or id(found))


#: How long a request waits for the snapshot of a store version (at 1M triples, ~5 s of one core
#: to read with the entity index written, as `mlkg build` writes it; where no build wrote it, ~1 min
#: more) before it is answered 503 with Retry-After, inside a client's usual 30 s timeout.
SNAPSHOT_WAIT = 25.0


class _Loading:
    """One store version's snapshot, loaded by a thread of its own for every request that waits."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.done = threading.Event()
        self.snapshot: Snapshot | None = None
        self.error: BaseException | None = None

    def run(self, state: dict, found: Backend, config: Settings) -> None:
        try:
            self.snapshot = load_snapshot(
                found,
                version=self.version,
                base=config.base_iri,
                sources_dir=config.sources_dir,
                timeout=config.query_timeout,
                var_dir=config.var_dir,
            )
        except BaseException as exc:  # noqa: BLE001  (raised in each waiting request instead)
            self.error = exc
        try:
            with _lock:
                if state.get("snapshot_loading") is self:
                    del state["snapshot_loading"]  # a failure is tried again by the next request
                current = store_version(state.get("backend") or found)
                if self.snapshot is not None and current == self.version:
                    state["snapshot"] = self.snapshot
        finally:
            self.done.set()  # whatever happened, nobody waits for it any longer


def snapshot() -> Snapshot:
    """Labels, entity index and source documents of the store in service (loaded once per version,
    in the background: a request waits at most `SNAPSHOT_WAIT` s for it).

    :raises StoreError: (503, Retry-After) when it is still being loaded after that.
    """
    state = current_app.extensions["mlkg"]
    found = backend()
    version = store_version(found)
    current = state.get("snapshot")
    if current is not None and current.version == version:
        return current
    with _lock:
        current = state.get("snapshot")
        if current is not None and current.version == version:
            return current
        loading = state.get("snapshot_loading")
        if loading is None or loading.version != version:
            loading = state["snapshot_loading"] = _Loading(version)
            threading.Thread(
                target=loading.run, args=(state, found, settings()), name="mlkg-snapshot", daemon=True
            ).start()
    if not loading.done.wait(SNAPSHOT_WAIT):
        raise StoreError(
            f"The entity index of this store is still being loaded (waited {SNAPSHOT_WAIT:g} s; "
            "where no build wrote it, it is written first, once). Try again shortly.",
            retry_after=5,
        )
    if loading.error is not None:
        raise loading.error
    assert loading.snapshot is not None
    return loading.snapshot


def request_iri() -> tuple[str, str]:
    """(IRI, path) of the entity the request names, from the raw request URI so %2F survives."""
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    path = raw.split("?", 1)[0] if raw else quote(request.path, safe="/:@!$&'()*+,;=-._~")
    if "://" in path:  # an absolute request-target
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root) :]
    return path_to_iri(path, settings().base_iri), path


def requested(known) -> tuple[str, str, OutputFormat | None] | None:
    """(IRI, path, format of its suffix) that the request names among `known` IRIs — the path as
    it is, else without a format suffix (.ttl, .jsonld, .nt, .rdf) — or None."""
    iri, path = request_iri()
    if iri in known:
        return iri, path, None
    stripped, suffix_fmt = split_suffix(path)
    candidate = path_to_iri(stripped, settings().base_iri) if suffix_fmt else None
    if candidate is None or candidate not in known:
        return None
    return candidate, stripped, suffix_fmt


def choose_format(fmt: OutputFormat | None) -> OutputFormat | None:
    """The graph format to answer with, or None for HTML: suffix, ?format=, then Accept.

    :raises NotAcceptableError: for an unknown ?format= or an Accept header nothing fits.
    """
    if fmt is not None:
        return fmt
    return choose(request.accept_mimetypes, formats_of("graph"), request.args.get("format"),
                  html=True, html_first=True)


def _link_header(path: str, html: bool) -> str:
    links = [
        f'<{quote(path, safe="/:@!$&()*+,;=-._~%")}.{f.suffix}>; rel="alternate"; type="{f.media_type}"'
        for f in formats_of("graph")
    ]
    if not html:
        links.insert(
            0, f'<{quote(path, safe="/:@!$&()*+,;=-._~%")}>; rel="alternate"; type="text/html"'
        )
    return ", ".join(links)


def not_found(iri: str, snap: Snapshot) -> NotFoundError:
    """A 404 naming the IRI, with near matches from the entity index."""
    base = settings().base_iri
    suggestions = [
        {"label": e.label or e.iri, "path": iri_to_path(e.iri, base)}
        for e in snap.index.suggest(iri)
    ]
    hint = f"; did you mean {suggestions[0]['label']!r}?" if suggestions else ""
    return NotFoundError(f"No entity <{iri}> in the graph{hint}", iri=iri, suggestions=suggestions)


@bp.get(f"/<any({_SEGMENTS}):kind>/<path:rest>")
@bp.get("/def/", defaults={"rest": ""})
@bp.get("/def/<path:rest>")
@bp.get("/source/<path:rest>")
@bp.get("/.well-known/genid/<path:rest>")
def show(**_: str) -> Response:
    """An entity as HTML (browsers) or Turtle, JSON-LD, N-Triples, RDF/XML (Accept or suffix).

    :raises NotFoundError: for an IRI the graph does not use (with near matches).
    :raises NotAcceptableError: when no offered format fits.
    """
    snap = snapshot()
    named = requested(snap.index)
    if named is None:
        raise not_found(request_iri()[0], snap)
    iri, path, suffix_fmt = named
    fmt = choose_format(suffix_fmt)
    found = backend()
    timeout = settings().query_timeout
    if fmt is not None:
        body = describe_rdf(found, iri, fmt, snap.vocabulary.fact_classes(), timeout=timeout)
        response = Response(body, mimetype=fmt.media_type)
        if fmt.media_type.startswith("text/"):
            response.charset = "utf-8"
    else:
        response = Response(render_page(snap, found, iri, path), mimetype="text/html")
    response.vary.add("Accept")
    response.headers["Link"] = _link_header(path, html=fmt is None)
    return response


@bp.get("/graph/<path:rest>")
def graph(rest: str) -> Response:
    """A named graph's IRI, dereferenced: its triples as Turtle, JSON-LD, N-Triples or RDF/XML
    (Accept or suffix), capped at the result limit like any answer; browsers are sent to the
    dataset description, which says what each graph holds.

    :raises NotFoundError: for an IRI that names no graph of the store.
    """
    found = backend()
    named = requested(found.graphs())
    if named is None:
        iri = request_iri()[0]
        raise NotFoundError(f"No graph <{iri}> in the store; /.well-known/void lists them",
                            iri=iri, suggestions=[])
    iri, path, suffix_fmt = named
    fmt = choose_format(suffix_fmt)
    if fmt is None:
        response = redirect("/.well-known/void", code=303)
    else:
        limit = settings().result_limit
        result = found.run(
            f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}",
            result_format=fmt.name, timeout=settings().query_timeout, limit=limit,
        )
        response = Response(result.body, mimetype=fmt.media_type)
        if fmt.media_type.startswith("text/"):
            response.charset = "utf-8"
        if result.truncated:
            response.headers[TRUNCATED_HEADER] = "true"
            response.headers[LIMIT_HEADER] = str(limit)
    response.vary.add("Accept")
    response.headers["Link"] = _link_header(path, html=fmt is None)
    return response


def render_page(snap: Snapshot, found: Backend, iri: str, path: str) -> str:
    """The HTML of an entity page, with a source document's text or a role's charts when relevant."""
    config = settings()
    triples = describe(found, iri, snap.vocabulary.fact_classes(), timeout=config.query_timeout)
    page = build_page(iri, triples, snap, path=path, base=config.base_iri)
    extra: dict[str, object] = {}
    entry = snap.index.get(iri)
    types = set(entry.types if entry else ())
    label = snap.label
    document = snap.sources.document(iri)
    if document is not None:
        extra["doc"] = document_context(
            snap, document_view(found, document, timeout=config.query_timeout)
        )
    if page.span is not None:
        extra["span_doc"] = snap.sources.document(page.span.doc)
    if str(MLKG.Role) in types:
        figures = salary_figures(found, iri, timeout=config.query_timeout)
        extra["charts"] = [
            (c, render_svg(c))
            for c in salary_charts(figures, label, role_label=label(iri), base=config.base_iri)
        ]
    if iri == str(MLKG.University):
        unis = university_figures(found, timeout=config.query_timeout)
        extra["charts"] = [
            (c, render_svg(c)) for c in university_charts(unis, label, config.base_iri)
        ]
    if page.class_key:
        classes = {iri, *snap.vocabulary.descendants(iri)}
        members = sorted(snap.index.members(classes), key=lambda e: (e.label or e.iri).casefold())
        extra["members"] = [
            (snap.label(e.iri), iri_to_path(e.iri, config.base_iri)) for e in members[:24]
        ]
    return render_template(
        "entities/entity.html",
        page=page,
        snap=snap,
        class_key=class_key,
        iri_to_path=iri_to_path,
        **extra,
    )


def support_link(snap: Snapshot, support: Support) -> tuple[str, str | None]:
    """What a span supports, as (text, path): a statement reads "subject — predicate → object" and
    links to its subject; an entity or fact links to itself."""
    base = settings().base_iri
    if support.subject is not None and support.predicate is not None and support.object is not None:
        obj = (
            format_literal(support.object)
            if isinstance(support.object, Literal)
            else snap.label(support.object)
        )
        text = f"{snap.label(support.subject)} — {snap.vocabulary.label(support.predicate)} → {obj}"
        return text, iri_to_path(support.subject, base)
    return snap.label(support.node), iri_to_path(support.node, base)


def document_context(snap: Snapshot, view: DocumentView) -> dict[str, object]:
    """What the source-document template needs: highlighted segments and the table of spans."""
    base = settings().base_iri
    described = {
        span: [support_link(snap, s) for s in supports] for span, supports in view.supports.items()
    }
    segments = []
    for seg in view.segments:
        inner = seg.spans[0] if seg.spans else None
        title = "; ".join(text for text, _ in described.get(inner, [])[:4]) if inner else ""
        segments.append(
            {
                "text": seg.text,
                "href": iri_to_path(inner.iri, base) if inner else None,
                "title": title,
                "depth": min(len(seg.spans), 3),
                "anchors": [f"c{a.start}-{a.end}" for a in seg.anchors],
            }
        )
    spans = [
        {
            "span": span,
            "path": iri_to_path(span.iri, base),
            "quote": view.document.quote(span),
            "supports": described[span],
        }
        for span in view.supports
    ]
    return {"view": view, "segments": segments, "spans": spans}
