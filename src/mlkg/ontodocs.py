"""Human-readable documentation of the ontology and the SHACL shapes, with examples from the data.

Generated at build time (:func:`write_docs`, called by `mlkg.build.build`) from the ontology graphs
of the built store, the shapes files (``ontology/shapes*.ttl``) and the store's data: for each class
its hierarchy, properties, the shapes that target it, its number of instances and examples; for each
property its domain, range, use count and example statements; for each shape its targets and every
constraint it enforces, in words, with its message. The result is an HTML fragment
(``var/docs/<store id>/ontology.html``) that the web layer places inside its page layout at
`/ontology`. (pyLODE was tried: its current release fails to import, and the release that runs
documents neither shapes nor data examples — see docs/exports.md.)"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS

from mlkg._rows import term_from_ox
from mlkg.build import StoreMeta, current_store, load_meta
from mlkg.config import Settings
from mlkg.errors import StoreError
from mlkg.namespaces import BASE, MLKG, PREFIXES
from mlkg.store import GRAPH_BASE, bind_prefixes, parse_turtle, shapes_files

DOCS_VERSION = "1"
EXAMPLES = 3
TEMPLATES = Path(__file__).with_name("templates")
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass
class Ref:
    """A link to a term: its short name, and the anchor on the page or an outside address."""

    text: str
    href: str | None = None
    title: str | None = None


@dataclass
class Example:
    """One instance or statement from the data, shown beside a class or property."""

    subject: Ref
    value: Ref | None = None


@dataclass
class ClassDoc:
    iri: str
    curie: str
    anchor: str
    label: str
    comment: str
    superclasses: list[Ref] = field(default_factory=list)
    subclasses: list[Ref] = field(default_factory=list)
    domain_of: list[Ref] = field(default_factory=list)
    range_of: list[Ref] = field(default_factory=list)
    shapes: list[Ref] = field(default_factory=list)
    individuals: list[Ref] = field(default_factory=list)
    count: int = 0
    examples: list[Example] = field(default_factory=list)


@dataclass
class PropertyDoc:
    iri: str
    curie: str
    anchor: str
    label: str
    comment: str
    kind: str
    domain: list[Ref] = field(default_factory=list)
    range: list[Ref] = field(default_factory=list)
    superproperties: list[Ref] = field(default_factory=list)
    characteristics: list[str] = field(default_factory=list)
    shapes: list[Ref] = field(default_factory=list)
    count: int = 0
    examples: list[Example] = field(default_factory=list)


@dataclass
class ConstraintDoc:
    """A property shape (the node itself when `path` is None): its rules in words, its message."""

    path: str | None
    rules: list[str]
    message: str | None = None


@dataclass
class ShapeDoc:
    iri: str
    curie: str
    anchor: str
    comment: str
    message: str | None
    targets: list[str]
    node_rules: list[str]
    properties: list[ConstraintDoc]
    sparql: list[tuple[str, str]]  # (message, query)
    source: str


@dataclass
class Docs:
    """Everything the documentation page shows."""

    title: str
    iri: str
    comment: str
    version: str | None
    license: str | None
    created: str | None
    imports: list[str]
    classes: list[ClassDoc]
    properties: list[PropertyDoc]
    individuals: list[tuple[Ref, str, Ref | None]]
    schemes: list[tuple[Ref, str]]
    shapes: list[ShapeDoc]
    namespaces: list[tuple[str, str]]
    store_id: str | None = None


# ---------------------------------------------------------------- names

# Prefixes for names on the page, beyond those every graph binds.
DOC_PREFIXES = {
    **PREFIXES,
    "shp": BASE + "shapes#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "sssom": "https://w3id.org/sssom/",
    "semapv": "https://w3id.org/semapv/vocab/",
}


def _sorted_prefixes() -> list[tuple[str, str]]:
    return sorted(DOC_PREFIXES.items(), key=lambda item: -len(item[1]))


def curie(iri: str) -> str:
    """A prefixed name for a term IRI, or the IRI itself.

    >>> curie("https://w3id.org/mlkg/def/Role"), curie("http://example.org/x")
    ('mlkg:Role', 'http://example.org/x')
    """
    for prefix, namespace in _sorted_prefixes():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    if iri == str(MLKG):
        return "mlkg:"
    return iri


def anchor(iri: str) -> str:
    """An HTML id for a term: its prefixed name with unsafe characters replaced.

    >>> anchor("https://w3id.org/mlkg/def/Role")
    'mlkg-Role'
    """
    return re.sub(r"[^A-Za-z0-9_-]+", "-", curie(iri)).strip("-")


def entity_href(iri: str) -> str | None:
    """Where the app shows an entity of the data (its path under the base), or None outside it."""
    return "/" + iri[len(BASE) :] if iri.startswith(BASE) else None


def _text(graph: Graph, node, prop) -> str:
    values = [v for v in graph.objects(node, prop) if isinstance(v, Literal)]
    english = [v for v in values if v.language in (None, "en")]
    return str((english or values)[0]) if values else ""


# ---------------------------------------------------------------- shapes in words


def _name(graph: Graph, iri: str) -> str:
    """A prefixed name from mlkg's prefixes, else from those bound in `graph`, else the IRI."""
    short = curie(iri)
    if short != iri:
        return short
    for prefix, namespace in sorted(graph.namespaces(), key=lambda item: -len(str(item[1]))):
        if prefix and iri.startswith(str(namespace)) and len(iri) > len(str(namespace)):
            return f"{prefix}:{iri[len(str(namespace)) :]}"
    return iri


