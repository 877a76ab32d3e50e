"""Canned queries: `queries/*.rq` files with a grlc-compatible `#+` YAML header and typed
parameters.

A file is plain SPARQL. Lines that start with ``#+`` form one YAML mapping (``summary`` required;
``description``, ``tags``, ``defaults``, ``enumerate``, ``pagination``, ``method`` and ``x-`` keys
optional). Parameters follow grlc's variable names: ``?_name_type`` is required, ``?__name_type``
optional, where the name matches ``[A-Za-z0-9]+`` and the type is ``iri``, ``integer``, ``number``
(or ``decimal``),
``literal``, a language tag (``en``) or ``xsd_<type>`` (``xsd_date`` …).

Values are never pasted into the query text as text: each one is checked against its type, made an
RDF term, and written as that term in a ``VALUES`` block at the start of the query's top-level
``WHERE`` group.
Optional parameters left out are simply absent from ``VALUES`` (so ``BOUND(?__x)`` is false).
This module reads and checks files and renders query text; it never runs queries.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from mlkg._iri import IRI_RE
from mlkg._sparql_scan import ScanError, Token, line_of, scan
from mlkg.errors import ParameterError, QueryFileError
from mlkg.namespaces import PREFIXES

#: libyaml's safe loader when PyYAML was built with it, else PyYAML's own. The same mappings; the
#: C one read the 34 canned headers in ~2–4 ms against ~22–26 ms (2026-12-03), and loading the
#: catalogue is part of `mlkg serve`'s start.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FORBIDDEN = frozenset(
    {"SERVICE", "LOAD", "INSERT", "DELETE", "CLEAR", "DROP", "CREATE", "COPY", "MOVE", "ADD"}
)
HEADER_KEYS = frozenset(
    {"summary", "description", "tags", "defaults", "enumerate", "pagination", "method"}
)
RESERVED = frozenset({"format", "page"})
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PARAM_NAME_RE = re.compile(r"^[A-Za-z0-9]+$")
INTEGER_RE = re.compile(r"^[+-]?[0-9]+$")
NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
DATE_RE = re.compile(r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}$")
LANG_RE = re.compile(r"^[a-z]{2,3}$")
MAX_VALUE = 1000  # characters in a literal value
MAX_IRI = 2048
MAX_DIGITS = 100  # digits of an integer
MAX_EXPONENT = 400  # decimal exponent of a number (every double fits)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10000
SAMPLE_IRI = URIRef("urn:x-mlkg:sample")

XSD_TYPES: dict[str, URIRef] = {
    "date": XSD.date,
    "dateTime": XSD.dateTime,
    "gYear": XSD.gYear,
    "integer": XSD.integer,
    "decimal": XSD.decimal,
    "boolean": XSD.boolean,
    "string": XSD.string,
}


# ---------------------------------------------------------------- terms


def is_iri(value: str) -> bool:
    """True if `value` is an absolute IRI (RFC 3987) that can be written as ``<value>`` in SPARQL:
    at most MAX_IRI characters matching `mlkg._iri.IRI_PATTERN`, as the OpenAPI description tells
    clients (tests/test_openapi.py holds the description and this check to the same answers).

    >>> is_iri("https://w3id.org/mlkg/place/austin"), is_iri("a b"), is_iri("x:}"), is_iri("x:%zz")
    (True, False, False, False)
    """
    if len(value) > MAX_IRI or not IRI_RE.search(value):
        return False
    try:  # the store's own parser has the last word (the pattern is written to agree with it)
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


def _escape(text: str) -> str:
    """A SPARQL short-string body: backslash, quotes and line breaks escaped (never ``\\u``)."""
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
    )


def sparql_term(term: Node) -> str:
    """Write an IRI or literal as SPARQL text that denotes exactly that term.

    >>> sparql_term(Literal('say "hi" }', lang="en"))
    '"say \\\\"hi\\\\" }"@en'
    >>> sparql_term(URIRef("https://w3id.org/mlkg/place/austin"))
    '<https://w3id.org/mlkg/place/austin>'

    :raises ValueError: for an IRI that is not a valid absolute IRI, or a blank node.
    """
    if isinstance(term, URIRef):
        if not is_iri(str(term)):
            raise ValueError(f"not an absolute IRI: {str(term)!r}")
        return f"<{term}>"
    if isinstance(term, Literal):
        body = f'"{_escape(str(term))}"'
        if term.language:
            if not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", term.language):
                raise ValueError(f"bad language tag {term.language!r}")
            return f"{body}@{term.language}"
        if term.datatype and term.datatype != XSD.string:
            return f"{body}^^{sparql_term(URIRef(term.datatype))}"
        return body
    raise ValueError(f"cannot write {term!r} as a SPARQL constant")


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Parameter:
    """One query parameter: its name, type and what the header says about it."""

    name: str
    variable: str  # without "?", e.g. "_maxPrice_number"
    required: bool
    kind: str  # "iri", "integer", "number", "literal", "language" or "xsd"
    datatype: URIRef | None = None  # for "xsd" (and the implied type of integer/number)
    language: str | None = None  # for "language"
    default: Node | None = None
    enum: tuple[Node, ...] = ()
    choices_from: tuple[URIRef, ...] = ()  # classes whose instances a form offers (x-choices)

    @property
    def type_name(self) -> str:
        """The type as users read it: "iri", "integer", "number", "literal", "en", "xsd:date"."""
        if self.kind == "language":
            return f"literal@{self.language}"
        if self.kind == "xsd":
            return f"xsd:{str(self.datatype).removeprefix(str(XSD))}"
        return self.kind

    @property
    def expected(self) -> str:
        """A phrase naming the expected type, for error messages and forms."""
        return {
            "iri": "an absolute IRI such as https://w3id.org/mlkg/place/austin",
            "integer": "an integer such as 42",
            "number": "a decimal number such as 250 or 51.93",
            "literal": f"a text of at most {MAX_VALUE} characters",
            "language": f"a text (read as language {self.language!r}) of at most {MAX_VALUE} "
            "characters",
        }.get(self.kind) or f"a value of type {self.type_name}"

    @property
    def needed(self) -> bool:
        """True when a caller must give a value (required and without a default)."""
        return self.required and self.default is None

    def parse(self, raw: str) -> Node:
        """The RDF term for the text `raw`, checked against the parameter's type.

        :raises ParameterError: when `raw` is not a value of the type (or not in the enumeration).
        """
        term = self._parse(raw)
        if self.enum and term not in self.enum:
            raise self._error(raw, f"one of {[str(v) for v in self.enum]}")
        return term

    def _error(self, raw: str, expected: str | None = None) -> ParameterError:
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        return ParameterError(
            f"Parameter {self.name!r} must be {expected or self.expected}; got {shown!r}",
            parameter=self.name,
            expected=self.type_name,
        )

    def _parse(self, raw: str) -> Node:
        if not isinstance(raw, str):
            raise self._error(repr(raw))
        if self.kind == "iri":
            if not is_iri(raw):
                raise self._error(raw)
            return URIRef(raw)
        if len(raw) > MAX_VALUE:
            raise self._error(raw, f"at most {MAX_VALUE} characters long ({self.expected})")
        if self.kind == "integer" or (self.kind == "xsd" and self.datatype == XSD.integer):
            if not INTEGER_RE.fullmatch(raw) or len(raw.lstrip("+-")) > MAX_DIGITS:
                raise self._error(raw)
            return Literal(str(int(raw)), datatype=XSD.integer)
        if self.kind == "number" or (self.kind == "xsd" and self.datatype == XSD.decimal):
            return Literal(_decimal(raw, self), datatype=XSD.decimal)
        if self.kind == "literal":
            return Literal(raw)
        if self.kind == "language":
            return Literal(raw, lang=self.language)
        return self._parse_xsd(raw)

    def _parse_xsd(self, raw: str) -> Node:
        datatype = self.datatype
        if datatype == XSD.string:
            return Literal(raw)
        if datatype == XSD.boolean:
            if raw not in ("true", "false", "1", "0"):
                raise self._error(raw, "true or false")
            return Literal("true" if raw in ("true", "1") else "false", datatype=XSD.boolean)
        if datatype == XSD.gYear:
            if not re.fullmatch(r"-?[0-9]{4}", raw):
                raise self._error(raw, "a year such as 2023")
            return Literal(raw, datatype=XSD.gYear)
        if datatype == XSD.date:
            try:
                if not DATE_RE.fullmatch(raw):
                    raise ValueError
                dt.date.fromisoformat(raw)
            except ValueError:
                raise self._error(raw, "a date such as 2023-07-01 (xsd:date)") from None
            return Literal(raw, datatype=XSD.date)
        if datatype == XSD.dateTime:
            try:
                if not re.fullmatch(
                    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?", raw
                ):
                    raise ValueError
                dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise self._error(raw, "a date and time such as 2023-07-01T12:00:00Z") from None
            return Literal(raw, datatype=XSD.dateTime)
        raise self._error(raw)  # pragma: no cover - types are checked at load time


def _decimal(raw: str, param: Parameter) -> str:
    """A canonical xsd:decimal lexical form for `raw` (exponents allowed, within MAX_DIGITS).

    >>> _decimal("1e-05", None), _decimal("250", None), _decimal("-0.50", None)
    ('0.00001', '250', '-0.5')
    """
    try:
        if not NUMBER_RE.fullmatch(raw):
            raise InvalidOperation
        value = Decimal(raw)
        if not value.is_finite() or abs(value.adjusted()) > MAX_EXPONENT:
            raise InvalidOperation
    except InvalidOperation:
        if param is None:
            raise
        raise param._error(raw) from None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def parse_variable(variable: str) -> tuple[str, bool, str, URIRef | None, str | None]:
    """Split a grlc parameter variable into (name, required, kind, datatype, language).

    >>> parse_variable("_maxPrice_number")[:3]
    ('maxPrice', True, 'number')
    >>> parse_variable("__when_xsd_date")[:3]
    ('when', False, 'xsd')

    :raises ValueError: with a message saying what is wrong with the name or type.
    """
    body = variable.lstrip("_")
    underscores = len(variable) - len(body)
    if underscores > 2:
        raise ValueError("use one underscore for a required parameter and two for an optional one")
    name, _, type_part = body.partition("_")
    if not PARAM_NAME_RE.fullmatch(name):
        raise ValueError(
            f"the name {name!r} must match [A-Za-z0-9]+ "
            "(write ?_trainingSet_iri, not ?_training_set_iri)"
        )
    if name in RESERVED:
        raise ValueError(f"{name!r} is reserved for the format and paging arguments")
    required = underscores == 1
    if type_part == "":
        raise ValueError(
            f"declare a type: ?{variable}_iri, _integer, _number, _literal, _en or _xsd_date"
        )
    if type_part == "iri":
        return name, required, "iri", None, None
    if type_part == "integer":
        return name, required, "integer", XSD.integer, None
    if type_part in ("number", "decimal"):
        return name, required, "number", XSD.decimal, None
    if type_part == "literal":
        return name, required, "literal", XSD.string, None
    if type_part.startswith("xsd_"):
        local = type_part[4:]
        if local not in XSD_TYPES:
            raise ValueError(
                f"unknown type xsd:{local}; use one of {sorted('xsd_' + t for t in XSD_TYPES)}"
            )
        return name, required, "xsd", XSD_TYPES[local], None
    if LANG_RE.fullmatch(type_part):
        return name, required, "language", None, type_part
    raise ValueError(
        f"unknown parameter type {type_part!r}; use iri, integer, number, decimal, literal, "
        "a language tag such as en, or xsd_date"
    )


# ---------------------------------------------------------------- the query


@dataclass(frozen=True)
class CannedQuery:
    """A canned query loaded from one file: header, parameters and where bindings go."""

    name: str
    path: Path
    text: str
    form: str  # "SELECT" or "ASK"
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    page_size: int | None = DEFAULT_PAGE_SIZE  # None: the query is served in one page
    extensions: dict[str, Any] = field(default_factory=dict)  # the header's x- keys
    where_open: int = 0  # offset just after the top-level WHERE group's "{"
    limit_at: int = 0  # offset where LIMIT/OFFSET for paging go
    in_place: tuple[tuple[int, int, str], ...] = ()  # (start, end, variable): see _in_place_spots

    def parameter(self, name: str) -> Parameter | None:
        """The parameter called `name`, or None."""
        return next((p for p in self.parameters if p.name == name), None)

    def bindings(self, args: Mapping[str, str | list[str]]) -> dict[str, Node]:
        """Check `args` (name -> text) and return variable -> RDF term, defaults filled in.

        Empty values count as missing. Arguments named ``format`` and ``page`` are ignored here.

        :raises ParameterError: for an unknown, repeated, missing or ill-typed argument.
        """
        known = {p.name for p in self.parameters}
        unknown = sorted(set(args) - known - RESERVED)
        if unknown:
            accepted = sorted(known) or "none"
            raise ParameterError(
                f"Unknown parameter {unknown[0]!r} for query {self.name!r}; it accepts: {accepted}",
                parameter=unknown[0],
            )
        bound: dict[str, Node] = {}
        for param in self.parameters:
            raw = args.get(param.name)
            if isinstance(raw, list):
                values = [v for v in raw if v != ""]
                if len(values) > 1:
                    raise ParameterError(
                        f"Parameter {param.name!r} was given {len(values)} times; give it once",
                        parameter=param.name,
                        expected=param.type_name,
                    )
                raw = values[0] if values else None
            if raw is None or raw == "":
                if param.default is not None:
                    bound[param.variable] = param.default
                elif param.required:
                    raise ParameterError(
                        f"Missing required parameter {param.name!r}: give {param.expected}",
                        parameter=param.name,
                        expected=param.type_name,
                    )
                continue
            bound[param.variable] = param.parse(raw)
        return bound

    def render(self, bindings: Mapping[str, Node], page: int = 1) -> str:
        """The query text with `bindings` as VALUES and, when paged, LIMIT/OFFSET for `page`.

        An IRI value is also written in place of its variable wherever that means the same (see
        `_in_place_spots`): the engine plans a pattern with a constant from its index, while it
        joins a VALUES row in late (a role's profile at 1M triples: 2.4 s bound by VALUES alone,
        0.04 s with the IRI in place). One row more than the page size is asked for, to tell
        whether a next page exists.
        """
        text = self.text
        tail = ""
        if self.page_size is not None and self.form == "SELECT":
            tail = f"\nLIMIT {self.page_size + 1} OFFSET {(page - 1) * self.page_size}\n"
        pieces, at = [], self.where_open
        for start, end, variable in self.in_place:
            term = bindings.get(variable)
            if isinstance(term, URIRef):
                pieces += [text[at:start], sparql_term(term)]
                at = end
        middle = "".join(pieces) + text[at : self.limit_at]
        head, rest = text[: self.where_open], text[self.limit_at :]
        return head + values_block(bindings) + middle + tail + rest


def values_block(bindings: Mapping[str, Node]) -> str:
    """A one-row VALUES block that binds each variable to its term, on one line.

    >>> values_block({"_n_integer": Literal(3)})
    ' VALUES (?_n_integer) { ("3"^^<http://www.w3.org/2001/XMLSchema#integer>) } '
    >>> values_block({})
    ''
    """
    if not bindings:
        return ""
    for var in bindings:
        if not re.fullmatch(r"_{1,2}[A-Za-z0-9]+_[A-Za-z0-9_]+", var):
            raise ValueError(f"not a parameter variable: {var!r}")
    names = " ".join(f"?{var}" for var in bindings)
    terms = " ".join(sparql_term(term) for term in bindings.values())
    return f" VALUES ({names}) {{ ({terms}) }} "


# ---------------------------------------------------------------- loading


def _fail(path: Path, line: int | None, message: str) -> QueryFileError:
    where = f"{path}:{line}" if line else str(path)
    return QueryFileError(f"{where}: {message}", file=str(path), line=line)


def _header(path: Path, text: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The `#+` header as a mapping, and the file line of each top-level key."""
    lines = [
        (number, line.lstrip()[2:])
        for number, line in enumerate(text.splitlines(), start=1)
        if line.lstrip().startswith("#+")
    ]
    if not lines:
        return {}, {}
    body = [content for _, content in lines]
    indent = min((len(c) - len(c.lstrip()) for c in body if c.strip()), default=0)
    yaml_text = "\n".join(c[indent:] for c in body)
    try:
        header = yaml.load(yaml_text, Loader=_YAML_LOADER)  # a safe loader (see _YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = lines[min(mark.line, len(lines) - 1)][0] if mark is not None else lines[0][0]
        problem = getattr(exc, "problem", None) or str(exc)
        raise _fail(path, line, f"bad YAML in the #+ header: {problem}") from exc
    if header is None:
        return {}, {}
    if not isinstance(header, dict):
        raise _fail(path, lines[0][0], "the #+ header must be a YAML mapping (key: value lines)")
    key_lines: dict[str, int] = {}
    for number, content in lines:
        match = re.match(r"\s*([^\s:#][^:]*?)\s*:", content[indent:])
        if (
            match
            and not content[indent:].startswith((" ", "-"))
            and match.group(1) not in key_lines
        ):
            key_lines[match.group(1)] = number
    return header, key_lines


