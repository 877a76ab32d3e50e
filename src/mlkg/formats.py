"""The one table of output formats, content negotiation, and graph serialization."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from werkzeug.datastructures import MIMEAccept

from mlkg.errors import NotAcceptableError


@dataclass(frozen=True)
class OutputFormat:
    """An output format: `kind` is "results" (SELECT/ASK), "graph" (triples) or "dataset" (quads)."""

    name: str
    media_type: str
    kind: str
    suffix: str
    rdflib_format: str | None = None
    aliases: tuple[str, ...] = ()


F = TypeVar("F")

FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("json", "application/sparql-results+json", "results", "srj", None, ("application/json",)),
    OutputFormat("xml", "application/sparql-results+xml", "results", "srx", None, ("application/xml",)),
    OutputFormat("csv", "text/csv", "results", "csv"),
    OutputFormat("tsv", "text/tab-separated-values", "results", "tsv"),
    OutputFormat("turtle", "text/turtle", "graph", "ttl", "turtle", ("application/x-turtle",)),
    OutputFormat("jsonld", "application/ld+json", "graph", "jsonld", "json-ld", ("application/json",)),
    OutputFormat("ntriples", "application/n-triples", "graph", "nt", "nt", ("text/plain",)),
    OutputFormat("rdfxml", "application/rdf+xml", "graph", "rdf", "xml", ("application/xml",)),
    OutputFormat("trig", "application/trig", "dataset", "trig", "trig"),
    OutputFormat("nquads", "application/n-quads", "dataset", "nq", "nquads"),
)


def formats_of(kind: str) -> list[OutputFormat]:
    """The formats that can carry a result of `kind` (a dataset can also be sent as any graph format).

    >>> [f.name for f in formats_of("results")]
    ['json', 'xml', 'csv', 'tsv']
    """
    if kind == "dataset":
        return [f for f in FORMATS if f.kind == "dataset"] + [f for f in FORMATS if f.kind == "graph"]
    return [f for f in FORMATS if f.kind == kind]


def by_suffix(suffix: str, kind: str) -> OutputFormat | None:
    """The format named by a URL suffix such as "ttl", or None.

    >>> by_suffix("ttl", "graph").media_type
    'text/turtle'
    """
    return next((f for f in formats_of(kind) if suffix in (f.suffix, f.name)), None)


HTML_TYPES = ("text/html", "application/xhtml+xml")


def _names(fmt: Any) -> tuple[str, ...]:
    """What a format may be called in `?format=` or a suffix: its name, suffix(es) and media type."""
    suffixes = getattr(fmt, "suffixes", None) or (fmt.suffix,)
    return (fmt.name, fmt.media_type, *suffixes)


def choose(accept: MIMEAccept, candidates: Sequence[F], override: str | None = None, *,
           html: bool = False, html_first: bool = False) -> F | None:
    """Pick one of `candidates` (formats with name, media type, suffix(es) and aliases).

    `override` (a name, suffix or media type) wins over Accept. With `html`, an HTML page is on offer
    too and is returned as None: it wins ties and is the default without Accept when `html_first`,
    else it comes after the candidates.

    :raises NotAcceptableError: when nothing on offer fits, listing what is.

    >>> choose(MIMEAccept([("text/html", 1)]), formats_of("graph"), html=True) is None
    True
    >>> choose(MIMEAccept([]), formats_of("graph"), "nt").name
    'ntriples'
    """
    available = [f.media_type for f in candidates] + (["text/html"] if html else [])
    if override:
        if html and override in ("html", "text/html"):
            return None
        for fmt in candidates:
            if override in _names(fmt):
                return fmt
        names = [f.name for f in candidates] + (["html"] if html else [])
        raise NotAcceptableError(f"Unknown format {override!r}; use one of {names}", available=available)
    if not accept or not list(accept.values()):
        return None if html and html_first else candidates[0]
    offers: dict[str, F | None] = dict.fromkeys(HTML_TYPES) if html and html_first else {}
    for fmt in candidates:
        for media_type in (fmt.media_type, *fmt.aliases):
            offers.setdefault(media_type, fmt)
    if html and not html_first:
        for media_type in HTML_TYPES:
            offers.setdefault(media_type, None)
    best = accept.best_match(list(offers))
    if best is None:
        raise NotAcceptableError(f"Cannot produce {accept.to_header()!r}; available: {available}",
                                 available=available)
    return offers[best]


def negotiate(accept: MIMEAccept, kind: str, override: str | None = None) -> OutputFormat:
    """Pick the format for a result of `kind`: `override` (name, suffix or media type), then Accept.

    :raises NotAcceptableError: when nothing on offer fits.

    >>> negotiate(MIMEAccept([("text/turtle", 1)]), "graph").name
    'turtle'
    >>> negotiate(MIMEAccept([]), "results").name
    'json'
    """
    return cast(OutputFormat, choose(accept, formats_of(kind), override))  # no HTML offered: never None
