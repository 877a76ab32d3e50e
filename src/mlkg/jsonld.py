"""JSON-LD with mlkg's published context: term tables, compaction of RDF terms, a streaming writer.

The context (`context.jsonld`, served at `/context.jsonld`) gives readable keys (`name`, `skills`,
`price`, ...), types numbers, dates and durations, and marks IRI-valued keys. :func:`write_jsonld`
turns a stream of triples into a compacted document — one node object per run of triples with the
same subject — without holding the graph in memory. The output is lossless: every value whose
datatype or language differs from what its key's term says is written as an explicit value object,
lexical forms are kept as strings (JSON numbers only for canonical xsd:integer values, JSON booleans
for "true"/"false"), and IRIs are written in full or as ``prefix:suffix`` with a prefix of the
context (never relative, never a term), so that expanding the document gives back exactly the
triples written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from mlkg.errors import DataError
from mlkg.namespaces import BASE

CONTEXT_PATH = Path(__file__).with_name("context.jsonld")
CONTEXT_URL = BASE + "context.jsonld"

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = XSD + "string"
XSD_INTEGER = XSD + "integer"
XSD_BOOLEAN = XSD + "boolean"
LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_CANONICAL_INT = re.compile(r"^(?:0|-?[1-9][0-9]{0,14})$")
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")

Term = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass(frozen=True)
class TermDefinition:
    """One key of the context: the property it stands for and how its values are written."""

    name: str
    iri: str
    type: str | None = None  # an expanded datatype IRI, "@id", "@vocab" or None
    language: str | None = None
    as_set: bool = False


@dataclass(frozen=True)
class Context:
    """The context document and the lookup tables compaction needs."""

    document: dict[str, Any]
    terms: dict[str, TermDefinition]
    prefixes: tuple[tuple[str, str], ...]  # (prefix, namespace), longest namespace first
    by_property: dict[str, TermDefinition]
    vocab: dict[str, str]  # IRI -> term, for @type values and @vocab-typed keys

    def expand(self, value: str) -> str:
        """Expand a term or compact IRI of the context to a full IRI.

        >>> load_context().expand("mlkg:Role")
        'https://w3id.org/mlkg/def/Role'
        """
        if value in self.vocab.values():
            return next(iri for iri, term in self.vocab.items() if term == value)
        prefix, sep, suffix = value.partition(":")
        if sep and not suffix.startswith("//"):
            for name, namespace in self.prefixes:
                if name == prefix:
                    return namespace + suffix
        return value

    def compact_iri(self, iri: str) -> str:
        """An IRI as ``prefix:suffix`` with the longest matching prefix, or in full.

        >>> load_context().compact_iri("https://w3id.org/mlkg/role/data-scientist")
        'kg:role/data-scientist'
        >>> load_context().compact_iri("https://example.org/x")
        'https://example.org/x'
        """
        for name, namespace in self.prefixes:
            if iri.startswith(namespace):
                suffix = iri[len(namespace) :]
                if suffix and not suffix.startswith("//"):
                    return f"{name}:{suffix}"
        return iri


def _parse_context(document: dict[str, Any]) -> Context:
    raw = document.get("@context")
    if not isinstance(raw, dict):
        raise DataError("context.jsonld has no @context object", file=str(CONTEXT_PATH))
    prefixes = {
        k: v
        for k, v in raw.items()
        if isinstance(v, str) and not v.startswith("@") and v.endswith(_GEN_DELIMS) and "://" in v
    }

    def expand(value: str) -> str:
        prefix, sep, suffix = value.partition(":")
        if sep and prefix in prefixes and not suffix.startswith("//"):
            return prefixes[prefix] + suffix
        return value

    terms: dict[str, TermDefinition] = {}
    vocab: dict[str, str] = {}
    for name, definition in raw.items():
        if name.startswith("@") or name in prefixes:
            continue
        if isinstance(definition, str):
            if definition.startswith("@"):
                continue  # keyword alias (id, type)
            vocab.setdefault(expand(definition), name)
            continue
        iri = expand(definition["@id"])
        kind = definition.get("@type")
        terms[name] = TermDefinition(
            name=name,
            iri=iri,
            type=kind if kind in (None, "@id", "@vocab") else expand(kind),
            language=definition.get("@language"),
            as_set=definition.get("@container") == "@set",
        )
    by_property: dict[str, TermDefinition] = {}
    for term in terms.values():
        by_property.setdefault(term.iri, term)
    ordered = tuple(sorted(prefixes.items(), key=lambda item: -len(item[1])))
    return Context(
        document=document, terms=terms, prefixes=ordered, by_property=by_property, vocab=vocab
    )


@lru_cache(maxsize=4)
def load_context(path: Path = CONTEXT_PATH) -> Context:
    """Read and index the context file; DataError if it is missing or not JSON."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the JSON-LD context ({exc})", file=str(path)) from exc
    return _parse_context(document)


def _iri_text(ctx: Context, node: ox.NamedNode | ox.BlankNode) -> str:
    if isinstance(node, ox.BlankNode):
        return f"_:{node.value}"
    return ctx.compact_iri(node.value)


def _native(literal: ox.Literal) -> int | bool | None:
    """The JSON number or boolean that expands to exactly this literal, if there is one."""
    datatype = literal.datatype.value
    if datatype == XSD_INTEGER and _CANONICAL_INT.match(literal.value):
        return int(literal.value)
    if datatype == XSD_BOOLEAN and literal.value in ("true", "false"):
        return literal.value == "true"
    return None