def _pairs(path: Path, line: int | None, key: str, value: Any) -> list[tuple[str, Any]]:
    """grlc writes `defaults`/`enumerate` as lists of one-key mappings; a mapping is fine too."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, dict) and len(item) == 1:
                pairs.extend(item.items())
            elif key == "enumerate" and isinstance(item, str):
                raise _fail(
                    path,
                    line,
                    f"enumerate: {item!r} has no values; list them (static lists only), "
                    "or draw choices from the graph with x-choices",
                )
            else:
                raise _fail(
                    path,
                    line,
                    f"{key}: each item must be a one-key mapping such as '- name: value'",
                )
        return pairs
    raise _fail(path, line, f"{key} must be a list of '- name: value' items")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str, dt.date)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    raise TypeError(type(value).__name__)


def _prefixes(tokens: list[Token]) -> dict[str, str]:
    """The PREFIX declarations of the query, over mlkg's standard prefixes."""
    prefixes = dict(PREFIXES)
    for i, token in enumerate(tokens[:-2]):
        if (
            token.kind == "word"
            and token.text.upper() == "PREFIX"
            and tokens[i + 1].kind == "pname"
            and tokens[i + 2].kind == "iri"
        ):
            prefixes[tokens[i + 1].text.rstrip(":")] = tokens[i + 2].text[1:-1]
    return prefixes


