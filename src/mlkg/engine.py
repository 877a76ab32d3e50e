"""Run one query on a pyoxigraph store: dataset, substitutions, result cap and serialization.

This module imports pyoxigraph and the standard library only, so the query worker processes that run
it start fast and stay small. Requests and results are plain picklable values.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import pyoxigraph as ox

from mlkg import _results
from mlkg.bounded import SinglePattern
from mlkg.errors import (
    BadRequestError,
    MlkgError,
    NotAcceptableError,
    StoreCorruptError,
    is_corruption,
)


def memory_detail(limit_mb: int = 0) -> str:
    """What a query that needed more memory than a query worker may use is told.

    >>> memory_detail(300)[:70]
    'The query needed more memory than a query worker may use (300 MiB), an'
    """
    limit = f" ({limit_mb} MiB)" if limit_mb else ""
    return (
        f"The query needed more memory than a query worker may use{limit}, and was stopped. Narrow "
        "it (more specific patterns, a LIMIT, no sort or aggregate over a large join) and try again."
    )


RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}
QUAD_FORMATS = frozenset({"nquads", "trig"})
#: Prefixes written in Turtle and TriG answers (kept small: they are only for readability).
TURTLE_PREFIXES = {
    "mlkg": "https://w3id.org/mlkg/def/",
    "schema": "http://schema.org/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}

# A term travels between processes as a tuple: ("iri", value), ("bnode", id) or
# ("literal", value, datatype IRI or None, language or None).
TermTuple = tuple


@dataclass(frozen=True)
class RunResult:
    """A serialized query answer."""

    body: bytes
    media_type: str
    form: str  # "SELECT", "ASK", "CONSTRUCT" or "DESCRIBE"
    truncated: bool = False


@dataclass(frozen=True)
class Request:
    """One query to run: what a front process sends a worker."""

    query: str
    result_format: str
    default_graph: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    substitutions: tuple[tuple[str, TermTuple], ...] = ()
    limit: int | None = None
    base_iri: str | None = None
    #: Column order for SELECT * (variables by first appearance); others follow in engine order.
    variable_order: tuple[str, ...] | None = None


def term_from_tuple(term: TermTuple) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A pyoxigraph term from its tuple form.

    >>> term_from_tuple(("literal", "5", "http://www.w3.org/2001/XMLSchema#integer", None)).value
    '5'
    """
    kind = term[0]
    if kind == "iri":
        return ox.NamedNode(term[1])
    if kind == "bnode":
        return ox.BlankNode(term[1])
    if kind == "literal":
        _, value, datatype, language = term
        if language:
            return ox.Literal(value, language=language)
        if datatype:
            return ox.Literal(value, datatype=ox.NamedNode(datatype))
        return ox.Literal(value)
    raise BadRequestError(f"cannot bind a term of kind {kind!r}")