def path_text(graph: Graph, path) -> str:
    """A SHACL property path in SPARQL property-path notation.

    >>> g = Graph().parse(data="@prefix sh: <http://www.w3.org/ns/shacl#> . "
    ...     "<urn:s> sh:path [ sh:inversePath ( <https://w3id.org/mlkg/def/a> "
    ...     "<https://w3id.org/mlkg/def/b> ) ] .",
    ...     format="turtle")
    >>> path_text(g, g.value(URIRef("urn:s"), SH.path))
    '^(mlkg:a/mlkg:b)'
    """
    return _path(graph, path)[0]


def _path(graph: Graph, path) -> tuple[str, int]:
    """(text, precedence): 3 for an IRI or a unary path, 2 for a sequence, 1 for alternatives."""

    def wrap(item: tuple[str, int], level: int) -> str:
        return item[0] if item[1] >= level else f"({item[0]})"

    if isinstance(path, URIRef):
        return _name(graph, str(path)), 3
    if isinstance(path, BNode):
        if (path, RDF.first, None) in graph:
            return "/".join(wrap(_path(graph, p), 2) for p in Collection(graph, path)), 2
        for prop, fmt in (
            (SH.inversePath, "^{}"),
            (SH.zeroOrMorePath, "{}*"),
            (SH.oneOrMorePath, "{}+"),
            (SH.zeroOrOnePath, "{}?"),
        ):
            inner = graph.value(path, prop)
            if inner is not None:
                return fmt.format(wrap(_path(graph, inner), 3)), 3
        alternatives = graph.value(path, SH.alternativePath)
        if alternatives is not None:
            return "|".join(wrap(_path(graph, p), 1) for p in Collection(graph, alternatives)), 1
    return str(path), 3


def _term(graph: Graph, node) -> str:
    if isinstance(node, Literal):
        return repr(str(node)) if node.datatype is None or node.language else str(node)
    return _name(graph, str(node)) if isinstance(node, URIRef) else "a blank node"


def _list(graph: Graph, node) -> list:
    return list(Collection(graph, node)) if node is not None else []