def _expand(value: str, prefixes: Mapping[str, str]) -> str:
    """Expand a CURIE with `prefixes`; full IRIs (in <> or not) pass through."""
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    prefix, sep, local = value.partition(":")
    if sep and prefix in prefixes and not local.startswith("//"):
        return prefixes[prefix] + local
    return value


def _refuse_forbidden(path: Path, text: str, tokens: list[Token]) -> None:
    """Refuse SERVICE (it would reach out to the network) and update keywords, before parsing."""
    for token in tokens:
        if token.kind == "word" and token.text.upper() in FORBIDDEN:
            raise _fail(
                path,
                line_of(text, token.start),
                f"{token.text.upper()} is not allowed in a canned query",
            )


def _structure(path: Path, text: str, tokens: list[Token]) -> tuple[str, int, int]:
    """The query form, the offset after the WHERE group's "{", and where paging clauses go."""
    forms = [
        t
        for t in tokens
        if t.kind == "word"
        and t.braces == 0
        and t.text.upper() in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
    ]
    if not forms:
        raise _fail(path, None, "no SELECT or ASK query found (updates are not canned queries)")
    form = forms[0].text.upper()
    if form not in ("SELECT", "ASK"):
        raise _fail(
            path,
            line_of(text, forms[0].start),
            f"{form} queries cannot be canned; write a SELECT or ASK",
        )
    opens = [
        i
        for i, t in enumerate(tokens)
        if t.kind == "{" and t.braces == 0 and t.parens == 0 and t.start > forms[0].start
    ]
    if not opens:
        raise _fail(path, line_of(text, forms[0].start), "no WHERE group found")
    first = opens[0]
    close = next(
        i for i in range(first + 1, len(tokens)) if tokens[i].kind == "}" and tokens[i].braces == 0
    )
    limit_at = len(text.rstrip())
    after = tokens[close + 1 :]
    for token in after:
        word = token.text.upper() if token.kind == "word" else ""
        if token.braces == 0 and word == "VALUES":
            limit_at = token.start
            break
    return form, tokens[first].end, limit_at


