"""A bounded load test of a running mlkg server: a realistic mix of requests from concurrent clients.

`python -m mlkg.loadtest URL [--requests 1500] [--clients 16] [--json]`

It first asks the server what there is (canned queries, entities, labels to search for), then sends a
fixed number of requests from `clients` threads, each with its own keep-alive connection: entity
pages, canned queries (HTML, JSON and CSV), search (API and page), SPARQL queries and dump downloads.
It reports throughput, p50/p95/p99 per kind, and every failed request (status >= 400 or an error).
Standard library only, so it measures the server rather than a client library.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

#: Share of each kind of request in the mix (entity pages and canned queries dominate real traffic).
MIX = {"entity": 30, "canned": 25, "search": 20, "sparql": 20, "export": 5}
SPARQL_QUERIES = (
    "SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}",
    "SELECT ?s ?p WHERE {{ ?s ?p <{iri}> }} LIMIT 50",
    "SELECT ?class (COUNT(?s) AS ?n) WHERE {{ ?s a ?class }} GROUP BY ?class ORDER BY DESC(?n) LIMIT 20",
    "ASK {{ <{iri}> ?p ?o }}",
    ("SELECT ?s ?label WHERE {{ ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label "
    "FILTER(CONTAINS(LCASE(?label), \"{word}\")) }} LIMIT 20"),
)
EXPORTS = ("/export.ttl", "/export.nt", "/export.jsonld", "/export.nq")


@dataclass
class Sample:
    kind: str
    path: str
    status: int
    seconds: float
    error: str = ""


@dataclass
class Report:
    """What a load test measured."""

    url: str
    clients: int
    seconds: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.error or s.status >= 400]

    def kinds(self) -> dict[str, dict[str, float]]:
        """Per kind (and "all"): count, failed, req/s share, p50/p95/p99 in ms."""
        out: dict[str, dict[str, float]] = {}
        groups: dict[str, list[Sample]] = {}
        for sample in self.samples:
            groups.setdefault(sample.kind, []).append(sample)
        groups["all"] = list(self.samples)
        for kind, samples in groups.items():
            times = sorted(s.seconds * 1000 for s in samples)
            out[kind] = {
                "requests": len(samples),
                "failed": sum(1 for s in samples if s.error or s.status >= 400),
                "req_per_s": len(samples) / self.seconds if self.seconds else 0.0,
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
                "p99_ms": percentile(times, 99),
            }
        return out

    def as_json(self) -> dict:
        return {
            "url": self.url,
            "clients": self.clients,
            "requests": len(self.samples),
            "seconds": round(self.seconds, 3),
            "throughput": round(len(self.samples) / self.seconds, 1) if self.seconds else 0.0,
            "failed": len(self.failures),
            "kinds": self.kinds(),
            "failures": [s.__dict__ for s in self.failures[:20]],
        }

    def markdown(self) -> str:
        lines = [
            (f"{len(self.samples):,} requests from {self.clients} clients in {self.seconds:.1f} s: "
            f"**{len(self.samples) / self.seconds:,.0f} req/s**, {len(self.failures)} failed."),
            "",
            "| kind | requests | failed | req/s | p50 ms | p95 ms | p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, row in sorted(self.kinds().items(), key=lambda kv: (kv[0] == "all", kv[0])):
            lines.append(
                f"| {kind} | {row['requests']:,} | {row['failed']} | {row['req_per_s']:,.0f} | "
                f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} |"
            )
        return "\n".join(lines)


def percentile(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 for none).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 99)
    (2.0, 4.0)
    """
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


