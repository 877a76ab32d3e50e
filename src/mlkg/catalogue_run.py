"""Running canned queries through a backend: bind, page, and serialize the answer in any format.

A backend is anything with ``run(query, *, result_format, timeout=None) -> RunResult`` (see
:mod:`mlkg.backends`). Queries always run with SPARQL JSON results; this module pages them and turns
them into plain JSON, the SPARQL result formats, CSV, TSV or a text table. No Flask, no click.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDFS, XSD

from mlkg.errors import NotAcceptableError, ParameterError
from mlkg.queries import CannedQuery, Parameter, sparql_term

MAX_PAGE = 1_000_000


class Backend(Protocol):
    def run(
        self, query: str, *, result_format: str, substitutions=None, timeout: float | None = None
    ): ...


@dataclass(frozen=True)
class AnswerFormat:
    """A format a canned query's answer can be sent in."""

    name: str
    media_type: str
    suffixes: tuple[str, ...]
    aliases: tuple[str, ...] = ()


ANSWER_FORMATS: tuple[AnswerFormat, ...] = (
    AnswerFormat("json", "application/json", ("json",)),
    AnswerFormat("html", "text/html", ("html",), ("application/xhtml+xml",)),
    AnswerFormat("srj", "application/sparql-results+json", ("srj",)),
    AnswerFormat(
        "srx", "application/sparql-results+xml", ("srx", "xml"), ("application/xml", "text/xml")
    ),
    AnswerFormat("csv", "text/csv", ("csv",)),
    AnswerFormat("tsv", "text/tab-separated-values", ("tsv",)),
)
#: Formats for tables only: the SPARQL 1.1 CSV and TSV results formats define no ASK answer.
TABLE_ONLY = frozenset({"csv", "tsv"})
_OX_FORMATS = {
    "srx": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}


def answer_format(name: str) -> AnswerFormat:
    """The answer format called `name` (or with that suffix or media type).

    >>> answer_format("xml").name
    'srx'

    :raises NotAcceptableError: for an unknown name.
    """
    for fmt in ANSWER_FORMATS:
        if name in (fmt.name, fmt.media_type, *fmt.suffixes):
            return fmt
    raise NotAcceptableError(
        f"Unknown format {name!r}; use one of {[f.name for f in ANSWER_FORMATS]}",
        available=[f.media_type for f in ANSWER_FORMATS],
    )


def answer_formats(form: str) -> tuple[AnswerFormat, ...]:
    """The formats an answer of a query of `form` ("SELECT" or "ASK") is offered in.

    >>> [f.name for f in answer_formats("ASK")]
    ['json', 'html', 'srj', 'srx']
    """
    return tuple(f for f in ANSWER_FORMATS if form != "ASK" or f.name not in TABLE_ONLY)


def check_answer_format(form: str, name: str) -> None:
    """Refuse CSV and TSV for an ASK query's answer (before, they carried a bare ``true``).

    :raises NotAcceptableError: listing the formats on offer for `form`.
    """
    if form == "ASK" and name in TABLE_ONLY:
        offered = answer_formats(form)
        raise NotAcceptableError(
            f"An ASK query's answer (true or false) is not written as {name!r}: the SPARQL 1.1 "
            f"CSV and TSV formats carry SELECT tables only; use one of {[f.name for f in offered]}",
            available=[f.media_type for f in offered],
        )


def parse_page(raw: str | None) -> int:
    """The page number from its text (1 when absent).

    >>> parse_page(None), parse_page("3")
    (1, 3)

    :raises ParameterError: unless it is a whole number from 1 to MAX_PAGE.
    """
    if raw is None or raw == "":
        return 1
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses: a 500) and "٢"
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ParameterError(
            f"Parameter 'page' must be a whole number from 1 to {MAX_PAGE}; got {raw[:40]!r}",
            parameter="page",
            expected="integer",
        )
    return int(raw)