def compact_value(ctx: Context, term: TermDefinition | None, obj: Term) -> Any:
    """The JSON value that, under key `term` (None for a compact-IRI key), expands to `obj`."""
    if isinstance(obj, (ox.NamedNode, ox.BlankNode)):
        if (
            term is not None
            and term.type == "@vocab"
            and isinstance(obj, ox.NamedNode)
            and obj.value in ctx.vocab
        ):
            return ctx.vocab[obj.value]
        text = _iri_text(ctx, obj)
        if term is not None and term.type in ("@id", "@vocab"):
            return text
        return {"@id": text}
    if not isinstance(obj, ox.Literal):
        raise TypeError(f"cannot write {obj!r} as JSON-LD")
    coerced_type = term.type if term is not None else None
    coerced_lang = term.language if term is not None else None
    if obj.language:
        if coerced_lang == obj.language and coerced_type is None:
            return obj.value
        return {"@value": obj.value, "@language": obj.language}
    datatype = obj.datatype.value
    if datatype == XSD_STRING:
        if coerced_type is None and coerced_lang is None:
            return obj.value
        return {"@value": obj.value}
    if coerced_type in (None, datatype):
        native = _native(obj)
        if native is not None:
            return native
    if coerced_type == datatype:
        return obj.value
    return {"@value": obj.value, "@type": ctx.compact_iri(datatype)}


def _key(ctx: Context, predicate: str) -> tuple[str, TermDefinition | None]:
    term = ctx.by_property.get(predicate)
    if term is not None:
        return term.name, term
    return ctx.compact_iri(predicate), None


def node_object(
    ctx: Context, subject: ox.NamedNode | ox.BlankNode, pairs: Iterable[tuple[ox.NamedNode, Term]]
) -> dict[str, Any]:
    """One compacted node object: ``id``, ``type`` and one key per property, `name` first."""
    types: list[str] = []
    values: dict[str, list[Any]] = {}
    sets: set[str] = set()
    for predicate, obj in pairs:
        if predicate.value == RDF_TYPE and isinstance(obj, ox.NamedNode):
            types.append(ctx.vocab.get(obj.value) or ctx.compact_iri(obj.value))
            continue
        key, term = _key(ctx, predicate.value)
        values.setdefault(key, []).append(compact_value(ctx, term, obj))
        if term is not None and term.as_set:
            sets.add(key)
    node: dict[str, Any] = {"id": _iri_text(ctx, subject)}
    if types:
        node["type"] = types[0] if len(types) == 1 else types
    for key in sorted(values, key=lambda k: (k != "name", ":" in k, k)):
        items = values[key]
        node[key] = items if (len(items) > 1 or key in sets) else items[0]
    return node


def _runs(triples: Iterable[ox.Triple | tuple]) -> Iterator[tuple[Any, list[tuple[Any, Any]]]]:
    """Group consecutive triples by subject (a subject seen again later starts a new node)."""
    subject, pairs = None, []
    for triple in triples:
        s, p, o = (
            (triple.subject, triple.predicate, triple.object)
            if isinstance(triple, ox.Triple)
            else triple
        )
        if subject is not None and s != subject:
            yield subject, pairs
            pairs = []
        subject = s
        pairs.append((p, o))
    if subject is not None:
        yield subject, pairs


def compact_nodes(
    triples: Iterable[ox.Triple | tuple], ctx: Context | None = None
) -> Iterator[dict[str, Any]]:
    """Compacted node objects for `triples`, one per run of triples sharing a subject."""
    ctx = ctx or load_context()
    for subject, pairs in _runs(triples):
        if not isinstance(subject, (ox.NamedNode, ox.BlankNode)):
            raise TypeError(f"cannot write a triple with subject {subject!r} as JSON-LD")
        yield node_object(ctx, subject, pairs)


def compact_document(
    triples: Iterable[ox.Triple | tuple],
    *,
    context_url: str | None = None,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """A whole (small) compacted document in memory: the context (inline, or by URL) and ``@graph``.

    Triples are grouped by subject first, so each subject is one node object.
    """
    ctx = ctx or load_context()
    by_subject: dict[Any, list[tuple[Any, Any]]] = {}
    for triple in triples:
        s, p, o = (
            (triple.subject, triple.predicate, triple.object)
            if isinstance(triple, ox.Triple)
            else triple
        )
        by_subject.setdefault(s, []).append((p, o))
    graph = [node_object(ctx, s, pairs) for s, pairs in by_subject.items()]
    return {"@context": context_url or ctx.document["@context"], "@graph": graph}


def write_jsonld(
    triples: Iterable[ox.Triple | tuple],
    out: IO[bytes],
    *,
    context_url: str | None = None,
    ctx: Context | None = None,
) -> int:
    """Stream a compacted JSON-LD document of `triples` to `out`; return the number of node objects.

    Memory is bounded by the largest run of triples with one subject. The context is written inline
    unless `context_url` is given (then consumers must be able to fetch it).
    """
    ctx = ctx or load_context()
    context = (
        json.dumps(context_url)
        if context_url
        else json.dumps(ctx.document["@context"], ensure_ascii=False, indent=1)
    )
    out.write(b'{\n"@context": ' + context.encode("utf-8") + b',\n"@graph": [')
    count = 0
    for node in compact_nodes(triples, ctx):
        out.write((",\n" if count else "\n").encode("utf-8"))
        out.write(json.dumps(node, ensure_ascii=False).encode("utf-8"))
        count += 1
    out.write(b"\n]\n}\n")
    return count
