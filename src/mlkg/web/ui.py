"""Browsing pages: home, the class index (browse by type), one page per class, and the charts page.

Lists and counts come from the per-version snapshot; only charts query the store.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

from flask import Blueprint, current_app, render_template, request

from mlkg.charts import (
    growth_chart,
    render_svg,
    salary_charts,
    salary_figures,
    university_charts,
    university_figures,
)
from mlkg.entities import class_from_key, class_key, iri_to_path
from mlkg.errors import MlkgError, NotFoundError, ParameterError
from mlkg.namespaces import MLKG, OA, PREFIXES
from mlkg.search import Entry
from mlkg.snapshot import Snapshot
from mlkg.web.entities import backend, settings, snapshot

log = logging.getLogger("mlkg.web")

bp = Blueprint("ui", __name__)

PAGE_SIZE = 50
SORTS = {
    "label": "label",
    "-label": "label, Z to A",
    "links": "fewest links",
    "-links": "most links",
}
#: Classes of provenance records, counted apart from the things the graph is about.
PROVENANCE = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement",
    # the ESCO alignment's justifications (data/esco-alignment.ttl): about links, not entities
    "http://www.w3.org/2002/07/owl#Axiom",
    str(OA.SpecificResource),
    str(OA.TextPositionSelector),
    str(MLKG.SourceDocument),
}


@dataclass
class ClassRow:
    """A class with its direct and total (subclasses included) number of members."""

    iri: str
    key: str
    label: str
    comment: str | None
    direct: int
    total: int
    children: list[ClassRow]


def _is_data(entry: Entry) -> bool:
    return not entry.iri.startswith(str(MLKG))


def class_rows(snap: Snapshot) -> list[ClassRow]:
    """The classes that have members in the data, as a tree by rdfs:subClassOf (roots first);
    computed once per store version."""
    state = current_app.extensions["mlkg"]
    cached = state.get("ui_class_rows")
    if cached is None or cached[0] is not snap:
        cached = state["ui_class_rows"] = (snap, _class_rows(snap))
    return cached[1]


def _class_rows(snap: Snapshot) -> list[ClassRow]:
    counts: dict[str, int] = {}
    for entry in snap.index.entries.values():
        if _is_data(entry):
            for cls in entry.types:
                counts[cls] = counts.get(cls, 0) + 1
    vocab = snap.vocabulary
    used = {c for c in counts if c not in PROVENANCE}
    # a class is shown if it or one of its subclasses has members
    shown = {
        c for c in vocab.terms if vocab.is_class(c) and (vocab.descendants(c) | {c}) & used
    } | used

    def row(iri: str) -> ClassRow:
        children = sorted(
            (row(c) for c in vocab.children(iri) if c in shown), key=lambda r: r.label.casefold()
        )
        members = {iri, *vocab.descendants(iri)}
        total = sum(
            1 for e in snap.index.entries.values() if _is_data(e) and members.intersection(e.types)
        )
        return ClassRow(
            iri,
            class_key(iri),
            vocab.label(iri),
            vocab.comment(iri),
            counts.get(iri, 0),
            total,
            children,
        )

    roots = [c for c in shown if not (vocab.terms.get(c) and vocab.terms[c].parents & shown)]
    return sorted((row(c) for c in roots), key=lambda r: (-r.total, r.label.casefold()))


def _catalogue():
    """The canned queries: the app's catalogue, else loaded once from the queries folder (or None)."""
    state = current_app.extensions["mlkg"]
    catalogue = state.get("catalogue") or state.get("queries")
    if catalogue is not None and hasattr(catalogue, "__iter__"):
        return catalogue
    if "ui_catalogue" not in state:
        try:
            from mlkg.queries import load_catalogue

            state["ui_catalogue"] = load_catalogue(Path(settings().queries_dir))
        except MlkgError as exc:
            log.warning("no canned questions (%s)", exc.detail)
            state["ui_catalogue"] = None
    return state["ui_catalogue"]


