"""Which queries cost, by their shape alone, no more than the rows they return.

A query runs in a killable worker process because nobody can tell in advance how long it takes. One
shape is the exception: a single triple pattern with no repeated variable, no FILTER, no path, no
ORDER/GROUP/DISTINCT, no dataset clause — a SELECT of some of its variables, or an ASK. The engine
answers it with one scan of an index (SPO, POS or OSP, whichever covers its constant positions) in
which every entry is a solution, and hands solutions over one at a time; so a caller that takes at
most N rows (after skipping an OFFSET of at most M) does O(N + M) index steps, whatever the size of the
store. `single_pattern` recognises that shape from the tokens of `mlkg.sparql.tokenize`; the backend
then decides, with its row cap, whether to answer in-process (see `PooledBackend`).

Anything the recogniser is unsure of returns None, and the query takes the worker path as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: Kinds of token that may stand in each position of the pattern (predicate also takes ``a``).
_NODE = frozenset({"var", "iri", "pname"})
_LITERAL = frozenset({"string", "number"})


class _Token(Protocol):
    kind: str
    text: str


@dataclass(frozen=True)
class SinglePattern:
    """A query of the bounded shape: its LIMIT (None when absent) and OFFSET (0 when absent)."""

    limit: int | None
    offset: int

    def fits(self, cap: int | None, most: int) -> bool:
        """True when an answer cut at `cap` rows (None: no cap) takes at most `most` rows, after
        skipping at most `most`: the engine then does O(`most`) index steps.

        >>> SinglePattern(limit=None, offset=0).fits(10_000, 10_000)
        True
        >>> SinglePattern(limit=None, offset=0).fits(None, 10_000)  # no cap, no LIMIT: unbounded
        False
        >>> SinglePattern(limit=5, offset=20_000).fits(None, 10_000)
        False
        """
        bounds = [n for n in (self.limit, cap) if n is not None]
        return bool(bounds) and min(bounds) <= most and self.offset <= most


def single_pattern(tokens: Sequence[_Token], start: int) -> SinglePattern | None:
    """The bounded shape of the query whose form keyword is `tokens[start]`, or None.

    >>> from mlkg.sparql import tokenize
    >>> single_pattern(tokenize("SELECT ?p ?o WHERE { <http://e/a> ?p ?o } LIMIT 5"), 0)
    SinglePattern(limit=5, offset=0)
    >>> single_pattern(tokenize("SELECT ?p WHERE { ?s ?p ?s }"), 0) is None  # a filtering scan
    True
    """
    form = tokens[start].text.upper() if start < len(tokens) else ""
    i = start + 1
    if form == "SELECT":
        projected = []
        while i < len(tokens) and tokens[i].kind == "var":
            projected.append(tokens[i].text[1:])
            i += 1
        if not projected:
            if i < len(tokens) and tokens[i].text == "*":
                i += 1
            else:
                return None  # DISTINCT, REDUCED, expressions, or nothing
    elif form != "ASK":
        return None
    if i < len(tokens) and tokens[i].kind == "word" and tokens[i].text.upper() == "WHERE":
        i += 1
    if i >= len(tokens) or tokens[i].text != "{" or i + 3 >= len(tokens):
        return None
    subject, predicate, obj = tokens[i + 1 : i + 4]
    i += 4
    if obj.kind == "string" and i < len(tokens):  # "x"@en, "5"^^xsd:integer
        if tokens[i].kind == "langtag":
            i += 1
        elif tokens[i].text == "^^" and i + 1 < len(tokens) and tokens[i + 1].kind in ("iri", "pname"):
            i += 2
    if i < len(tokens) and tokens[i].text == ".":
        i += 1
    if i >= len(tokens) or tokens[i].text != "}":
        return None
    if subject.kind not in _NODE:
        return None
    if predicate.kind not in _NODE and not (predicate.kind == "word" and predicate.text == "a"):
        return None
    if not (
        obj.kind in _NODE
        or obj.kind in _LITERAL
        or (obj.kind == "word" and obj.text in ("true", "false"))
    ):
        return None  # a blank node, a collection, a path, a nested group...
    variables = [t.text[1:] for t in (subject, predicate, obj) if t.kind == "var"]
    if len(set(variables)) != len(variables):
        return None  # ?s ?p ?s: the scan would skip entries that are no solutions
    if form == "SELECT" and not set(projected) <= set(variables):
        return None
    i += 1
    return _modifiers(tokens, i)


def _modifiers(tokens: Sequence[_Token], i: int) -> SinglePattern | None:
    """LIMIT and OFFSET (each at most once, either order) and nothing else after the pattern."""
    found: dict[str, int] = {}
    while i < len(tokens):
        word = tokens[i].text.upper() if tokens[i].kind == "word" else ""
        if word not in ("LIMIT", "OFFSET") or word in found or i + 1 >= len(tokens):
            return None
        value = tokens[i + 1]
        if value.kind != "number" or not value.text.isdigit():
            return None
        found[word] = int(value.text)
        i += 2
    return SinglePattern(limit=found.get("LIMIT"), offset=found.get("OFFSET", 0))