def _graph(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _query(store: ox.Store, request: Request, text: str | None = None):
    kwargs: dict[str, object] = {}
    if request.default_graph is not None or request.named_graphs is not None:
        kwargs["default_graph"] = [_graph(g) for g in request.default_graph or ()]
        kwargs["named_graphs"] = [_graph(g) for g in request.named_graphs or ()]
    if request.substitutions:
        kwargs["substitutions"] = {
            ox.Variable(name): term_from_tuple(term) for name, term in request.substitutions
        }
    return store.query(text or request.query, base_iri=request.base_iri, **kwargs)


def execute_bounded(store: ox.Store, request: Request, pattern: SinglePattern) -> RunResult:
    """`execute` for a query of the bounded shape (`mlkg.bounded`), in one call into the engine.

    The engine is asked for at most `request.limit` + 1 rows (a LIMIT on a new line, past any
    comment, when the query has none) and writes them itself. Every row takes at least one byte in
    every results format, so an answer of at most `limit` bytes has at most `limit` rows: it was not
    cut; a longer one has its rows counted (a second run, written as TSV). One with more than `limit`
    rows, a LIMIT above the cap, or SELECT * columns the engine orders otherwise, take `execute`,
    row by row. (Taking rows one by one from the engine lets other threads in between each; under
    concurrent load that costs more than the query.)
    """
    limit = request.limit
    if request.result_format not in RESULT_FORMATS or (
        pattern.limit is not None and limit is not None and pattern.limit > limit
    ):
        return execute(store, request)
    text = None if pattern.limit is not None or limit is None else f"{request.query}\nLIMIT {limit + 1}"
    result = _query(store, request, text)
    if not isinstance(result, ox.QuerySolutions):
        return finish(result, request.result_format, limit, request.variable_order)
    if request.variable_order:
        variables = [v.value for v in result.variables]
        ordered = [v for v in request.variable_order if v in variables]
        if ordered + [v for v in variables if v not in ordered] != variables:
            return execute(store, request)
    fmt = request.result_format
    body = result.serialize(format=RESULT_FORMATS[fmt])
    if pattern.limit is None and limit is not None and len(body) > limit:
        # perhaps more than `limit` rows: count them, in one more call (TSV has a line per row
        # after its header: a newline in a value is written `\n`), and write them row by row
        # only when there are more, to cut them
        tsv = _query(store, request, text).serialize(format=ox.QueryResultsFormat.TSV)
        if tsv.count(b"\n") - 1 > limit:
            return execute(store, request)
    return RunResult(body, _results.MEDIA_TYPES[fmt], "SELECT")


def execute(store: ox.Store, request: Request) -> RunResult:
    """Run `request` on `store` and serialize the answer, cut at `request.limit` rows or triples.

    :raises SyntaxError: from the engine, for a malformed query.
    :raises NotAcceptableError: when the format does not suit the query form.
    """
    return finish(_query(store, request), request.result_format, request.limit, request.variable_order)


def finish(
    result: object,
    result_format: str,
    limit: int | None,
    variable_order: tuple[str, ...] | None = None,
) -> RunResult:
    """Serialize a pyoxigraph query result (solutions, boolean or triples) in `result_format`.

    :raises NotAcceptableError: when the format does not suit the result.
    """
    if isinstance(result, ox.QueryBoolean):
        fmt = _results_format(result_format, "ASK")
        return RunResult(
            _results.write_boolean(bool(result), fmt), _results.MEDIA_TYPES[fmt], "ASK"
        )
    if isinstance(result, ox.QuerySolutions):
        fmt = _results_format(result_format, "SELECT")
        variables = [v.value for v in result.variables]
        columns = None
        if variable_order:
            ordered = [v for v in variable_order if v in variables]
            ordered += [v for v in variables if v not in ordered]
            if ordered != variables:
                columns = [variables.index(v) for v in ordered]
                variables = ordered
        rows, truncated = _take(result, limit)
        return RunResult(
            _results.write_solutions(variables, rows, fmt, columns),
            _results.MEDIA_TYPES[fmt],
            "SELECT",
            truncated,
        )
    if result_format not in GRAPH_FORMATS:
        raise NotAcceptableError(
            f"a CONSTRUCT or DESCRIBE answer is a graph; {result_format!r} is a results format. "
            f"Use one of {sorted(GRAPH_FORMATS)}",
            available=sorted(GRAPH_FORMATS),
        )
    triples, truncated = _take(result, limit)
    fmt = GRAPH_FORMATS[result_format]
    if result_format in QUAD_FORMATS:
        items: list = [
            ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples
        ]
    else:
        items = triples
    prefixes = TURTLE_PREFIXES if result_format in ("turtle", "trig") else None
    body = ox.serialize(items, format=fmt, prefixes=prefixes)
    return RunResult(body, fmt.media_type, "CONSTRUCT", truncated)


def _results_format(name: str, form: str) -> str:
    if name not in RESULT_FORMATS:
        raise NotAcceptableError(
            f"a {form} answer is a results table; {name!r} is an RDF format. "
            f"Use one of {sorted(RESULT_FORMATS)}",
            available=sorted(RESULT_FORMATS),
        )
    return name


def _take(items, limit: int | None) -> tuple[list, bool]:
    """At most `limit` items, and whether there were more."""
    if limit is None:
        return list(items), False
    taken = list(islice(items, limit + 1))
    if len(taken) > limit:
        return taken[:limit], True
    return taken, False


def error_tuple(exc: BaseException, store: object = None) -> tuple[str, str, dict]:
    """An exception as (class name, detail, extra), to send between processes; a damaged block of
    the store (at `store`) as a StoreCorruptError, which is the store's fault, not the query's."""
    if isinstance(exc, MlkgError):
        return type(exc).__name__, exc.detail, dict(exc.extra)
    if isinstance(exc, SyntaxError):
        return "SyntaxError", str(exc.args[0] if exc.args else exc), {}
    if is_corruption(exc):
        return "StoreCorruptError", StoreCorruptError.at(store, exc).detail, {}
    if isinstance(exc, MemoryError):  # Python's side of the worker's heap limit (mlkg._worker)
        return "QueryMemoryError", memory_detail(), {}
    return "MlkgError", f"the query failed in the engine: {type(exc).__name__}: {exc}", {}