def _questions(limit: int = 8) -> list[dict[str, str]]:
    """A few canned questions of the catalogue, one per leading tag, for the home page."""
    catalogue = _catalogue()
    if catalogue is None:
        return []
    chosen, tags = [], set()
    for query in catalogue:
        tag = query.tags[0] if query.tags else query.name
        if tag in tags:
            continue
        tags.add(tag)
        chosen.append(
            {"name": query.name, "summary": query.summary, "path": f"/queries/{query.name}"}
        )
        if len(chosen) == limit:
            break
    return chosen


@bp.get("/")
def home() -> str:
    """What the graph is, counts per class, a search box, useful questions and where to go next."""
    snap = snapshot()
    rows = class_rows(snap)
    data = [e for e in snap.index.entries.values() if _is_data(e)]
    provenance = {
        label: sum(1 for e in data if iri in e.types)
        for iri, label in (
            ("http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement", "reified statements"),
            (str(OA.SpecificResource), "evidence spans"),
            (str(MLKG.SourceDocument), "source documents"),
        )
    }
    info = backend().info() if callable(getattr(backend(), "info", None)) else {}
    base = settings().base_iri
    documents = [
        (d.title or d.stem, iri_to_path(d.iri, base)) for d in snap.sources.documents.values()
    ]
    entities = sum(1 for e in data if not PROVENANCE.intersection(e.types) and e.types)
    flat: list[ClassRow] = []
    todo = list(rows)
    while todo:
        row = todo.pop()
        todo.extend(row.children)
        if row.direct:
            flat.append(row)
    flat.sort(key=lambda r: (-r.direct, r.label.casefold()))
    return render_template(
        "ui/home.html",
        types=flat,
        provenance=provenance,
        triples=info.get("triples"),
        entities=entities,
        questions=_questions(),
        documents=documents,
    )


@bp.get("/classes")
def classes() -> str:
    """Browse by type: every class with members, nested by subclass, with counts."""
    return render_template("ui/classes.html", rows=class_rows(snapshot()))


def _sort_arg() -> str:
    sort = request.args.get("sort", "label")
    if sort not in SORTS:
        raise ParameterError(f"sort must be one of {sorted(SORTS)}, not {sort!r}", parameter="sort")
    return sort


def _page_arg(pages: int) -> int:
    raw = request.args.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        raise ParameterError(
            f"page must be a whole number, not {raw!r}", parameter="page"
        ) from None
    if not 1 <= page <= max(pages, 1):
        raise ParameterError(
            f"page must be from 1 to {max(pages, 1)}, not {page}", parameter="page"
        )
    return page