def _has_limit(tokens: list[Token], where_close_start: int) -> bool:
    return any(
        t.kind == "word"
        and t.braces == 0
        and t.start > where_close_start
        and t.text.upper() in ("LIMIT", "OFFSET")
        for t in tokens
    )


def _check_syntax(path: Path, text: str) -> None:
    """Parse `text` with pyoxigraph (evaluated on an empty in-memory store, so nothing is read)."""
    try:
        result = ox.Store().query(text)
        if isinstance(result, ox.QuerySolutions):
            list(result)
    except SyntaxError as exc:
        message = str(exc)
        where = re.search(r"at (\d+):(\d+)", message)
        raise _fail(
            path, int(where.group(1)) if where else None, f"unparseable SPARQL: {message}"
        ) from exc
    except OSError as exc:  # an evaluation error on the empty store is not a syntax problem
        raise _fail(path, None, f"query cannot be evaluated: {exc}") from exc


def sample_term(param: Parameter) -> Node:
    """A valid value of the parameter's type (used to check that a bound query still parses)."""
    if param.enum:
        return param.enum[0]
    if param.kind == "iri":
        return SAMPLE_IRI
    samples = {"integer": "1", "number": "1.5", "literal": "x", "language": "x"}
    if param.kind in samples:
        return param.parse(samples[param.kind])
    return param.parse(
        {
            XSD.date: "2024-01-01",
            XSD.dateTime: "2024-01-01T00:00:00Z",
            XSD.gYear: "2024",
            XSD.integer: "1",
            XSD.decimal: "1.5",
            XSD.boolean: "true",
            XSD.string: "x",
        }[param.datatype]
    )


