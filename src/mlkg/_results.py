"""SPARQL results writers (JSON, XML, CSV, TSV) for a list of pyoxigraph solutions.

pyoxigraph serializes a whole `QuerySolutions`; the endpoint caps answers at a number of rows, so it
takes the rows first and writes them here, byte for byte as pyoxigraph would — but for XML, where a
carriage return is written as ``&#13;`` (pyoxigraph writes it raw, and a parser reads it as a line
feed) and a character XML 1.0 cannot carry is refused (406) rather than written into a document
that does not parse. An ASK answer is written in the formats that define one (JSON and XML): the
W3C's CSV and TSV results formats are for SELECT tables only, so an ASK asked for in either is
refused (406) instead of answered with a bare ``true`` no CSV/TSV reader expects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyoxigraph as ox

if TYPE_CHECKING:
    from mlkg.errors import NotAcceptableError

MEDIA_TYPES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
#: The formats that define an ASK answer ("SPARQL 1.1 Query Results CSV and TSV Formats" has none).
BOOLEAN_FORMATS = ("json", "xml")
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = XSD + "string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_XML_HEAD = '<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#">'
#: A carriage return is written as a character reference: an XML parser turns a raw one into a
#: line feed. In attributes, tabs and line feeds too (an attribute value's white space is folded).
_XML_TEXT = {'"': "&quot;", "\r": "&#13;"}
_XML_ATTR = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
#: Characters XML 1.0 cannot carry at all, not even as references.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_escape(text: str, entities: dict[str, str] | None = None) -> str:
    """`xml.sax.saxutils.escape` (which imports urllib.request: a query worker starts faster).

    :raises NotAcceptableError: for a character XML 1.0 cannot carry (the answer would not parse).
    """
    if _XML_FORBIDDEN.search(text):
        from mlkg.errors import NotAcceptableError

        code = ord(_XML_FORBIDDEN.search(text).group())  # type: ignore[union-attr]
        raise NotAcceptableError(
            f"The answer holds the character U+{code:04X}, which XML 1.0 cannot carry; "
            "ask for it as SPARQL JSON, CSV or TSV instead.",
            available=[MEDIA_TYPES["json"], MEDIA_TYPES["csv"], MEDIA_TYPES["tsv"]],
        )
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char, entity in (entities or {}).items():
        text = text.replace(char, entity)
    return text


_dumps = json.JSONEncoder(ensure_ascii=False).encode
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?[0-9]*\.[0-9]+$")
_DOUBLE = re.compile(r"^[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)[eE][+-]?[0-9]+$")
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def write_boolean(value: bool, fmt: str) -> bytes:
    """An ASK answer in `fmt` (one of BOOLEAN_FORMATS).

    >>> write_boolean(True, "json")
    b'{"head":{},"boolean":true}'

    :raises NotAcceptableError: for CSV or TSV, which define no ASK answer.
    """
    word = "true" if value else "false"
    if fmt == "json":
        return f'{{"head":{{}},"boolean":{word}}}'.encode()
    if fmt == "xml":
        return f"{_XML_HEAD}<head></head><boolean>{word}</boolean></sparql>".encode()
    raise boolean_refused(fmt)


def boolean_refused(fmt: str) -> NotAcceptableError:
    """The 406 for an ASK answer asked for in `fmt` (CSV or TSV), naming the formats on offer."""
    from mlkg.errors import NotAcceptableError

    return NotAcceptableError(
        f"An ASK answer (true or false) is written as SPARQL JSON or XML results, not {fmt!r}: "
        "the SPARQL 1.1 CSV and TSV formats carry SELECT tables only.",
        available=[MEDIA_TYPES[f] for f in BOOLEAN_FORMATS],
    )


def write_solutions(
    variables: Sequence[str],
    rows: Sequence[ox.QuerySolution],
    fmt: str,
    columns: Sequence[int] | None = None,
) -> bytes:
    """SELECT rows in `fmt` ("json", "xml", "csv" or "tsv"); `columns` picks and orders the row
    values (default: all, in order)."""
    if columns is not None:
        rows = [[row[i] for i in columns] for row in rows]
    return _WRITERS[fmt](variables, rows).encode("utf-8")


# ---------------------------------------------------------------- JSON


def _json_term(term) -> str:
    kind = type(term)
    if kind is ox.NamedNode:
        return '{"type":"uri","value":' + _dumps(term.value) + "}"
    if kind is ox.Literal:
        language = term.language
        if language:
            return (
                '{"type":"literal","value":'
                + _dumps(term.value)
                + ',"xml:lang":'
                + _dumps(language)
                + "}"
            )
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return '{"type":"literal","value":' + _dumps(term.value) + "}"
        return (
            '{"type":"literal","value":'
            + _dumps(term.value)
            + ',"datatype":'
            + _dumps(datatype)
            + "}"
        )
    if kind is ox.BlankNode:
        return '{"type":"bnode","value":' + _dumps(term.value) + "}"
    if kind is ox.Triple:
        return (
            '{"type":"triple","value":{"subject":'
            + _json_term(term.subject)
            + ',"predicate":'
            + _json_term(term.predicate)
            + ',"object":'
            + _json_term(term.object)
            + "}}"
        )
    raise TypeError(f"unexpected term {term!r}")


def _json(variables: Sequence[str], rows: Sequence[ox.QuerySolution]) -> str:
    keys = [_dumps(v) + ":" for v in variables]
    width = range(len(variables))
    out = []
    for row in rows:
        parts = []
        for i in width:
            term = row[i]
            if term is not None:
                parts.append(keys[i] + _json_term(term))
        out.append("{" + ",".join(parts) + "}")
    head = ",".join(_dumps(v) for v in variables)
    return '{"head":{"vars":[' + head + ']},"results":{"bindings":[' + ",".join(out) + "]}}"


# ---------------------------------------------------------------- XML


def _xml_term(term) -> str:
    kind = type(term)
    if kind is ox.NamedNode:
        return "<uri>" + _xml_escape(term.value, _XML_TEXT) + "</uri>"
    if kind is ox.Literal:
        value = _xml_escape(term.value, _XML_TEXT)
        language = term.language
        if language:
            return f'<literal xml:lang="{_xml_escape(language, _XML_ATTR)}">{value}</literal>'
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return f"<literal>{value}</literal>"
        return f'<literal datatype="{_xml_escape(datatype, _XML_ATTR)}">{value}</literal>'
    if kind is ox.BlankNode:
        return "<bnode>" + _xml_escape(term.value) + "</bnode>"
    if kind is ox.Triple:
        return (
            "<triple><subject>"
            + _xml_term(term.subject)
            + "</subject><predicate>"
            + _xml_term(term.predicate)
            + "</predicate><object>"
            + _xml_term(term.object)
            + "</object></triple>"
        )
    raise TypeError(f"unexpected term {term!r}")


def _xml(variables: Sequence[str], rows: Sequence[ox.QuerySolution]) -> str:
    names = [_xml_escape(v, _XML_ATTR) for v in variables]
    out = [_XML_HEAD, "<head>"]
    out.extend(f'<variable name="{n}"/>' for n in names)
    out.append("</head><results>")
    width = range(len(variables))
    for row in rows:
        out.append("<result>")
        for i in width:
            term = row[i]
            if term is not None:
                out.append(f'<binding name="{names[i]}">{_xml_term(term)}</binding>')
        out.append("</result>")
    out.append("</results></sparql>")
    return "".join(out)


# ---------------------------------------------------------------- CSV


def _csv_value(term) -> str:
    kind = type(term)
    if kind is ox.BlankNode:
        text = "_:" + term.value
    elif kind is ox.Triple:
        text = f"{_csv_value(term.subject)} {_csv_value(term.predicate)} {_csv_value(term.object)}"
    else:
        text = term.value
    if any(c in text for c in '",\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv(variables: Sequence[str], rows: Sequence[ox.QuerySolution]) -> str:
    if not variables:
        return "\r\n" + "\r\n" * len(rows)
    width = range(len(variables))
    out = [",".join(_csv_value_name(v) for v in variables)]
    for row in rows:
        out.append(",".join("" if row[i] is None else _csv_value(row[i]) for i in width))
    return "\r\n".join(out) + "\r\n"


def _csv_value_name(name: str) -> str:
    return name


# ---------------------------------------------------------------- TSV


def _tsv_term(term) -> str:
    kind = type(term)
    if kind is ox.NamedNode:
        return "<" + term.value + ">"
    if kind is ox.BlankNode:
        return "_:" + term.value
    if kind is ox.Literal:
        value = term.value
        language = term.language
        if language:
            return '"' + value.translate(_TSV_ESCAPES) + '"@' + language
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return '"' + value.translate(_TSV_ESCAPES) + '"'
        if datatype == XSD + "integer" and _INTEGER.match(value):
            return value
        if datatype == XSD + "decimal" and _DECIMAL.match(value):
            return value
        if datatype == XSD + "double" and _DOUBLE.match(value):
            return value
        if datatype == XSD + "boolean" and value in ("true", "false"):
            return value
        return '"' + value.translate(_TSV_ESCAPES) + '"^^<' + datatype + ">"
    if kind is ox.Triple:
        return (
            f"<< {_tsv_term(term.subject)} {_tsv_term(term.predicate)} {_tsv_term(term.object)} >>"
        )
    raise TypeError(f"unexpected term {term!r}")


def _tsv(variables: Sequence[str], rows: Sequence[ox.QuerySolution]) -> str:
    width = range(len(variables))
    out = ["\t".join("?" + v for v in variables)]
    for row in rows:
        out.append("\t".join("" if row[i] is None else _tsv_term(row[i]) for i in width))
    return "\n".join(out) + "\n"


_WRITERS = {"json": _json, "xml": _xml, "csv": _csv, "tsv": _tsv}
