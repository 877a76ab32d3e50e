"""The one table of output formats, content negotiation, and graph serialization."""

from __future__ import annotations

from dataclasses import dataclass

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


def negotiate(accept: MIMEAccept, kind: str, override: str | None = None) -> OutputFormat:
    """Pick the format for a result of `kind`: `override` (name, suffix or media type), then Accept.

    :raises NotAcceptableError: when nothing on offer fits.

    >>> negotiate(MIMEAccept([("text/turtle", 1)]), "graph").name
    'turtle'
    >>> negotiate(MIMEAccept([]), "results").name
    'json'
    """
    candidates = formats_of(kind)
    if override:
        match = [f for f in candidates if override in (f.name, f.suffix, f.media_type)]
        if not match:
            raise NotAcceptableError(
                f"Unknown format {override!r}; use one of {[f.name for f in candidates]}",
                available=[f.media_type for f in candidates],
            )
        return match[0]
    if not accept or not list(accept.values()):
        return candidates[0]
    by_type: dict[str, OutputFormat] = {}
    for fmt in candidates:
        for media_type in (fmt.media_type, *fmt.aliases):
            by_type.setdefault(media_type, fmt)
    best = accept.best_match(list(by_type))
    if best is None:
        raise NotAcceptableError(
            f"Cannot produce {accept.to_header()!r}; available: {[f.media_type for f in candidates]}",
            available=[f.media_type for f in candidates],
        )
    return by_type[best]