def rules(graph: Graph, shape) -> list[str]:
    """Every constraint of one shape (node or property shape) in words."""
    said: list[str] = []
    value = graph.value

    min_count, max_count = value(shape, SH.minCount), value(shape, SH.maxCount)
    if min_count is not None and max_count is not None:
        said.append(
            f"exactly {min_count}"
            if min_count == max_count
            else f"between {min_count} and {max_count} values"
        )
    elif min_count is not None:
        said.append(f"at least {min_count}")
    elif max_count is not None:
        said.append(f"at most {max_count}")
    for prop, words in (
        (SH.datatype, "datatype"),
        (SH["class"], "each value an instance of"),
        (SH.nodeKind, "node kind"),
        (SH.hasValue, "must include the value"),
        (SH.node, "each value conforms to"),
        (SH.equals, "same values as"),
        (SH.disjoint, "no value shared with"),
        (SH.lessThan, "less than the values of"),
        (SH.lessThanOrEquals, "at most the values of"),
    ):
        for item in graph.objects(shape, prop):
            target = _term(graph, item)
            if prop == SH.node and isinstance(item, BNode):
                target = "(" + "; ".join(rules(graph, item)) + ")"
            said.append(f"{words} {target}")
    for prop, words in (
        (SH.minInclusive, "≥"),
        (SH.maxInclusive, "≤"),
        (SH.minExclusive, ">"),
        (SH.maxExclusive, "<"),
        (SH.minLength, "length ≥"),
        (SH.maxLength, "length ≤"),
    ):
        for item in graph.objects(shape, prop):
            said.append(f"value {words} {item}")
    for item in graph.objects(shape, SH.pattern):
        flags = value(shape, SH.flags)
        said.append(f"matches /{item}/{flags or ''}")
    for item in graph.objects(shape, SH["in"]):
        said.append("one of " + ", ".join(_term(graph, x) for x in _list(graph, item)))
    for item in graph.objects(shape, SH.languageIn):
        said.append("language one of " + ", ".join(str(x) for x in _list(graph, item)))
    if value(shape, SH.uniqueLang) == Literal(True):
        said.append("at most one value per language")
    if value(shape, SH.closed) == Literal(True):
        said.append("closed: no properties other than those declared")
    for prop, words in (
        (SH["or"], "at least one of"),
        (SH.xone, "exactly one of"),
        (SH["and"], "all of"),
    ):
        for item in graph.objects(shape, prop):
            parts = [
                "; ".join(rules(graph, member)) or _term(graph, member)
                for member in _list(graph, item)
            ]
            said.append(f"{words}: " + " | ".join(f"[{p}]" for p in parts))
    for item in graph.objects(shape, SH["not"]):
        said.append("not: [" + ("; ".join(rules(graph, item)) or _term(graph, item)) + "]")
    qualified = value(shape, SH.qualifiedValueShape)
    if qualified is not None:
        low, high = value(shape, SH.qualifiedMinCount), value(shape, SH.qualifiedMaxCount)
        said.append(
            f"{low if low is not None else 0} to {high if high is not None else 'any'} values "
            f"that satisfy [{'; '.join(rules(graph, qualified))}]"
        )
    severity = value(shape, SH.severity)
    if severity is not None and severity != SH.Violation:
        said.append(f"severity {_name(graph, str(severity))}")
    if value(shape, SH.deactivated) == Literal(True):
        said.append("deactivated")
    return said


def _targets(graph: Graph, shape) -> list[str]:
    said = [
        f"instances of {_name(graph, str(c))} (and its subclasses)"
        for c in graph.objects(shape, SH.targetClass)
    ]
    said += [
        f"subjects of {_name(graph, str(p))}" for p in graph.objects(shape, SH.targetSubjectsOf)
    ]
    said += [f"objects of {_name(graph, str(p))}" for p in graph.objects(shape, SH.targetObjectsOf)]
    said += [f"the node {_term(graph, n)}" for n in graph.objects(shape, SH.targetNode)]
    for target in graph.objects(shape, SH.target):
        query = graph.value(target, SH.select)
        comment = _text(graph, shape, RDFS.comment)
        said.append(
            "nodes selected by a SPARQL query"
            + (f" ({comment})" if comment else "")
            + (f":\n{_dedent(str(query))}" if query else "")
        )
    if (shape, RDF.type, RDFS.Class) in graph or (shape, RDF.type, OWL.Class) in graph:
        said.append(f"instances of {_name(graph, str(shape))} (implicit class target)")
    return said