def load_query(path: Path, *, require_summary: bool = True) -> CannedQuery:
    """Read and check one canned query file.

    :raises QueryFileError: naming the file and line for bad YAML, an unknown header key, a missing
        summary, unparseable SPARQL, an undeclared or unknown parameter type, or a bad default.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, None, f"cannot read: {exc}") from exc
    name = path.stem
    if require_summary and not NAME_RE.fullmatch(name):
        raise _fail(path, None, f"the file name {name!r} must be snake_case ([a-z][a-z0-9_]*)")
    header, key_lines = _header(path, text)
    for key in header:
        if not isinstance(key, str) or (key not in HEADER_KEYS and not key.startswith("x-")):
            known = ", ".join(sorted(HEADER_KEYS))
            raise _fail(
                path,
                key_lines.get(str(key)),
                f"unknown header key {key!r}; use {known}, or an x- key for a local extension",
            )
    summary = header.get("summary")
    if require_summary and (not isinstance(summary, str) or not summary.strip()):
        raise _fail(
            path,
            key_lines.get("summary"),
            "the #+ header needs a 'summary' (one line saying what the query answers)",
        )
    for key, kind in (("description", str), ("summary", str)):
        if key in header and not isinstance(header[key], kind):
            raise _fail(path, key_lines.get(key), f"{key} must be text")
    tags = header.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail(
            path, key_lines.get("tags"), "tags must be a list of words, e.g. tags: [salaries]"
        )
    method = header.get("method", "GET")
    if not isinstance(method, str) or method.upper() != "GET":
        raise _fail(path, key_lines.get("method"), f"method must be GET (got {method!r})")

    try:
        tokens = scan(text)
    except ScanError as exc:
        raise _fail(path, line_of(text, exc.offset), f"unparseable SPARQL: {exc}") from exc
    _refuse_forbidden(path, text, tokens)
    _check_syntax(path, text)
    form, where_open, limit_at = _structure(path, text, tokens)

    params = _parameters(path, text, tokens)
    params = _apply_header(path, header, key_lines, params, _prefixes(tokens))

    pagination = header.get("pagination")
    where_close = next(
        t.start for t in tokens if t.kind == "}" and t.braces == 0 and t.start >= where_open
    )
    own_limit = _has_limit(tokens, where_close)
    if pagination is not None:
        if (
            isinstance(pagination, bool)
            or not isinstance(pagination, int)
            or not 0 < pagination <= MAX_PAGE_SIZE
        ):
            raise _fail(
                path,
                key_lines.get("pagination"),
                f"pagination must be a page size from 1 to {MAX_PAGE_SIZE}",
            )
        if own_limit:
            raise _fail(
                path,
                key_lines.get("pagination"),
                "a query with its own LIMIT or OFFSET cannot be paginated",
            )
    page_size = None if own_limit or form != "SELECT" else (pagination or DEFAULT_PAGE_SIZE)

    query = CannedQuery(
        name=name,
        path=path,
        text=text,
        form=form,
        summary=(summary or name).strip(),
        description=(header.get("description") or "").strip(),
        tags=tuple(tags),
        parameters=tuple(params),
        page_size=page_size,
        extensions={k: v for k, v in header.items() if k.startswith("x-")},
        where_open=where_open,
        limit_at=limit_at,
        in_place=_in_place_spots(tokens, where_open, where_close),
    )
    # the query must still parse with every parameter bound, and with only the needed ones bound
    everything = {p.variable: sample_term(p) for p in query.parameters}
    needed = {p.variable: sample_term(p) for p in query.parameters if p.required}
    for bindings in (everything, needed):
        _check_syntax(path, query.render(bindings, page=2))
    return query


def _in_place_spots(
    tokens: list[Token], where_open: int, where_close: int
) -> tuple[tuple[int, int, str], ...]:
    """(start, end, variable) of each parameter variable in the WHERE group where a constant can
    stand for it with the same meaning, given that the VALUES row still binds it.

    Left as they are: a variable after AS or in BOUND( ) (a variable is required there), in a VALUES
    header, and inside MINUS (whose shared variables decide what it removes). Sub-SELECTs cannot
    hold parameters (`_parameters` refuses them).
    """
    minus = _group_spans(tokens, "MINUS")
    spots = []
    for i, token in enumerate(tokens):
        if (
            token.kind != "var"
            or not token.text[1:].startswith("_")
            or not where_open <= token.start < where_close
            or any(start <= token.start < end for start, end in minus)
        ):
            continue
        before = [t.text.upper() for t in tokens[max(0, i - 2) : i]]
        if before[-1:] == ["AS"] or before == ["BOUND", "("]:
            continue
        opener = next(
            (t for t in reversed(tokens[:i]) if t.kind == "{" or t.text.upper() == "VALUES"), None
        )
        if opener is not None and opener.kind == "word":  # between VALUES and its "{"
            continue
        spots.append((token.start, token.end, token.text[1:]))
    return tuple(spots)


def _group_spans(tokens: list[Token], keyword: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each `keyword` (SELECT, MINUS) inside a group, to the end of the
    group it belongs to (a sub-SELECT's enclosing group; MINUS's own group)."""
    spans = []
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.braces > 0 and token.text.upper() == keyword:
            depth = token.braces - 1 if keyword == "SELECT" else token.braces
            end = next(
                (t.end for t in tokens[i + 1 :] if t.kind == "}" and t.braces == depth),
                tokens[-1].end,
            )
            spans.append((token.start, end))
    return spans


