"""Dumps and descriptions: `/export.<suffix>`, `/export`, `/context.jsonld`, `/.well-known/void`,
`/ontology`.

No RDF logic here: `mlkg.exports` writes and caches dumps, `mlkg.void` describes the dataset,
`mlkg.jsonld` compacts, `mlkg.ontodocs` documents the ontology. Every answer is tied to the build in
service (var/current): ETag from the store's content id, Last-Modified from its build time, 304 on a
matching If-None-Match, gzip when the client accepts it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file
from markupsafe import Markup
from werkzeug.datastructures import MIMEAccept

from mlkg import exports, jsonld, ontodocs, void
from mlkg.build import StoreMeta, current_store, load_meta
from mlkg.config import Settings
from mlkg.errors import NotFoundError, ParameterError, StoreError
from mlkg.formats import OutputFormat, choose, formats_of

bp = Blueprint("exports", __name__)

HTML = "text/html"
_lock = threading.Lock()


@dataclass(frozen=True)
class _Build:
    path: Path
    store: ox.Store
    meta: StoreMeta


def _settings() -> Settings:
    return current_app.extensions["mlkg"]["settings"]


def _build() -> _Build:
    """The store in service, opened read-only once per build (a rebuild is picked up at once)."""
    settings = _settings()
    path = current_store(settings)
    state = current_app.extensions["mlkg"]
    found: _Build | None = state.get("exports_build")
    if found is None or found.path != path:
        with _lock:
            found = state.get("exports_build")
            if found is None or found.path != path:
                meta = load_meta(path)
                try:
                    store = ox.Store.read_only(str(path))
                except OSError as exc:
                    raise StoreError(
                        f"cannot open the store at {path}: {exc}; run `mlkg build`"
                    ) from exc
                found = state["exports_build"] = _Build(path, store, meta)
    return found


def _wants_gzip() -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _conditional(response: Response, etag: str, meta: StoreMeta) -> Response:
    response.set_etag(etag)
    response.last_modified = meta.built_at
    response.cache_control.public = True
    response.cache_control.no_cache = True
    return response.make_conditional(request)


@bp.get("/export.<suffix>")
def dump(suffix: str) -> Response:
    """The whole graph in one format (download), gzip-encoded when accepted.

    :raises NotFoundError: for a suffix that is not one of the dumps.
    """
    try:
        export = exports.export_for(suffix)
    except ParameterError as exc:  # an unknown suffix is an unknown resource here
        raise NotFoundError(
            f"no dump /export.{suffix}; the dumps are "
            + ", ".join(f"/export.{e.suffix}" for e in exports.EXPORTS),
            available=[f"/export.{e.suffix}" for e in exports.EXPORTS],
        ) from exc
    if suffix != export.suffix:
        return redirect(f"/export.{export.suffix}", code=301)
    settings, build = _settings(), _build()
    compressed = _wants_gzip()
    plain = exports.dump_path(settings, build.meta, export)
    if not plain.exists():  # not written yet: follow it as it is written (and start that)
        exports.start_export(settings, build.path, build.meta, export)
        chunks = exports.follow(plain, wait=max(10.0, settings.query_timeout or 0))
        if chunks is not None:
            return _streamed(chunks, settings, build.meta, export)
    packed = exports.dump_path(settings, build.meta, export, compressed=True)
    if compressed and not packed.exists():  # its gzip copy: written in the background; plain now
        exports.start_export(settings, build.path, build.meta, export)
        compressed = False
    path = packed if compressed else plain
    response = send_file(
        path,
        mimetype=export.media_type,
        as_attachment=True,
        download_name=exports.download_name(build.meta, export),
        conditional=True,
        etag=exports.etag(settings, build.meta, export, compressed=compressed),
        last_modified=build.meta.built_at,
    )
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    response.cache_control.no_cache = True
    return response


def _streamed(chunks, settings: Settings, meta: StoreMeta, export: exports.Export) -> Response:
    """A dump sent as it is written: no length, not compressed, the same ETag as the file."""
    response = Response(chunks, mimetype=export.media_type)
    name = exports.download_name(meta, export)  # letters, digits, "-" and ".": no quoting needed
    response.headers["Content-Disposition"] = f"attachment; filename={name}"
    response.set_etag(exports.etag(settings, meta, export))
    response.last_modified = meta.built_at
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    response.cache_control.no_cache = True
    return response


@bp.get("/export")
def index() -> Response:
    """The list of dumps (HTML), or a redirect to the dump in the format that Accept asks for."""
    candidates = formats_of("dataset")
    offered = [HTML] + [t for f in candidates for t in (f.media_type, *f.aliases)]
    best = request.accept_mimetypes.best_match(offered, default=HTML)
    if best not in (HTML, "application/xhtml+xml") and "html" not in best:
        chosen = next(f for f in candidates if best in (f.media_type, *f.aliases))
        return redirect(f"/export.{chosen.suffix}", code=303)
    settings, build = _settings(), _build()
    rows = []
    for export in exports.EXPORTS:
        dump_info = next(d for d in void.DUMPS if d.suffix == export.suffix)
        rows.append(
            {
                "suffix": export.suffix,
                "media_type": export.media_type,
                "title": dump_info.title,
                "dataset": export.dataset,
            }
        )
    stats = exports.description(settings, build.store, build.meta, elsewhere=build.path)
    triples = next(
        (
            int(t.object.value)
            for t in stats
            if t.subject.value == str(void.dataset_iri(settings))
            and t.predicate.value == void.VOID + "triples"
        ),
        build.meta.triples,
    )
    response = Response(
        render_template(
            "exports/index.html",
            rows=rows,
            meta=build.meta,
            triples=triples,
            graphs=build.meta.graphs,
        ),
        mimetype="text/html",
    )
    response.vary.add("Accept")
    return response


def _context_bytes() -> tuple[bytes, str]:
    state = current_app.extensions["mlkg"]
    cached = state.get("exports_context")
    if cached is None:
        body = jsonld.CONTEXT_PATH.read_bytes()
        cached = state["exports_context"] = (body, hashlib.sha256(body).hexdigest()[:16])
    return cached


@bp.get("/context.jsonld")
def context() -> Response:
    """The JSON-LD context of mlkg's JSON-LD (the file kept in the repository)."""
    body, tag = _context_bytes()
    response = Response(body, mimetype="application/ld+json")
    response.set_etag(tag)
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response.make_conditional(request)


