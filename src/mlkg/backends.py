"""Where queries run: the contract every store backend meets, and the embedded pyoxigraph backend.

Contract: ``backend.run(query, result_format=..., substitutions=..., timeout=...) -> RunResult``.
`result_format` is a name from `mlkg.formats.FORMATS` suited to the query form; `substitutions` binds
variables (without "?") to rdflib terms — values are bound as RDF terms, never spliced into query text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from mlkg.errors import SparqlSyntaxError, StoreError

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES, "rdfxml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD, "nquads": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG,
}


@dataclass(frozen=True)
class RunResult:
    """A serialized query answer."""

    body: bytes
    media_type: str
    form: str  # "SELECT", "ASK", "CONSTRUCT" or "DESCRIBE"
    truncated: bool = False


def to_ox(term: Node) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """An rdflib term as a pyoxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"cannot bind {term!r}")


def serialize_result(result, result_format: str) -> RunResult:
    """Serialize a pyoxigraph query result in `result_format`."""
    if isinstance(result, ox.QueryBoolean):
        fmt = RESULT_FORMATS[result_format]
        return RunResult(result.serialize(format=fmt), fmt.media_type, "ASK")
    if isinstance(result, ox.QuerySolutions):
        fmt = RESULT_FORMATS[result_format]
        return RunResult(result.serialize(format=fmt), fmt.media_type, "SELECT")
    fmt = GRAPH_FORMATS[result_format]
    return RunResult(result.serialize(format=fmt), fmt.media_type, "CONSTRUCT")


class EmbeddedBackend:
    """Runs queries in this process on a read-only pyoxigraph store (default graph = the union)."""

    def __init__(self, store_dir: Path) -> None:
        try:
            self.store = ox.Store.read_only(str(store_dir))
        except OSError as exc:
            raise StoreError(f"cannot open the store at {store_dir}: {exc}; run `mlkg build`") from exc
        self.store_dir = store_dir

    def run(self, query: str, *, result_format: str, substitutions: dict[str, Node] | None = None,
            timeout: float | None = None) -> RunResult:
        """Run `query` and serialize its answer. `timeout` is not enforced in-process."""
        subs = {ox.Variable(k): to_ox(v) for k, v in (substitutions or {}).items()}
        try:
            result = self.store.query(query, substitutions=subs or None)
        except SyntaxError as exc:
            raise SparqlSyntaxError(f"malformed query: {exc}") from exc
        return serialize_result(result, result_format)
