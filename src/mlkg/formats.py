"""The one table of output formats, content negotiation, and graph serialization."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from werkzeug.datastructures import MIMEAccept

from mlkg._results import BOOLEAN_FORMATS
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
    """The formats that can carry a result of `kind` (a dataset can also be sent as any graph format;
    "boolean", an ASK answer, only as the results formats that define one).

    >>> [f.name for f in formats_of("results")], [f.name for f in formats_of("boolean")]
    (['json', 'xml', 'csv', 'tsv'], ['json', 'xml'])
    """
    if kind == "boolean":
        return [f for f in FORMATS if f.kind == "results" and f.name in BOOLEAN_FORMATS]
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


def parse_accept(header: str | None) -> MIMEAccept:
    """An Accept header, each media range without its parameters but q (charset, profile, header…).

    None of the formats on offer differs by a parameter, and Werkzeug matches an entry that has
    one only to an offer with the same parameters: ``text/turtle; charset=utf-8`` would find no
    Turtle. A range named more than once keeps its highest q.

    >>> parse_accept('text/turtle; charset=utf-8, application/ld+json; profile="x"; q=0.5').to_header()
    'text/turtle,application/ld+json;q=0.5'
    """
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header(header, MIMEAccept)
    if not header or ";" not in header:
        return parsed
    best: dict[str, float] = {}
    for value, quality in parsed:
        media_range = value.split(";", 1)[0].strip().lower()
        best[media_range] = max(quality, best.get(media_range, quality))
    return MIMEAccept(list(best.items()))


def by_name(name: str, candidates: Sequence[F]) -> F | None:
    """The candidate `name` calls for in `?format=` — its name, suffix(es), media type (parameters
    aside), an alias of that, or rdflib's name — or None. Failing those, the subtype of an alias
    names the format that alias gets by Accept: ``json`` is JSON-LD where an RDF graph is on offer,
    as ``Accept: application/json`` is.

    >>> by_name("text/turtle; charset=utf-8", formats_of("graph")).name
    'turtle'
    >>> by_name("json-ld", formats_of("graph")).name
    'jsonld'
    >>> by_name("json", formats_of("graph")).name, by_name("json", formats_of("results")).name
    ('jsonld', 'json')
    """
    key = name.split(";", 1)[0].strip().lower()
    for fmt in candidates:
        suffixes = getattr(fmt, "suffixes", None) or (fmt.suffix,)
        rdflib_name = getattr(fmt, "rdflib_format", None)
        if key in (fmt.name, fmt.media_type, *suffixes, *fmt.aliases) or key == rdflib_name:
            return fmt
    for fmt in candidates:
        if any(key == alias.rsplit("/", 1)[-1] for alias in fmt.aliases):
            return fmt
    return None


def offers_for(accept: MIMEAccept, candidates: Sequence[Any]) -> dict[str, Any]:
    """The media types to match `accept` against, each with its format: every format's own type,
    unless the client refused it (q=0), and an alias (``application/json`` for SPARQL JSON) only
    where the client names it, so that a wildcard or an alias cannot bring back a type the client
    refused, nor answer ``application/*`` with ``text/turtle``. A candidate is a format or a
    (media type, aliases) pair; the pair stands for itself.

    >>> sorted(offers_for(MIMEAccept([("*/*", 1), ("application/json", 1)]), FORMATS[:2]))
    ['application/json', 'application/sparql-results+json', 'application/sparql-results+xml']
    >>> list(offers_for(MIMEAccept([("application/sparql-results+json", 0), ("*/*", 1)]), FORMATS[:1]))
    []
    """
    named = {value.lower() for value, quality in accept if quality > 0}
    refused = {value.lower() for value, quality in accept if quality == 0}
    offers: dict[str, Any] = {}
    for fmt in candidates:
        media_type, aliases = fmt if isinstance(fmt, tuple) else (fmt.media_type, fmt.aliases)
        if media_type in refused:
            continue
        offers.setdefault(media_type, fmt)
        for alias in aliases:
            if alias in named:
                offers.setdefault(alias, fmt)
    return offers


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
        if html and override.split(";", 1)[0].strip().lower() in ("html", "text/html"):
            return None
        found = by_name(override, candidates)
        if found is not None:
            return found
        names = [f.name for f in candidates] + (["html"] if html else [])
        raise NotAcceptableError(f"Unknown format {override!r}; use one of {names}", available=available)
    if not accept or not list(accept.values()):
        return None if html and html_first else candidates[0]
    page = [(HTML_TYPES[0], HTML_TYPES[1:])] if html else []
    offers: dict[str, F | None] = dict.fromkeys(offers_for(accept, page)) if html_first else {}
    offers.update((k, v) for k, v in offers_for(accept, candidates).items() if k not in offers)
    if html and not html_first:
        offers.update((k, None) for k in offers_for(accept, page) if k not in offers)
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