def _void_format(accept: MIMEAccept, override: str | None) -> OutputFormat | None:
    """The RDF format asked for (Turtle by default), or None for the HTML page."""
    return choose(accept, formats_of("graph"), override, html=True)


@bp.get("/.well-known/void")
def void_description() -> Response:
    """The VoID/DCAT description of the dataset in service: Turtle by default, RDF, or HTML."""
    settings, build = _settings(), _build()
    fmt = _void_format(request.accept_mimetypes, request.args.get("format"))
    triples = exports.description(settings, build.store, build.meta, elsewhere=build.path)
    kind = fmt.name if fmt else "html"
    tag = f"{exports.etag(settings, build.meta, exports.EXPORTS[0])}-void-{kind}"
    if fmt is None:
        response = Response(
            render_template("exports/void.html", **_void_view(settings, triples, build.meta)),
            mimetype="text/html",
        )
    else:
        response = Response(void.serialize(triples, fmt.name), mimetype=fmt.media_type)
    response.vary.add("Accept")
    return _conditional(response, tag, build.meta)


def _void_view(settings: Settings, triples: list[ox.Triple], meta: StoreMeta) -> dict:
    """What the HTML page of the description shows, read back from the description's triples."""
    dataset = str(void.dataset_iri(settings))
    by_subject: dict[str, dict[str, list]] = {}
    for t in triples:
        by_subject.setdefault(t.subject.value, {}).setdefault(t.predicate.value, []).append(
            t.object
        )

    def one(subject: str, prop: str) -> str:
        values = by_subject.get(subject, {}).get(prop, [])
        return values[0].value if values else ""

    def many(subject: str, prop: str) -> list[str]:
        return [v.value for v in by_subject.get(subject, {}).get(prop, [])]

    figures = [
        (name, one(dataset, void.VOID + name))
        for name in (
            "triples",
            "entities",
            "distinctSubjects",
            "distinctObjects",
            "classes",
            "properties",
        )
    ]
    classes = sorted(
        (
            (ontodocs.curie(one(p, void.VOID + "class")), int(one(p, void.VOID + "entities")))
            for p in many(dataset, void.VOID + "classPartition")
        ),
        key=lambda r: (-r[1], r[0]),
    )
    properties = sorted(
        (
            (ontodocs.curie(one(p, void.VOID + "property")), int(one(p, void.VOID + "triples")))
            for p in many(dataset, void.VOID + "propertyPartition")
        ),
        key=lambda r: (-r[1], r[0]),
    )
    subsets = [
        (one(g, void.DCTERMS + "title"), int(one(g, void.VOID + "triples")))
        for g in many(dataset, void.VOID + "subset")
    ]
    return {
        "dataset": dataset,
        "title": one(dataset, void.DCTERMS + "title"),
        "description": one(dataset, void.DCTERMS + "description"),
        "license": one(dataset, void.DCTERMS + "license"),
        "version": one(dataset, void.DCAT + "version"),
        "modified": one(dataset, void.DCTERMS + "modified"),
        "sources": many(dataset, void.DCTERMS + "source"),
        "vocabularies": many(dataset, void.VOID + "vocabulary"),
        "figures": figures,
        "classes": classes,
        "properties": properties,
        "subsets": subsets,
        "dumps": void.DUMPS,
        "meta": meta,
        "formats": formats_of("graph"),
    }


@bp.get("/ontology")
def ontology() -> Response:
    """The documentation of the ontology and the shapes, generated when the store was built."""
    path = ontodocs.current_docs(_settings())
    state = current_app.extensions["mlkg"]
    cached = state.get("exports_docs")
    if cached is None or cached[0] != path:
        cached = state["exports_docs"] = (path, path.read_text(encoding="utf-8"))
    build = _build()
    body = Markup(cached[1])  # noqa: S704 (written by ontodocs' template, which escapes every value)
    response = Response(render_template("exports/ontology.html", body=body), mimetype="text/html")
    return _conditional(response, f"{build.meta.id}-ontology-{path.stat().st_mtime_ns}", build.meta)


def register(app) -> None:
    """Register the blueprint on `app`."""
    if "exports" not in app.blueprints:
        app.register_blueprint(bp)