def _dedent(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    indent = min((len(line) - len(line.lstrip()) for line in lines), default=0)
    return "\n".join(line[indent:] for line in lines)


def shape_docs(shapes: Graph, origins: dict[str, str] | None = None) -> list[ShapeDoc]:
    """One entry per named node shape, with its property shapes and SPARQL constraints."""
    origins = origins or {}
    docs = []
    for shape in sorted(
        {s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)}, key=str
    ):
        properties = []
        for prop in shapes.objects(shape, SH.property):
            path = shapes.value(prop, SH.path)
            properties.append(
                ConstraintDoc(
                    path=path_text(shapes, path) if path is not None else None,
                    rules=rules(shapes, prop),
                    message=_text(shapes, prop, SH.message) or None,
                )
            )
        properties.sort(key=lambda c: (c.path or "", c.rules))
        sparql = [
            (_text(shapes, c, SH.message), _dedent(str(shapes.value(c, SH.select) or "")))
            for c in shapes.objects(shape, SH.sparql)
        ]
        docs.append(
            ShapeDoc(
                iri=str(shape),
                curie=curie(str(shape)),
                anchor="shape-" + anchor(str(shape)),
                comment=_text(shapes, shape, RDFS.comment),
                message=_text(shapes, shape, SH.message) or None,
                targets=_targets(shapes, shape),
                node_rules=rules(shapes, shape),
                properties=properties,
                sparql=sorted(sparql),
                source=origins.get(str(shape), ""),
            )
        )
    return docs


# ---------------------------------------------------------------- the ontology, with data examples

_SAFE_IRI = re.compile(r'^[^\x00-\x20<>"{}|^`\\]+$')


def _iri(iri: str) -> str:
    """An IRI written for SPARQL text; ValueError if it holds characters an IRI may not."""
    if not _SAFE_IRI.match(iri):
        raise ValueError(f"not an IRI: {iri!r}")
    return f"<{iri}>"


def _select(store: ox.Store, query: str) -> list:
    return list(store.query(query))


def _label(store: ox.Store, node) -> str | None:
    if not isinstance(node, ox.NamedNode) or not _SAFE_IRI.match(node.value):
        return None
    rows = _select(
        store,
        f"SELECT ?l WHERE {{ {_iri(node.value)} "
        "<http://www.w3.org/2000/01/rdf-schema#label> ?l } LIMIT 1",
    )
    return rows[0]["l"].value if rows else None


def _value_ref(store: ox.Store, term) -> Ref:
    if isinstance(term, ox.Literal):
        suffix = (
            f"@{term.language}"
            if term.language
            else (
                ""
                if term.datatype.value.endswith("#string")
                else f" ({curie(term.datatype.value)})"
            )
        )
        return Ref(f"“{term.value}”{suffix}")
    if isinstance(term, ox.NamedNode):
        label = _label(store, term)
        return Ref(label or curie(term.value), entity_href(term.value), term.value)
    return Ref("a blank node")


def _class_stats(store: ox.Store, cls: str) -> tuple[int, list[Example]]:
    if not _SAFE_IRI.match(cls):
        return 0, []
    count = int(
        _select(store, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a {_iri(cls)} }}")[0][
            "n"
        ].value
    )
    rows = _select(
        store,
        f"SELECT DISTINCT ?s WHERE {{ ?s a {_iri(cls)} FILTER(isIRI(?s)) }} "
        f"ORDER BY ?s LIMIT {EXAMPLES}",
    )
    return count, [Example(_value_ref(store, row["s"])) for row in rows]


def _property_stats(store: ox.Store, prop: str) -> tuple[int, list[Example]]:
    if not _SAFE_IRI.match(prop):
        return 0, []
    count = int(
        _select(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s {_iri(prop)} ?o }}")[0]["n"].value
    )
    rows = _select(
        store,
        f"SELECT ?s ?o WHERE {{ ?s {_iri(prop)} ?o FILTER(isIRI(?s)) }} "
        f"ORDER BY ?s ?o LIMIT {EXAMPLES}",
    )
    return count, [
        Example(_value_ref(store, row["s"]), _value_ref(store, row["o"])) for row in rows
    ]


