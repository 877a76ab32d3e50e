"""Query analysis: which form a query has, which dataset it asks for, and what the endpoint refuses.

The endpoint answers read-only queries over the graphs it holds, and nothing else. Before any engine
sees a query, `analyze` reads it with a SPARQL tokenizer (strings, IRIs and comments are skipped as the
grammar says) and refuses, with `ForbiddenQueryError`:

- updates (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, COPY, MOVE, ADD, WITH) — the store is read-only;
- ``SERVICE`` anywhere — both pyoxigraph and the Oxigraph server would open a connection to the IRI;
- ``FROM``/``FROM NAMED`` IRIs that name no graph the store holds — another engine would fetch them
  (rdflib reads ``file:`` IRIs); a graph the store holds is taken from the store, never fetched.

Syntax errors are left to the engine, whose message names the line and column (`syntax_error`).
The tokenizer also reads the text with ``\\uXXXX`` escapes decoded, as SPARQL 1.1 §19.2 says a
parser may, so an escaped keyword cannot slip past it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin

from mlkg.bounded import SinglePattern, single_pattern
from mlkg.errors import BadRequestError, ForbiddenQueryError, SparqlSyntaxError

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}
)
#: What kind of output each query form produces (a kind of `mlkg.formats.formats_of`).
KIND_OF_FORM = {"SELECT": "results", "ASK": "boolean", "CONSTRUCT": "graph", "DESCRIBE": "graph"}

_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (
    rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})"
    rf"(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)

_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{{4}}|\\U[0-9A-Fa-f]{{8}})*>)
  | (?P<string>'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''
             |\"\"\"(?:(?:"|"")?(?:[^"\\]|\\.))*\"\"\"
             |'(?:[^'\\\n\r]|\\.)*'
             |"(?:[^"\\\n\r]|\\.)*")
  | (?P<var>[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)
  | (?P<bnode>_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)
  | (?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)
  | (?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)
  | (?P<punct>\^\^|&&|\|\||!=|<=|>=|<<|>>|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^<>\"{}|^`\\\x00-\x20]*$")


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (a group name of the tokenizer) and its text."""

    kind: str
    text: str


@dataclass(frozen=True)
class QueryInfo:
    """What the analysis learnt of a query: its form and the graphs its dataset clauses name."""

    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    from_graphs: tuple[str, ...] = ()
    from_named: tuple[str, ...] = ()
    #: For ``SELECT *``: the variables in the order they first appear (the engine sorts them).
    star_order: tuple[str, ...] | None = None
    #: Set when the query is one triple pattern whose cost is bounded by its rows (`mlkg.bounded`).
    pattern: SinglePattern | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """The output kind of `mlkg.formats` ("results", "boolean" or "graph")."""
        return KIND_OF_FORM[self.form]


def tokenize(text: str) -> list[Token]:
    """The tokens of SPARQL text, without white space and comments.

    >>> [t.text for t in tokenize('SELECT * { ?s <p> "x # y" } # done')]
    ['SELECT', '*', '{', '?s', '<p>', '"x # y"', '}']
    """
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, match.group()))
    return tokens


