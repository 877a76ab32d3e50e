"""A small SPARQL scanner: finds the structure that canned-query binding needs, skipping comments,
strings and IRIs. It is not a parser (pyoxigraph parses); it only locates tokens at their nesting
depth.

Used once per query file at load time by :mod:`mlkg.queries`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IRIREF = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')
_VAR = re.compile(r"[?$]([A-Za-z0-9_\u00B7\u00C0-\uFFFF]+)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_PNAME_NS = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)?:")


@dataclass(frozen=True)
class Token:
    """One token that matters to binding: a brace, paren, keyword, variable, IRI or prefix name."""

    kind: str  # "{", "}", "(", ")", "word", "var", "iri", "pname"
    text: str
    start: int
    end: int
    braces: int  # brace depth before the token
    parens: int  # paren depth before the token


class ScanError(ValueError):
    """The text cannot be scanned (an unterminated string or IRI, unbalanced braces)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of `offset` in `text`.

    >>> line_of("a\\nb\\nc", 4)
    3
    """
    return text.count("\n", 0, offset) + 1


def _string_end(text: str, i: int) -> int:
    """The offset just past the string literal that starts at `i`."""
    quote = text[i]
    long = text.startswith(quote * 3, i)
    j = i + (3 if long else 1)
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if long:
            if text.startswith(quote * 3, j):
                return j + 3
        elif c == quote:
            return j + 1
        elif c in "\r\n":
            raise ScanError("line break inside a short string", i)
        j += 1
    raise ScanError("unterminated string", i)


def scan(text: str) -> list[Token]:
    """Tokens of `text` that matter to binding, with their brace and paren depth.

    >>> [t.text for t in scan('SELECT ?x { ?x <a:b> "}" } # }')]
    ['SELECT', '?x', '{', '?x', '<a:b>', '}']

    :raises ScanError: on an unterminated string or unbalanced braces or parentheses.
    """
    tokens: list[Token] = []
    braces = parens = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif c in "\"'":
            i = _string_end(text, i)
        elif c == "\\":  # an escaped character in a prefixed name's local part
            i += 2
        elif c == "<" and (m := _IRIREF.match(text, i)):
            tokens.append(Token("iri", m.group(), i, m.end(), braces, parens))
            i = m.end()
        elif c in "?$" and (m := _VAR.match(text, i)):
            tokens.append(Token("var", m.group(), i, m.end(), braces, parens))
            i = m.end()
        elif c == "{":
            tokens.append(Token("{", c, i, i + 1, braces, parens))
            braces += 1
            i += 1
        elif c == "}":
            braces -= 1
            if braces < 0:
                raise ScanError("'}' without a matching '{'", i)
            tokens.append(Token("}", c, i, i + 1, braces, parens))
            i += 1
        elif c == "(":
            tokens.append(Token("(", c, i, i + 1, braces, parens))
            parens += 1
            i += 1
        elif c == ")":
            parens = max(parens - 1, 0)
            tokens.append(Token(")", c, i, i + 1, braces, parens))
            i += 1
        elif (m := _PNAME_NS.match(text, i)) and (i == 0 or not text[i - 1].isalnum()):
            # a prefixed name (or the "name:" of a PREFIX declaration); skip its local part
            end = m.end()
            local = re.compile(r"(?:[A-Za-z0-9_\-.:%\u00B7\u00C0-\uFFFF]|\\.)*").match(text, end)
            stop = local.end() if local else end
            while stop > end and text[stop - 1] == ".":  # a trailing dot ends the triple
                stop -= 1
            tokens.append(Token("pname", text[i:stop], i, stop, braces, parens))
            i = max(stop, i + 1)
        elif m := _WORD.match(text, i):
            tokens.append(Token("word", m.group(), i, m.end(), braces, parens))
            i = m.end()
        else:
            i += 1
    if braces:
        raise ScanError("'{' without a matching '}'", n)
    return tokens