class Client:
    """One keep-alive HTTP/1.1 connection to the server (reopened after an error or a close)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, accept: str = "*/*") -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers={"Accept": accept, "Accept-Encoding": "identity"})
                response = self.conn.getresponse()
                body = response.read()
                if response.will_close:
                    self.close()
                return response.status, body
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # a keep-alive connection the server closed: once more on a fresh one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Plan:
    """What to ask for: discovered from the server before the load starts."""

    entities: list[str]
    canned: list[str]
    words: list[str]

    @classmethod
    def discover(cls, url: str, *, base: str = "https://w3id.org/mlkg/") -> Plan:
        client = Client(url)
        try:
            status, body = client.get("/queries?format=json", "application/json")
            if status != 200:
                raise RuntimeError(f"GET /queries answered {status}")
            listing = json.loads(body)
            items = listing.get("queries", listing) if isinstance(listing, dict) else listing
            canned = []
            for item in items:  # queries whose parameters all have defaults (or none)
                if all(not p.get("required") or p.get("default") for p in item.get("parameters", [])):
                    canned.append(item["url"].rsplit("/", 1)[-1])
            query = (
                "SELECT DISTINCT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label "
                f'FILTER(STRSTARTS(STR(?s), "{base}") && !STRSTARTS(STR(?s), "{base}def/") '
                f'&& !STRSTARTS(STR(?s), "{base}.well-known/")) }} LIMIT 2000'
            )
            status, body = client.get(
                "/sparql?" + urlencode({"query": query}), "application/sparql-results+json"
            )
            if status != 200:
                raise RuntimeError(f"the entity query answered {status}: {body[:200]!r}")
            rows = json.loads(body)["results"]["bindings"]
        finally:
            client.close()
        entities = [r["s"]["value"] for r in rows]
        words = sorted({w.lower() for r in rows for w in r["label"]["value"].split() if len(w) >= 4 and w.isalpha()})
        if not entities or not canned:
            raise RuntimeError("the server lists no entities or no canned queries to load-test with")
        return cls(entities=entities, canned=canned, words=words or ["data"])

    def request(self, rng: random.Random, base: str, mix: dict[str, int] = MIX) -> tuple[str, str, str]:
        """(kind, path, Accept) of one request drawn from `mix` (kind -> weight)."""
        kind = rng.choices(list(mix), weights=list(mix.values()))[0]
        if kind == "entity":
            iri = rng.choice(self.entities)
            path = "/" + quote(iri[len(base):], safe="/:@!$&'()*+,;=-._~")
            accept = rng.choice(["text/html"] * 4 + ["text/turtle", "application/ld+json"])
            return kind, path, accept
        if kind == "canned":
            name = rng.choice(self.canned)
            fmt, accept = rng.choice([("", "text/html"), ("", "application/json"), (".csv", "text/csv")])
            return kind, f"/queries/{name}{fmt}", accept
        if kind == "search":
            word = rng.choice(self.words)[: rng.randint(3, 8)]
            if rng.random() < 0.7:
                return kind, "/api/search?" + urlencode({"q": word}), "application/json"
            return kind, "/search?" + urlencode({"q": word}), "text/html"
        if kind == "sparql":
            query = rng.choice(SPARQL_QUERIES).format(iri=rng.choice(self.entities), word=rng.choice(self.words)[:5])
            return kind, "/sparql?" + urlencode({"query": query}), "application/sparql-results+json"
        return kind, rng.choice(EXPORTS), "*/*"


def run(
    url: str,
    *,
    requests: int = 1500,
    clients: int = 16,
    seed: int = 1,
    base: str = "https://w3id.org/mlkg/",
    time_limit: float = 300.0,
    mix: dict[str, int] | None = None,
) -> Report:
    """Send `requests` requests from `clients` threads (stopping early after `time_limit` s);
    `mix` (kind -> weight) replaces MIX, e.g. {"entity": 1} for entity pages only."""
    url = url.rstrip("/")
    plan = Plan.discover(url, base=base)
    rng = random.Random(seed)
    work = [plan.request(rng, base, mix or MIX) for _ in range(requests)]
    lock = threading.Lock()
    samples: list[Sample] = []
    position = 0
    deadline = time.monotonic() + time_limit

    def worker() -> None:
        nonlocal position
        client = Client(url)
        mine: list[Sample] = []
        try:
            while time.monotonic() < deadline:
                with lock:
                    if position >= len(work):
                        break
                    kind, path, accept = work[position]
                    position += 1
                started = time.perf_counter()
                try:
                    status, _ = client.get(path, accept)
                    mine.append(Sample(kind, path, status, time.perf_counter() - started))
                except (OSError, http.client.HTTPException) as exc:
                    client.close()
                    mine.append(Sample(kind, path, 0, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"))
        finally:
            client.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=worker, name=f"load-{i}") for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Report(url=url, clients=clients, seconds=time.perf_counter() - started, samples=samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlkg.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=sorted(MIX), help="send only this kind of request")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(args.url, requests=args.requests, clients=args.clients, seed=args.seed,
                 mix={args.only: 1} if args.only else None)
    print(json.dumps(report.as_json(), indent=1) if args.json else report.markdown())
    for failure in report.failures[:10]:
        print(f"FAILED {failure.kind} {failure.path} -> {failure.status} {failure.error}", file=sys.stderr)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
