"""Human labels for the vocabulary: the ontology's own labels and comments, loaded once per store
version, plus English labels for the external terms (schema.org, SKOS, RDF, Web Annotation) mlkg uses.

Pages show these instead of raw IRIs; unknown terms fall back to a CURIE or their local name in words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rdflib import OWL, RDF, RDFS, URIRef
from rdflib.namespace import DCTERMS, PROV, SKOS, XSD
from rdflib.term import Node

from mlkg._rows import Backend, select
from mlkg.namespaces import BASE, MLKG, OA, PREFIXES, SCHEMA

#: English labels of external terms that the data uses (the ontology labels its own terms).
EXTERNAL_LABELS: dict[str, str] = {
    str(RDF.type): "type",
    str(RDF.Statement): "statement",
    str(RDF.subject): "subject",
    str(RDF.predicate): "predicate",
    str(RDF.object): "object",
    str(RDFS.label): "label",
    str(RDFS.comment): "comment",
    str(RDFS.subClassOf): "subclass of",
    str(RDFS.subPropertyOf): "subproperty of",
    str(RDFS.domain): "domain",
    str(RDFS.range): "range",
    str(RDFS.Class): "class",
    str(OWL.Class): "class",
    str(OWL.Ontology): "ontology",
    str(OWL.ObjectProperty): "object property",
    str(OWL.DatatypeProperty): "datatype property",
    str(OWL.SymmetricProperty): "symmetric property",
    str(OWL.imports): "imports",
    str(OWL.versionInfo): "version",
    str(OWL.versionIRI): "version IRI",
    str(SKOS.altLabel): "also known as",
    str(SKOS.prefLabel): "preferred label",
    str(SKOS.definition): "definition",
    str(SKOS.broader): "broader",
    str(SKOS.narrower): "narrower",
    str(SKOS.related): "related",
    str(SKOS.inScheme): "in scheme",
    str(SKOS.Concept): "concept",
    str(SKOS.ConceptScheme): "concept scheme",
    str(DCTERMS.title): "title",
    str(DCTERMS.created): "created",
    str(DCTERMS.modified): "modified",
    str(DCTERMS.creator): "creator",
    str(DCTERMS.license): "licence",
    str(PROV.wasDerivedFrom): "derived from",
    str(PROV.Entity): "entity",
    str(OA.SpecificResource): "evidence span",
    str(OA.TextPositionSelector): "text position selector",
    str(OA.hasSource): "source document",
    str(OA.hasSelector): "selector",
    str(OA.start): "start offset",
    str(OA.end): "end offset",
    str(SCHEMA.name): "name",
    str(SCHEMA.description): "description",
    str(SCHEMA.value): "value",
    str(SCHEMA.minValue): "minimum",
    str(SCHEMA.maxValue): "maximum",
    str(SCHEMA.currency): "currency",
    str(SCHEMA.price): "price",
    str(SCHEMA.priceCurrency): "currency",
    str(SCHEMA.publisher): "publisher",
    str(SCHEMA.provider): "provider",
    str(SCHEMA.author): "author",
    str(SCHEMA.containedInPlace): "part of",
    str(SCHEMA.itemListElement): "list item",
    str(SCHEMA.position): "position",
    str(SCHEMA.offers): "offer",
    str(SCHEMA.seller): "seller",
    str(SCHEMA.itemOffered): "item offered",
    str(SCHEMA.timeRequired): "time required",
    str(SCHEMA.url): "web address",
    str(SCHEMA.sameAs): "same as",
    str(SCHEMA.Person): "person",
    str(SCHEMA.Organization): "organization",
    str(SCHEMA.Place): "place",
    str(SCHEMA.MonetaryAmount): "monetary amount",
    str(SCHEMA.Offer): "offer",
    str(SCHEMA.CreativeWork): "creative work",
    str(XSD.decimal): "decimal",
    str(XSD.integer): "integer",
    str(XSD.string): "string",
    str(XSD.boolean): "boolean",
    str(XSD.duration): "duration",
    str(XSD.gYear): "year",
    str(XSD.date): "date",
}

VOCABULARY_QUERY = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?term ?p ?v ?ns WHERE {
  ?term ?p ?v .
  VALUES ?p { rdfs:label rdfs:comment rdf:type rdfs:subClassOf rdfs:subPropertyOf }
  FILTER(isIRI(?term) && STRSTARTS(STR(?term), STR(?ns)))
}
"""


@dataclass
class Term:
    """One ontology term: its label, comment, types and direct superclasses."""

    iri: str
    label: str | None = None
    comment: str | None = None
    types: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)


