"""The absolute-IRI grammar of RFC 3987 (with RFC 3986's IPv6 and IPvFuture hosts) as one regular
expression: what the store's IRI parser (oxiri, in pyoxigraph) accepts, written so that the same
text means the same in Python's `re` and in ECMA-262 with the ``u`` flag (the dialect of JSON
Schema 2020-12, hence of OpenAPI 3.1 ``pattern``).

Why one text for both: the OpenAPI description of an IRI parameter used a looser pattern than the
server's check (a second ``#``, ``%zz``, a bad IPv6 host all passed it and got 400), so a client
that validated against the description still sent IRIs the server refused. Now
`mlkg.queries.is_iri` and the description read the same `IRI_PATTERN`.

Dialect notes: characters past U+FFFF are written as themselves (neither dialect has an escape the
other reads; with the ``u`` flag ECMA-262 reads such a character as one code point, as Python
does); ``-`` stands last in a class instead of being escaped; the pattern ends with ``$(?!\\n)``
because Python's ``$`` (used by Python JSON Schema validators through `re.search`) also matches
before a final line feed, while ECMA-262's does not.
"""

from __future__ import annotations

import re

_ASTRAL_UCS = [(0x10000 * plane, 0x10000 * plane + 0xFFFD) for plane in range(1, 14)] + [
    (0xE1000, 0xEFFFD)
]
_ASTRAL_PRIVATE = [(0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)]


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges)


#: ucschar: what an IRI adds to a URI's unreserved characters.
_UCS = r"\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF" + _ranges(_ASTRAL_UCS)
#: iprivate: allowed in the query only.
_PRIVATE = r"\uE000-\uF8FF" + _ranges(_ASTRAL_PRIVATE)
_UNRESERVED = "A-Za-z0-9._~" + _UCS  # and "-", which `_chars` puts last in the class
_SUB_DELIMS = "!$&'()*+,;="
_PCT = "%[0-9A-Fa-f]{2}"


def _chars(*sets: str) -> str:
    """One character of `sets` (and "-"), or a percent-escape."""
    return "(?:[" + "".join(sets) + "-]|" + _PCT + ")"


_H16 = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_LS32 = f"(?:{_H16}:{_H16}|{_IPV4})"
#: RFC 3986 section 3.2.2, line by line.
_IPV6_FORMS = [
    f"(?:{_H16}:){{6}}{_LS32}",
    f"::(?:{_H16}:){{5}}{_LS32}",
    f"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
    f"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
    f"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
    f"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
    f"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
    f"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
    f"(?:(?:{_H16}:){{0,6}}{_H16})?::",
]
_IPV6 = "(?:" + "|".join(_IPV6_FORMS) + ")"
_IPV_FUTURE = rf"[vV][0-9A-Fa-f]+\.[A-Za-z0-9._~{_SUB_DELIMS}:-]+"
_AUTHORITY = (
    f"(?:{_chars(_UNRESERVED, _SUB_DELIMS, ':')}*@)?"
    rf"(?:\[(?:{_IPV6}|{_IPV_FUTURE})\]|{_chars(_UNRESERVED, _SUB_DELIMS)}*)"
    "(?::[0-9]*)?"
)
_PATH = _chars(_UNRESERVED, _SUB_DELIMS, ":@/") + "*"
_QUERY = _chars(_UNRESERVED, _PRIVATE, _SUB_DELIMS, ":@/?") + "*"
_FRAGMENT = _chars(_UNRESERVED, _SUB_DELIMS, ":@/?") + "*"

#: An absolute IRI: scheme, then an authority and a path that is empty or starts with "/", or a
#: path that does not start with "//"; then the query and the fragment, each optional.
IRI_PATTERN = (
    "^[A-Za-z][A-Za-z0-9+.-]*:"
    f"(?://{_AUTHORITY}(?:/{_PATH})?|(?!//){_PATH})"
    rf"(?:\?{_QUERY})?(?:#{_FRAGMENT})?"
    r"$(?!\n)"
)
IRI_RE = re.compile(IRI_PATTERN)