def _parameters(path: Path, text: str, tokens: list[Token]) -> list[Parameter]:
    found: dict[str, Parameter] = {}
    subqueries = _group_spans(tokens, "SELECT")
    for token in tokens:
        if token.kind != "var" or not token.text[1:].startswith("_"):
            continue
        if any(start <= token.start < end for start, end in subqueries):
            raise _fail(
                path,
                line_of(text, token.start),
                f"parameter {token.text} is used inside a sub-SELECT, which its value does not "
                "reach; "
                "use it in the outer query",
            )
        variable = token.text[1:]
        try:
            name, required, kind, datatype, language = parse_variable(variable)
        except ValueError as exc:
            raise _fail(path, line_of(text, token.start), f"parameter {token.text}: {exc}") from exc
        param = Parameter(name, variable, required, kind, datatype, language)
        previous = found.get(name)
        if previous is None:
            found[name] = param
        elif previous.variable != variable:
            raise _fail(
                path,
                line_of(text, token.start),
                f"parameter {name!r} is written both as ?{previous.variable} and as {token.text}",
            )
    return list(found.values())


def _apply_header(
    path: Path,
    header: Mapping[str, Any],
    key_lines: Mapping[str, int],
    params: list[Parameter],
    prefixes: Mapping[str, str],
) -> list[Parameter]:
    by_name = {p.name: p for p in params}

    def check_name(key: str, name: Any) -> Parameter:
        if name not in by_name:
            raise _fail(
                path,
                key_lines.get(key),
                f"{key} names {name!r}, which is not a parameter of the query "
                f"({sorted(by_name) or 'none'})",
            )
        return by_name[name]

    def parse_value(key: str, param: Parameter, value: Any) -> Node:
        try:
            raw = _scalar_text(value)
            if param.kind == "iri":
                raw = _expand(raw, prefixes)
            return param.parse(raw)
        except (TypeError, ParameterError) as exc:
            detail = exc.detail if isinstance(exc, ParameterError) else f"a scalar, not a {exc}"
            raise _fail(path, key_lines.get(key), f"{key} for {param.name!r}: {detail}") from exc

    updates: dict[str, dict[str, Any]] = {name: {} for name in by_name}
    if "enumerate" in header:
        for name, values in _pairs(
            path, key_lines.get("enumerate"), "enumerate", header["enumerate"]
        ):
            param = check_name("enumerate", name)
            if not isinstance(values, list) or not values:
                raise _fail(
                    path,
                    key_lines.get("enumerate"),
                    f"enumerate for {name!r} must be a non-empty list",
                )
            updates[name]["enum"] = tuple(parse_value("enumerate", param, v) for v in values)
    if "x-choices" in header:
        choices = header["x-choices"]
        if not isinstance(choices, dict):
            raise _fail(
                path, key_lines.get("x-choices"), "x-choices must map parameter names to classes"
            )
        for name, classes in choices.items():
            param = check_name("x-choices", name)
            if param.kind != "iri":
                raise _fail(
                    path,
                    key_lines.get("x-choices"),
                    f"x-choices for {name!r}: only iri parameters take choices",
                )
            classes = [classes] if isinstance(classes, str) else classes
            if (
                not isinstance(classes, list)
                or not classes
                or not all(isinstance(c, str) for c in classes)
            ):
                raise _fail(
                    path,
                    key_lines.get("x-choices"),
                    f"x-choices for {name!r} must be a class or a list of classes",
                )
            iris = tuple(URIRef(_expand(c, prefixes)) for c in classes)
            bad = [str(i) for i in iris if not is_iri(str(i))]
            if bad:
                raise _fail(
                    path,
                    key_lines.get("x-choices"),
                    f"x-choices for {name!r}: not an IRI or known prefix: {bad[0]!r}",
                )
            updates[name]["choices_from"] = iris
    if "defaults" in header:
        for name, value in _pairs(path, key_lines.get("defaults"), "defaults", header["defaults"]):
            param = check_name("defaults", name)
            if "enum" in updates[name]:
                param = replace(param, enum=updates[name]["enum"])
            updates[name]["default"] = parse_value("defaults", param, value)
    result = []
    for param in params:
        changes = updates[param.name]
        result.append(replace(param, **changes) if changes else param)
    return result