def decode_escapes(text: str) -> str:
    """Replace ``\\uXXXX`` and ``\\UXXXXXXXX`` escapes by the characters they stand for.

    >>> decode_escapes(r"\\u0053ERVICE")
    'SERVICE'
    """
    if "\\u" not in text and "\\U" not in text:
        return text

    def char(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group()

    return _ESCAPE.sub(char, text)


def _prologue(tokens: list[Token]) -> tuple[int, str | None, dict[str, str]]:
    """Skip BASE and PREFIX declarations: (index of the first other token, base, prefixes)."""
    base: str | None = None
    prefixes: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        word = tokens[i].text.upper() if tokens[i].kind == "word" else ""
        if word == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            base = _resolve(decode_escapes(tokens[i + 1].text[1:-1]), base)
            i += 2
        elif (
            word == "PREFIX"
            and i + 2 < len(tokens)
            and tokens[i + 1].kind == "pname"
            and tokens[i + 2].kind == "iri"
        ):
            prefixes[tokens[i + 1].text.rstrip(":").split(":")[0]] = _resolve(
                decode_escapes(tokens[i + 2].text[1:-1]), base
            )
            i += 3
        else:
            break
    return i, base, prefixes


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base and not _ABSOLUTE_IRI.match(iri) else iri


def _iri_of(token: Token, base: str | None, prefixes: dict[str, str]) -> str | None:
    """The IRI an IRIREF or prefixed-name token stands for (None if the prefix is undeclared);
    ``\\u`` escapes in an IRIREF stand for their characters, as the engine reads them."""
    if token.kind == "iri":
        return _resolve(decode_escapes(token.text[1:-1]), base)
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix not in prefixes:
            return None
        return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
    return None


#: Deepest nesting of { ( [ accepted: the engine's parser recurses, and crashes (stack overflow)
#: somewhere between 1,000 and 10,000 levels.
MAX_NESTING = 128


def _check_nesting(tokens: list[Token]) -> None:
    """Refuse a query nested deeper than MAX_NESTING brackets.

    :raises ForbiddenQueryError: naming the depth.
    """
    depth = 0
    for token in tokens:
        if token.kind != "punct":
            continue
        if token.text in "{([":
            depth += 1
            if depth > MAX_NESTING:
                raise ForbiddenQueryError(
                    f"The query nests brackets more than {MAX_NESTING} levels deep; "
                    "flatten it (this endpoint refuses deeper nesting).",
                    keyword="nesting",
                )
        elif token.text in "})]":
            depth -= 1


def _check_keywords(tokens: list[Token]) -> None:
    """Refuse SERVICE and LOAD wherever they stand, and queries nested too deeply.

    :raises ForbiddenQueryError: on either keyword, or past MAX_NESTING.
    """
    _check_nesting(tokens)
    for token in tokens:
        if token.kind != "word":
            continue
        word = token.text.upper()
        if word == "SERVICE":
            raise ForbiddenQueryError(
                "SERVICE is not allowed: this endpoint never calls other endpoints. "
                "Query the remote service yourself, or remove the SERVICE clause.",
                keyword="SERVICE",
            )
        if word == "LOAD":
            raise ForbiddenQueryError(
                "LOAD is not allowed: this endpoint is read-only and never fetches data.",
                keyword="LOAD",
            )


# A strict subset of the bounded shape (`mlkg.bounded`), as one regular expression over the whole
# text: ASCII names, no comments, no escapes, no FROM, a space between the three terms. A query it
# matches holds no keyword but PREFIX, BASE, SELECT or ASK, WHERE, LIMIT and OFFSET, so it passes
# every check below;
# `_analyze` then reads it in one match instead of tokenizing it. Anything else takes the tokenizer.
_WS = r"[ \t\r\n]"
_S_IRI = r'<[^<>"{}|^`\\\x00-\x20]*>'
_S_PNAME = r"(?:[A-Za-z][A-Za-z0-9_-]*)?:(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?)?"
_S_VAR = r"[?$][A-Za-z0-9_]+"
_S_NODE = rf"(?:{_S_IRI}|{_S_PNAME}|{_S_VAR})"
_S_LITERAL = (
    rf'(?:"[^"\\\r\n]*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^(?:{_S_IRI}|{_S_PNAME}))?'
    r"|[0-9]+(?:\.[0-9]+)?|true|false)"
)
_SIMPLE = re.compile(
    rf"""{_WS}*
    (?:(?:(?i:PREFIX){_WS}+(?:[A-Za-z][A-Za-z0-9_-]*)?:{_WS}*{_S_IRI}|(?i:BASE){_WS}*{_S_IRI}){_WS}*)*
    (?:(?P<select>(?i:SELECT)){_WS}+(?P<vars>\*|{_S_VAR}(?:{_WS}+{_S_VAR})*)|(?P<ask>(?i:ASK)))
    {_WS}*(?:(?i:WHERE){_WS}*)?\{{{_WS}*
    (?P<s>{_S_NODE}){_WS}+(?P<p>{_S_NODE}|a){_WS}+(?P<o>{_S_NODE}|{_S_LITERAL})
    {_WS}*(?:\.{_WS}*)?\}}{_WS}*
    (?:(?i:LIMIT){_WS}+(?P<l1>[0-9]+)(?:{_WS}+(?i:OFFSET){_WS}+(?P<o1>[0-9]+))?
      |(?i:OFFSET){_WS}+(?P<o2>[0-9]+)(?:{_WS}+(?i:LIMIT){_WS}+(?P<l2>[0-9]+))?)?
    {_WS}*""",
    re.VERBOSE,
)


def _analyze_simple(query: str) -> QueryInfo | None:
    """What `_analyze` finds, for a query `_SIMPLE` matches; None for any other."""
    match = _SIMPLE.fullmatch(query)
    if match is None:
        return None
    in_pattern = [match[k][1:] for k in ("s", "p", "o") if match[k][0] in "?$"]
    if len(set(in_pattern)) != len(in_pattern):
        return None  # the tokenizer decides (?s ?p ?s is no bounded pattern)
    limit, offset = match["l1"] or match["l2"], match["o1"] or match["o2"]
    pattern = SinglePattern(limit=int(limit) if limit else None, offset=int(offset or 0))
    if match["ask"]:
        return QueryInfo("ASK", pattern=pattern)
    projected = match["vars"]
    if projected == "*":
        return QueryInfo("SELECT", star_order=tuple(in_pattern), pattern=pattern)
    if not {v[1:] for v in projected.split()} <= set(in_pattern):
        return None
    return QueryInfo("SELECT", pattern=pattern)


def _analyze(query: str) -> tuple[QueryInfo | None, str | None]:
    """(QueryInfo, None) for a query form, or (None, first keyword) when it is no query form."""
    simple = _analyze_simple(query)
    if simple is not None:
        return simple, simple.form
    return _analyze_tokens(query)


def _analyze_tokens(query: str) -> tuple[QueryInfo | None, str | None]:
    """`_analyze`, by the tokenizer: for every query."""
    tokens = tokenize(query)
    decoded = decode_escapes(query)
    _check_keywords(tokens)
    if decoded != query:
        _check_keywords(tokenize(decoded))
    start, base, prefixes = _prologue(tokens)
    first = (
        tokens[start].text.upper() if start < len(tokens) and tokens[start].kind == "word" else None
    )
    if first in UPDATE_KEYWORDS:
        raise ForbiddenQueryError(
            f"{first} is a SPARQL Update operation; this endpoint is read-only and refuses every "
            "update. Send a SELECT, ASK, CONSTRUCT or DESCRIBE query.",
            keyword=first,
        )
    if first not in QUERY_FORMS:
        return None, first
    from_graphs: list[str] = []
    from_named: list[str] = []
    i = start + 1
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "word" and token.text.upper() == "FROM":
            named = (
                i + 1 < len(tokens)
                and tokens[i + 1].kind == "word"
                and tokens[i + 1].text.upper() == "NAMED"
            )
            target = (
                tokens[i + 2]
                if named and i + 2 < len(tokens)
                else (tokens[i + 1] if not named and i + 1 < len(tokens) else None)
            )
            iri = _iri_of(target, base, prefixes) if target else None
            if iri is not None:
                (from_named if named else from_graphs).append(iri)
            i += 3 if named else 2
            continue
        i += 1
    star_order = None
    if first == "SELECT":
        rest = [
            t
            for t in tokens[start + 1 : start + 4]
            if not (t.kind == "word" and t.text.upper() in ("DISTINCT", "REDUCED"))
        ]
        if rest and rest[0].text == "*":
            seen: dict[str, None] = {}
            for token in tokens[start + 1 :]:
                if token.kind == "var":
                    seen.setdefault(token.text[1:], None)
            star_order = tuple(seen)
    pattern = single_pattern(tokens, start) if decoded == query else None
    return QueryInfo(first, tuple(from_graphs), tuple(from_named), star_order, pattern), None


@lru_cache(maxsize=4096)
def _analyze_cached(query: str) -> tuple[QueryInfo | None, str | None, ForbiddenQueryError | None]:
    try:
        info, first = _analyze(query)
    except ForbiddenQueryError as exc:
        return None, None, exc
    return info, first, None


def analyze(query: str) -> QueryInfo | None:
    """The form and dataset clauses of `query`; None when it is not recognisably a query form
    (the engine then reports the syntax error).

    :raises ForbiddenQueryError: for updates, SERVICE and LOAD.

    >>> analyze("PREFIX g: <http://ex/g/> SELECT * FROM g:a FROM NAMED <http://ex/b> { ?s ?p ?o }")
    QueryInfo(form='SELECT', from_graphs=('http://ex/g/a',), from_named=('http://ex/b',))
    >>> analyze("ask {}").form
    'ASK'
    """
    info, _, error = _analyze_cached(query)
    if error is not None:
        raise ForbiddenQueryError(error.detail, **error.extra)
    return info


def check_dataset(info: QueryInfo, held: frozenset[str] | set[str], *, overridden: bool) -> None:
    """Refuse FROM/FROM NAMED IRIs that name no graph in `held` (unless the protocol overrides them).

    :raises ForbiddenQueryError: naming the first such graph.
    """
    if overridden:
        return
    for clause, graphs in (("FROM", info.from_graphs), ("FROM NAMED", info.from_named)):
        for iri in graphs:
            if iri not in held:
                raise ForbiddenQueryError(
                    f"{clause} <{iri}> names a graph this endpoint does not hold. It never fetches "
                    "graphs from the Web or from files; FROM can only pick graphs it holds (the "
                    "service description lists them).",
                    graph=iri,
                )


def check_graph_iri(iri: str, parameter: str) -> str:
    """Return `iri` if it is an absolute IRI, for the protocol's graph parameters.

    :raises BadRequestError: otherwise.

    >>> check_graph_iri("http://example.org/g", "default-graph-uri")
    'http://example.org/g'
    """
    if not _ABSOLUTE_IRI.match(iri):
        raise BadRequestError(
            f"{parameter} must be an absolute IRI, got {iri!r}", parameter=parameter
        )
    return iri


_POSITION = re.compile(r"error at (\d+):(\d+)")


def syntax_error(message: str, query: str) -> SparqlSyntaxError:
    """A SparqlSyntaxError quoting the engine's message, with its line, column and that line."""
    flat = re.sub(r"\s+", " ", message).strip()
    if len(flat) > 600:
        flat = flat[:600] + " …"
    position = _POSITION.search(message)
    extra: dict[str, object] = {}
    detail = f"Malformed query: {flat}"
    if position:
        line, column = int(position.group(1)), int(position.group(2))
        extra = {"line": line, "column": column}
        lines = query.splitlines()
        if 0 < line <= len(lines):
            text = lines[line - 1]
            extra["near"] = text[max(0, column - 41) : column + 40]
    return SparqlSyntaxError(detail, **extra)
