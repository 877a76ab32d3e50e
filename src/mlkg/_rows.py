"""Read query answers as rdflib terms: SELECT rows from SPARQL JSON, CONSTRUCT triples from N-Triples.

Shared by the browsing modules (`labels`, `search`, `entities`, `charts`, `sources_view`), which all
run their queries through a backend's ``run(query, result_format=..., substitutions=...)`` contract.
"""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from mlkg.backends import Backend

Row = dict[str, Node]
Triple = tuple[Node, Node, Node]


#: Browsing queries read whole answers (the index, a description); the endpoint's row cap is for users.
NO_CAP = 10_000_000


def term_from_json(cell: dict[str, str]) -> Node:
    """An rdflib term from one SPARQL JSON results cell.

    >>> term_from_json({"type": "literal", "value": "7", "datatype": str(XSD.integer)}).toPython()
    7
    """
    kind = cell["type"]
    if kind == "uri":
        return URIRef(cell["value"])
    if kind == "bnode":
        return BNode(cell["value"])
    datatype = cell.get("datatype")
    if cell.get("xml:lang"):
        return Literal(cell["value"], lang=cell["xml:lang"])
    if datatype and datatype != str(XSD.string):
        return Literal(cell["value"], datatype=URIRef(datatype), normalize=False)
    return Literal(cell["value"])


def term_from_ox(term: Any) -> Node:
    """An rdflib term from a pyoxigraph term."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value != str(XSD.string):
        return Literal(term.value, datatype=URIRef(term.datatype.value), normalize=False)
    return Literal(term.value)


def select(
    backend: Backend,
    query: str,
    substitutions: dict[str, Node] | None = None,
    timeout: float | None = None,
) -> list[Row]:
    """Run a SELECT query and return its rows (unbound variables are absent from a row)."""
    result = backend.run(
        query, result_format="json", substitutions=substitutions, timeout=timeout, limit=NO_CAP
    )
    data = json.loads(result.body)
    return [
        {name: term_from_json(cell) for name, cell in binding.items()}
        for binding in data["results"]["bindings"]
    ]


def construct(
    backend: Backend,
    query: str,
    substitutions: dict[str, Node] | None = None,
    timeout: float | None = None,
) -> list[Triple]:
    """Run a CONSTRUCT query and return its triples as rdflib terms."""
    result = backend.run(
        query, result_format="ntriples", substitutions=substitutions, timeout=timeout, limit=NO_CAP
    )
    unique = dict.fromkeys(ox.parse(result.body, format=ox.RdfFormat.N_TRIPLES))
    return [
        (term_from_ox(t.subject), term_from_ox(t.predicate), term_from_ox(t.object)) for t in unique
    ]