@bp.get("/classes/<key>")
def members(key: str) -> str:
    """The members of one class (subclasses included): sortable by label or links, paged.

    :raises NotFoundError: for a class without members in the graph.
    :raises ParameterError: for an unknown sort or a page out of range.
    """
    snap = snapshot()
    iri = class_from_key(key)
    vocab = snap.vocabulary
    classes = {iri, *vocab.descendants(iri)}
    # an ontology class lists the ontology's individuals of it too (per hour, per year), as its
    # entity page does; owl:Class and the like would list the ontology's own terms, which are not data
    own = iri.startswith(str(MLKG))
    found = [e for e in snap.index.members(classes) if own or _is_data(e)]
    if not found and not vocab.is_class(iri):
        known = [r.key for r in class_rows(snap)]
        raise NotFoundError(
            f"No class {key!r} with members; browse /classes",
            iri=iri,
            suggestions=[
                {"label": vocab.label(class_from_key(k)), "path": f"/classes/{k}"}
                for k in known
                if key.casefold()[:3] in k.casefold()
            ][:5],
        )
    sort = _sort_arg()
    labels = {e.iri: snap.label(e.iri) for e in found}
    if sort.endswith("links"):
        found.sort(key=lambda e: (e.degree, labels[e.iri].casefold()), reverse=sort.startswith("-"))
    else:
        found.sort(key=lambda e: labels[e.iri].casefold(), reverse=sort.startswith("-"))
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = _page_arg(pages)
    base = settings().base_iri
    rows = [
        {
            "label": labels[e.iri],
            "path": iri_to_path(e.iri, base),
            "alt": e.alt_labels,
            "types": [vocab.label(t) for t in e.types if t != iri] if len(classes) > 1 else [],
            "links": e.degree,
        }
        for e in found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    ]
    charts = []
    if iri == str(MLKG.University):
        charts = university_charts(
            university_figures(backend(), timeout=settings().query_timeout), snap.label, base
        )
    elif iri == str(MLKG.SalaryFigure):
        charts = salary_charts(
            salary_figures(backend(), timeout=settings().query_timeout), snap.label, base=base
        )
    return render_template(
        "ui/class.html",
        key=key,
        iri=iri,
        label=vocab.label(iri),
        comment=vocab.comment(iri),
        term_path=iri_to_path(iri, base),
        rows=rows,
        total=len(found),
        page=page,
        pages=pages,
        sort=sort,
        sorts=SORTS,
        subclasses=sorted((class_key(c), vocab.label(c)) for c in vocab.children(iri)),
        charts=[(c, render_svg(c)) for c in charts],
        page_size=PAGE_SIZE,
    )


@bp.get("/charts")
def charts() -> str:
    """Every chart: salaries by location and experience level, tuition, rates and growth."""
    snap = snapshot()
    found, timeout, base = backend(), settings().query_timeout, settings().base_iri
    by_role: dict[str, list] = {}
    for fig in salary_figures(found, timeout=timeout):
        by_role.setdefault(fig.role, []).append(fig)
    sections = []
    for role, figures in sorted(by_role.items(), key=lambda kv: -len(kv[1])):
        role_charts = salary_charts(
            figures,
            snap.label,
            role_label=snap.label(role),
            base=base,
            prefix=f"salary-{len(sections)}",
        )
        if role_charts:
            sections.append(
                (f"Salaries — {snap.label(role)}", iri_to_path(role, base), role_charts)
            )
    uni = university_charts(university_figures(found, timeout=timeout), snap.label, base)
    if uni:
        sections.append(("Universities", "/classes/University", uni))
    growth = growth_chart(found, snap.label, base, timeout=timeout)
    if growth:
        sections.append(("Growth", "/classes/GrowthStatistic", [growth]))
    rendered = [
        (title, href, [(c, render_svg(c)) for c in group]) for title, href, group in sections
    ]
    return render_template("ui/charts.html", sections=rendered)


def vendor_asset(name: str) -> str | None:
    """The URL of a front-end asset copied by scripts/setup-frontend, or None when it is missing."""
    static = Path(current_app.static_folder or "")
    if (static / "vendor" / name).is_file():
        return f"{current_app.static_url_path}/vendor/{name}"
    return None


def editor_context() -> dict[str, object]:
    """What the query editor partial needs: YASGUI's assets (None when not set up), example queries
    (canned questions without required parameters, their defaults bound as the canned query binds
    them: unbound, a parameter matched anything or nothing) and the prefixes."""
    examples = []
    for query in _catalogue() or ():
        if not any(p.needed for p in query.parameters) and len(examples) < 10:
            text = replace(query, page_size=None).render(query.bindings({}))  # no paging LIMIT
            examples.append({"name": query.name, "summary": query.summary, "text": text})
    return {
        "script": vendor_asset("yasgui/yasgui.min.js"),
        "css": vendor_asset("yasgui/yasgui.min.css"),
        "examples": examples,
        "prefixes": sorted(PREFIXES.items()),
    }


def register(app) -> None:
    """Register the browsing pages and the template helpers `vendor_asset` and `editor_context`."""
    app.register_blueprint(bp)
    app.context_processor(lambda: {"vendor_asset": vendor_asset, "editor_context": editor_context})