def curie(iri: str) -> str:
    """A compact name for `iri` using mlkg's prefixes, or the IRI itself.

    >>> curie("http://schema.org/Person")
    'schema:Person'
    >>> curie("https://w3id.org/mlkg/skill/python")
    'skill/python'
    """
    best = ""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(ns) > len(best) and re.fullmatch(r"[\w\-.]*", iri[len(ns) :]):
            best, name = ns, f"{prefix}:{iri[len(ns) :]}"
    if best:
        return name
    if iri.startswith(BASE):
        return iri[len(BASE) :]
    return iri


def words(local: str) -> str:
    """A camelCase or hyphenated local name in words.

    >>> words("inStateTuition")
    'in state tuition'
    >>> words("machine-learning")
    'machine learning'
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", local).replace("-", " ").replace("_", " ")
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in spaced.split())


def local_name(iri: str) -> str:
    """The part of `iri` after its last '#' or '/'.

    >>> local_name("http://schema.org/minValue")
    'minValue'
    """
    return re.split(r"[#/]", iri.rstrip("/#"))[-1]


class Vocabulary:
    """Labels, comments and the class tree of the ontology, with fallbacks for every other IRI."""

    def __init__(self, terms: dict[str, Term]) -> None:
        self.terms = terms
        self._children: dict[str, set[str]] = {}
        for term in terms.values():
            for parent in term.parents:
                self._children.setdefault(parent, set()).add(term.iri)

    def label(self, iri: Node | str) -> str:
        """The English label of a term: the ontology's, a known external one, or its local name."""
        key = str(iri)
        term = self.terms.get(key)
        if term and term.label:
            return term.label
        if key in EXTERNAL_LABELS:
            return EXTERNAL_LABELS[key]
        return words(local_name(key)) or key

    def comment(self, iri: Node | str) -> str | None:
        """The ontology's comment on a term, if any."""
        term = self.terms.get(str(iri))
        return term.comment if term else None

    def is_class(self, iri: Node | str) -> bool:
        """True for a term the ontology declares as a class."""
        term = self.terms.get(str(iri))
        return bool(term and (str(OWL.Class) in term.types or str(RDFS.Class) in term.types))

    def is_property(self, iri: Node | str) -> bool:
        """True for a term the ontology declares as a property."""
        term = self.terms.get(str(iri))
        kinds = {str(OWL.ObjectProperty), str(OWL.DatatypeProperty), str(RDF.Property)}
        return bool(term and term.types & kinds)

    def ancestors(self, iri: str) -> set[str]:
        """Every superclass of a class, transitively (the class itself excluded)."""
        seen: set[str] = set()
        todo = list(self.terms.get(iri, Term(iri)).parents)
        while todo:
            parent = todo.pop()
            if parent not in seen:
                seen.add(parent)
                todo.extend(self.terms.get(parent, Term(parent)).parents)
        return seen

    def descendants(self, iri: str) -> set[str]:
        """Every subclass of a class, transitively (the class itself excluded)."""
        seen: set[str] = set()
        todo = list(self._children.get(iri, ()))
        while todo:
            child = todo.pop()
            if child not in seen:
                seen.add(child)
                todo.extend(self._children.get(child, ()))
        return seen

    def children(self, iri: str) -> set[str]:
        """The direct subclasses of a class."""
        return set(self._children.get(iri, ()))

    def fact_classes(self) -> set[str]:
        """mlkg:Fact and all its subclasses."""
        return {str(MLKG.Fact), *self.descendants(str(MLKG.Fact))}

    def is_fact_class(self, iri: str) -> bool:
        """True for mlkg:Fact and its subclasses (nodes whose properties share their evidence)."""
        return iri == str(MLKG.Fact) or str(MLKG.Fact) in self.ancestors(iri)


def build_vocabulary(rows: Iterable[dict[str, Node]]) -> Vocabulary:
    """A Vocabulary from (term, p, v) rows of :data:`VOCABULARY_QUERY`."""
    terms: dict[str, Term] = {}
    for row in rows:
        iri, p, v = str(row["term"]), row["p"], row["v"]
        term = terms.setdefault(iri, Term(iri))
        if p == RDFS.label and (term.label is None or getattr(v, "language", None) == "en"):
            term.label = str(v)
        elif p == RDFS.comment and (term.comment is None or getattr(v, "language", None) == "en"):
            term.comment = str(v)
        elif p == RDF.type:
            term.types.add(str(v))
        elif p in (RDFS.subClassOf, RDFS.subPropertyOf) and isinstance(v, URIRef):
            term.parents.add(str(v))
    return Vocabulary(terms)


def load_vocabulary(backend: Backend, timeout: float | None = None) -> Vocabulary:
    """Load the ontology's labels, comments, types and superclasses with one query."""
    rows = select(backend, VOCABULARY_QUERY, {"ns": URIRef(str(MLKG))}, timeout=timeout)
    return build_vocabulary(rows)