def _refs(nodes: Iterable, local: set[str]) -> list[Ref]:
    refs = []
    for node in nodes:
        if isinstance(node, URIRef):
            iri = str(node)
            refs.append(Ref(curie(iri), f"#{anchor(iri)}" if iri in local else None, iri))
    return sorted(refs, key=lambda r: r.text)


def ontology_docs(
    ontology: Graph, shapes: Graph, store: ox.Store, *, shape_origins: dict[str, str] | None = None
) -> Docs:
    """The documentation model of `ontology` and `shapes`, with counts and examples from `store`."""
    classes_iris = sorted(
        {str(c) for c in ontology.subjects(RDF.type, OWL.Class) if isinstance(c, URIRef)}
    )
    props = sorted(
        {
            str(p)
            for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property)
            for p in ontology.subjects(RDF.type, kind)
            if isinstance(p, URIRef)
        }
    )
    local = set(classes_iris) | set(props)
    shape_list = shape_docs(shapes, shape_origins)

    shapes_for: dict[str, list[Ref]] = {}
    for shape in shapes.subjects(RDF.type, SH.NodeShape):
        if not isinstance(shape, URIRef):
            continue
        ref = Ref(curie(str(shape)), "#shape-" + anchor(str(shape)), str(shape))
        for cls in shapes.objects(shape, SH.targetClass):
            shapes_for.setdefault(str(cls), []).append(ref)
        paths = {shapes.value(p, SH.path) for p in shapes.objects(shape, SH.property)}
        for path in paths:
            if isinstance(path, URIRef):
                shapes_for.setdefault(str(path), []).append(ref)

    individuals = []
    for subject, cls in ontology.subject_objects(RDF.type):
        if isinstance(subject, URIRef) and str(cls) in classes_iris and str(subject) not in local:
            individuals.append(
                (
                    Ref(curie(str(subject)), f"#{anchor(str(subject))}", str(subject)),
                    _text(ontology, subject, RDFS.comment),
                    Ref(curie(str(cls)), f"#{anchor(str(cls))}", str(cls)),
                )
            )
    individuals.sort(key=lambda item: item[0].text)

    classes = []
    for iri in classes_iris:
        node = URIRef(iri)
        count, examples = _class_stats(store, iri)
        classes.append(
            ClassDoc(
                iri=iri,
                curie=curie(iri),
                anchor=anchor(iri),
                label=_text(ontology, node, RDFS.label),
                comment=_text(ontology, node, RDFS.comment),
                superclasses=_refs(ontology.objects(node, RDFS.subClassOf), local),
                subclasses=_refs(ontology.subjects(RDFS.subClassOf, node), local),
                domain_of=_refs(ontology.subjects(RDFS.domain, node), local),
                range_of=_refs(ontology.subjects(RDFS.range, node), local),
                shapes=sorted(shapes_for.get(iri, []), key=lambda r: r.text),
                individuals=[ind for ind, _, cls in individuals if cls.title == iri],
                count=count,
                examples=examples,
            )
        )
    classes.sort(key=lambda c: c.label.lower() or c.curie)

    properties = []
    for iri in props:
        node = URIRef(iri)
        kinds = set(ontology.objects(node, RDF.type))
        count, examples = _property_stats(store, iri)
        properties.append(
            PropertyDoc(
                iri=iri,
                curie=curie(iri),
                anchor=anchor(iri),
                label=_text(ontology, node, RDFS.label),
                comment=_text(ontology, node, RDFS.comment),
                kind="datatype property"
                if OWL.DatatypeProperty in kinds
                else "object property"
                if OWL.ObjectProperty in kinds
                else "property",
                domain=_refs(ontology.objects(node, RDFS.domain), local),
                range=_refs(ontology.objects(node, RDFS.range), local),
                superproperties=_refs(ontology.objects(node, RDFS.subPropertyOf), local),
                characteristics=sorted(
                    curie(str(k)).removeprefix("owl:")
                    for k in kinds
                    if k
                    in (
                        OWL.SymmetricProperty,
                        OWL.TransitiveProperty,
                        OWL.FunctionalProperty,
                        OWL.InverseFunctionalProperty,
                    )
                ),
                shapes=sorted(shapes_for.get(iri, []), key=lambda r: r.text),
                count=count,
                examples=examples,
            )
        )
    properties.sort(key=lambda p: (p.curie.split(":")[0] != "mlkg", p.label.lower() or p.curie))

    onto = next(
        (o for o in ontology.subjects(RDF.type, OWL.Ontology) if str(o) == str(MLKG)), None
    ) or next(iter(ontology.subjects(RDF.type, OWL.Ontology)), URIRef(str(MLKG)))
    schemes = [
        (Ref(curie(str(s)), None, str(s)), _text(ontology, s, RDFS.comment))
        for s in sorted(ontology.subjects(RDF.type, SKOS.ConceptScheme))
    ]
    license_ = ontology.value(onto, DCTERMS.license)
    created = ontology.value(onto, DCTERMS.created)
    return Docs(
        title=_text(ontology, onto, DCTERMS.title)
        or _text(ontology, onto, RDFS.label)
        or "mlkg ontology",
        iri=str(onto),
        comment=_text(ontology, onto, RDFS.comment),
        version=_text(ontology, onto, OWL.versionInfo) or None,
        license=str(license_) if license_ else None,
        created=str(created) if created else None,
        imports=sorted(str(i) for i in ontology.objects(onto, OWL.imports)),
        classes=classes,
        properties=properties,
        individuals=individuals,
        schemes=schemes,
        shapes=shape_list,
        namespaces=sorted(DOC_PREFIXES.items()),
    )