@dataclass(frozen=True)
class Answer:
    """One page of a canned query's answer, as SPARQL JSON results plus paging facts."""

    query: CannedQuery
    results: dict[str, Any]  # SPARQL 1.1 JSON results (this page's rows only)
    arguments: dict[str, str]  # parameter name -> the bound value's text (defaults included)
    page: int = 1
    has_next: bool = False

    @property
    def columns(self) -> list[str]:
        """The projected variables."""
        return list(self.results.get("head", {}).get("vars", []))

    @property
    def rows(self) -> list[dict[str, dict[str, str]]]:
        """The bindings of this page (SPARQL JSON terms)."""
        return list(self.results.get("results", {}).get("bindings", []))

    @property
    def boolean(self) -> bool | None:
        """An ASK query's answer, else None."""
        return self.results.get("boolean")

    def plain_rows(self) -> list[dict[str, Any]]:
        """Rows as plain values: IRIs and texts as strings, numbers as numbers, unbound as None."""
        return [{col: plain_value(row.get(col)) for col in self.columns} for row in self.rows]

    def serialize(self, fmt: str, links: Mapping[str, str] | None = None) -> bytes:
        """The answer as bytes in format `fmt` ("json", "srj", "srx", "csv", "tsv" or "table").

        :raises NotAcceptableError: for CSV or TSV of an ASK query.
        """
        check_answer_format(self.query.form, fmt)
        if fmt == "json":
            return json.dumps(self.as_json(links), ensure_ascii=False, indent=1).encode()
        if fmt == "table":
            return render_table(self).encode()
        srj = json.dumps(self.results, ensure_ascii=False).encode()
        if fmt == "srj":
            return srj
        if fmt in _OX_FORMATS:
            if fmt in ("csv", "tsv"):  # a spreadsheet must not run a cell as a formula
                srj = json.dumps(neutralize_formulas(self.results), ensure_ascii=False).encode()
            parsed = ox.parse_query_results(srj, format=ox.QueryResultsFormat.JSON)
            return parsed.serialize(format=_OX_FORMATS[fmt])
        raise NotAcceptableError(f"Cannot write an answer as {fmt!r}")

    def as_json(self, links: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The plain JSON document: the query, its arguments, paging and rows."""
        doc: dict[str, Any] = {
            "query": self.query.name,
            "summary": self.query.summary,
            "parameters": self.arguments,
        }
        if self.boolean is not None:
            doc["boolean"] = self.boolean
            return doc
        doc.update(
            {
                "page": self.page,
                "per_page": self.query.page_size,
                "has_next": self.has_next,
                "columns": self.columns,
                "rows": self.plain_rows(),
            }
        )
        if links:
            doc["links"] = dict(links)
        return doc


_INTEGERS = {
    str(XSD[t])
    for t in (
        "integer",
        "int",
        "long",
        "short",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
    )
}


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|")


def neutralize_formulas(results: dict[str, Any]) -> dict[str, Any]:
    """A copy of SPARQL JSON results where text literals that a spreadsheet would run as a formula
    start with an apostrophe (numbers such as -5 are left as they are).

    >>> neutralize_formulas({"results": {"bindings": [{"x": {"type": "literal", "value": "=1+1"}}]}})
    {'results': {'bindings': [{'x': {'type': 'literal', 'value': "'=1+1"}}]}}
    """
    bindings = results.get("results", {}).get("bindings")
    if not bindings:
        return results
    numeric = _INTEGERS | {str(XSD.decimal), str(XSD.double), str(XSD.float)}
    safe = []
    for row in bindings:
        fixed = {}
        for name, term in row.items():
            value = term.get("value", "")
            if (term.get("type") in ("literal", "typed-literal") and value.startswith(FORMULA_STARTS)
                    and term.get("datatype") not in numeric):
                term = {**term, "value": "'" + value}
            fixed[name] = term
        safe.append(fixed)
    return {**results, "results": {**results["results"], "bindings": safe}}


def plain_value(term: Mapping[str, str] | None) -> Any:
    """A SPARQL JSON term as a plain JSON value.

    >>> plain_value({"type": "literal", "value": "750", "datatype": str(XSD.integer)})
    750
    >>> plain_value({"type": "uri", "value": "http://x"}), plain_value(None)
    ('http://x', None)
    """
    if term is None:
        return None
    if term["type"] == "bnode":
        return f"_:{term['value']}"
    datatype = term.get("datatype")
    value = term["value"]
    try:
        if datatype in _INTEGERS:
            return int(value)
        if datatype in (str(XSD.decimal), str(XSD.double), str(XSD.float)):
            number = float(value)
            if not math.isfinite(number):  # INF and NaN have no JSON number: keep the text
                return value
            return (
                int(number)
                if datatype == str(XSD.decimal) and Decimal(value) == int(number)
                else number
            )
        if datatype == str(XSD.boolean):
            return value in ("true", "1")
    except (ValueError, ArithmeticError):
        return value
    return value


def display_value(term: Mapping[str, str] | None) -> str:
    """A SPARQL JSON term as short text for tables: the value, with @lang for tagged literals.

    >>> display_value({"type": "literal", "value": "Python", "xml:lang": "en"})
    'Python'
    """
    if term is None:
        return ""
    return str(term["value"]) if term["type"] != "bnode" else f"_:{term['value']}"


def render_table(answer: Answer) -> str:
    """The answer as an aligned text table (for the CLI)."""
    if answer.boolean is not None:
        return "true\n" if answer.boolean else "false\n"
    columns = answer.columns
    cells = [[display_value(row.get(c)) for c in columns] for row in answer.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    footer = f"({len(cells)} row{'s' if len(cells) != 1 else ''}"
    footer += f", page {answer.page}; more on page {answer.page + 1})" if answer.has_next else ")"
    return "\n".join([*lines, footer]) + "\n"


def run_canned(
    backend: Backend,
    query: CannedQuery,
    args: Mapping[str, str | list[str]],
    *,
    page: int = 1,
    timeout: float | None = None,
) -> Answer:
    """Bind `args`, run one page of `query` on `backend`, and return the answer.

    :raises ParameterError: for missing, unknown or ill-typed arguments.
    """
    bindings = query.bindings(args)
    if page > 1 and query.page_size is None:
        raise ParameterError(
            f"Query {query.name!r} is answered in one page; page {page} does not exist",
            parameter="page",
            expected="integer",
        )
    result = backend.run(query.render(bindings, page), result_format="json", timeout=timeout)
    results = json.loads(result.body)
    has_next = False
    if query.page_size is not None and "results" in results:
        bindings_list = results["results"]["bindings"]
        has_next = len(bindings_list) > query.page_size
        results["results"]["bindings"] = bindings_list[: query.page_size]
    arguments = {
        p.name: str(bindings[p.variable]) for p in query.parameters if p.variable in bindings
    }
    return Answer(query, results, arguments, page, has_next)


def choices(
    backend: Backend, param: Parameter, *, timeout: float | None = None
) -> list[tuple[str, str]]:
    """(IRI, label) of every instance of the parameter's x-choices classes, by label."""
    if not param.choices_from:
        return []
    classes = " ".join(sparql_term(URIRef(c)) for c in param.choices_from)
    text = (
        f"SELECT DISTINCT ?value (SAMPLE(?l) AS ?label) WHERE {{ VALUES ?class {{ {classes} }} "
        f"?value a ?class . FILTER(isIRI(?value)) "
        f"OPTIONAL {{ ?value <{RDFS.label}> ?l }} }} "
        "GROUP BY ?value ORDER BY LCASE(STR(?label)) ?value"
    )
    body = json.loads(backend.run(text, result_format="json", timeout=timeout).body)
    found = []
    for row in body["results"]["bindings"]:
        value = row["value"]["value"]
        found.append((value, row.get("label", {}).get("value") or value))
    return found