@dataclass(frozen=True)
class Catalogue:
    """The canned queries of one folder, by name (file stem), in name order."""

    folder: Path
    queries: dict[str, CannedQuery]

    def __iter__(self):
        return iter(self.queries.values())

    def __len__(self) -> int:
        return len(self.queries)

    def get(self, name: str) -> CannedQuery | None:
        """The query called `name`, or None."""
        return self.queries.get(name)


#: Parsed query files by (path, mtime, size): the server processes `mlkg serve` forks find the files
#: its parent read already parsed (parsing the catalogue costs ~0.2 s of start time per process).
_PARSED: dict[tuple[str, int, int], CannedQuery] = {}


def load_catalogue(folder: Path, names: Iterable[str] | None = None) -> Catalogue:
    """Load every `*.rq` file of `folder` (or only `names`); the first broken file stops loading.

    :raises QueryFileError: naming the broken file and line, or a missing folder.
    """
    if not folder.is_dir():
        raise QueryFileError(f"{folder}: queries folder not found", file=str(folder))
    wanted = set(names) if names is not None else None
    queries = {}
    for path in sorted(folder.glob("*.rq")):
        if wanted is None or path.stem in wanted:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
            if key not in _PARSED:
                _PARSED[key] = load_query(path)
            queries[path.stem] = _PARSED[key]
    return Catalogue(folder, queries)