def render(docs: Docs) -> str:
    """The documentation as an HTML fragment (every value escaped)."""
    return _env.get_template("ontodocs.html.j2").render(docs=docs)


# ---------------------------------------------------------------- files


def ontology_graph(store: ox.Store) -> Graph:
    """The ontology as built: the triples of the store's named graphs for ontology files."""
    graph = bind_prefixes(Graph())
    for name in store.named_graphs():
        if isinstance(name, ox.NamedNode) and name.value.startswith(GRAPH_BASE + "ontology/"):
            for quad in store.quads_for_pattern(None, None, None, name):
                graph.add(tuple(term_from_ox(t) for t in quad.triple))  # type: ignore[arg-type]
    return graph


def load_shapes(ontology_dir: Path) -> tuple[Graph, dict[str, str]]:
    """All shapes files of the ontology folder in one graph, and which file each shape is in."""
    graph = bind_prefixes(Graph())
    origins: dict[str, str] = {}
    for path in shapes_files(ontology_dir):
        part = parse_turtle(path)
        for shape in part.subjects(RDF.type, SH.NodeShape):
            origins.setdefault(str(shape), path.name)
        graph += part
    return graph, origins


def docs_path(settings: Settings, meta: StoreMeta) -> Path:
    """Where the documentation of one build is written."""
    return settings.var_dir / "docs" / meta.id / f"ontology-{DOCS_VERSION}.html"


_lock = threading.Lock()


def write_docs(settings: Settings, meta: StoreMeta, store_dir: Path | None = None) -> Path:
    """Generate the documentation of the build `meta` (its store in `store_dir`) and write it."""
    store_dir = store_dir or settings.var_dir / "stores" / meta.id
    try:
        store = ox.Store.read_only(str(store_dir))
    except OSError as exc:
        raise StoreError(f"cannot open the store at {store_dir}: {exc}; run `mlkg build`") from exc
    shapes, origins = load_shapes(settings.ontology_dir)
    docs = ontology_docs(ontology_graph(store), shapes, store, shape_origins=origins)
    docs.store_id = meta.id
    html = render(docs)
    path = docs_path(settings, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path


def current_docs(settings: Settings) -> Path:
    """The documentation of the store in service, generated now if the build did not write it."""
    store_dir = current_store(settings)
    meta = load_meta(store_dir)
    path = docs_path(settings, meta)
    if not path.exists():
        with _lock:
            if not path.exists():
                write_docs(settings, meta, store_dir)
    return path
