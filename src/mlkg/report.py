"""`python -m mlkg.report`: one command for the hardening benchmark report.

For each size (~100k and ~1M triples of `mlkg synth` data by default) it loads one store and starts,
on 127.0.0.1: a raw Oxigraph server on that store, `mlkg serve` on that store, and rdflib-endpoint
(PyPI `rdflib-endpoint`, the `bench` extra) on the same N-Triples. Then:

1. the endpoint benchmark (`mlkg.bench.load`: the same point look-ups and heavy queries, from
   `clients` keep-alive client processes for a fixed time) against each of the three, the answer
   cache of `mlkg serve` off so that it is not measuring a cache the others do not have;
2. the load test (`mlkg.loadtest`: the realistic mix of entity pages, canned queries, search,
   SPARQL and dumps from 16 clients) against `mlkg serve` with its default settings, twice: from
   its start (as `mlkg build` leaves a store: the entity index written, dumps and caches not), then
   again.

It writes a Markdown report with the tables and an SVG chart (default benchmarks/REPORT.md and
benchmarks/report.svg). Every figure comes from this run; nothing is carried over.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mlkg import bench, filecache, loadtest
from mlkg._procs import OxigraphServer, descendants, peak_rss_kb, pss_kb
from mlkg.config import Settings
from mlkg.search import index_file

JSON = "application/sparql-results+json"
SERVERS = ("raw Oxigraph", "mlkg", "rdflib-endpoint")


@dataclass
class Row:
    """One (size, query set) line: a Measure per server."""

    size: str
    queries: str
    measures: dict[str, bench.Measure]


def free_port() -> int:
    """A port the OS says is free now (for servers that cannot report the one they picked)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_rdflib_endpoint(data: Path, *, timeout: float = 1800) -> tuple[subprocess.Popen, str, float]:
    """rdflib-endpoint serving `data` (in-memory rdflib store); (process, URL, seconds to first answer).

    :raises RuntimeError: when the package is missing or the server never answers.
    """
    executable = Path(sys.executable).with_name("rdflib-endpoint")
    if not executable.exists():
        found = shutil.which("rdflib-endpoint")
        if not found:
            raise RuntimeError("rdflib-endpoint is not installed: pip install -e '.[bench]'")
        executable = Path(found)
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(executable), "serve", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        bench._wait_answer(url, timeout=timeout)
    except BaseException:
        bench.stop(process)
        raise
    return process, url, time.perf_counter() - started


def run(
    sizes: list[int],
    *,
    seconds: float,
    clients: list[int],
    load_requests: int,
    out: Path,
    chart: Path,
    work: Path,
    skip_rdflib_above: int,
) -> str:
    """Run everything for each size and write the report; returns its text."""
    from mlkg.synth import write_synthetic

    rows: list[Row] = []
    loads: list[tuple[str, loadtest.Report]] = []
    singles: list[tuple[str, loadtest.Report]] = []
    facts: list[str] = []
    for size in sizes:
        data = work / f"synth-{size}.nt"
        written = write_synthetic(data, triples=size)
        var = work / f"var-{size}"
        store_dir, load_s, triples = bench.load_store(var, data)
        label = f"{triples / 1000:,.0f}k" if triples < 1_000_000 else f"{triples / 1e6:.2f}M"
        print(f"[{label}] {written:,} triples written, store loaded in {load_s:.1f} s", flush=True)
        points = bench.point_queries(store_dir, 2000)
        urls: dict[str, str] = {}
        raw = OxigraphServer(store_dir, read_only=True).start()
        urls["raw Oxigraph"] = f"{raw.url}/query"
        bench._wait_answer(urls["raw Oxigraph"])
        ours, urls["mlkg"], _ = bench.start_mlkg(var, cache_mb=0, processes=2, workers=2, threads=8)
        settled = bench.settle(ours)  # the load tests below meet a start with nothing written
        print(f"[{label}] mlkg serve prepared its files in {settled:.0f} s more", flush=True)
        rdflib_process = None
        rdflib_note = ""
        if triples <= skip_rdflib_above:
            try:
                rdflib_process, urls["rdflib-endpoint"], rdflib_s = start_rdflib_endpoint(data)
                rdflib_note = f"{rdflib_s:.0f} s"
                print(f"[{label}] rdflib-endpoint answered after {rdflib_s:.1f} s (parsing the file)", flush=True)
            except RuntimeError as exc:
                rdflib_note = f"not run: {exc}"
        else:
            rdflib_note = f"not run (above {skip_rdflib_above:,} triples: it parses the data into memory)"
        try:
            # point look-ups at each client count (at a few, where keep-alive connections land
            # decides much: see the report's notes); heavy queries at the first
            runs = [(f"point look-ups, {n} clients", points, seconds, n) for n in clients]
            runs.append(("heavy queries", bench.HEAVY, 2 * seconds, clients[0]))
            for name, queries, secs, count in runs:
                measures = {}
                for server, url in urls.items():
                    measures[server] = bench.load(url, queries, clients=count, seconds=secs, accept=JSON)
                    m = measures[server]
                    print(f"[{label}] {name:27} {server:16} {m.rate:9,.1f} req/s  p50 {m.pct(0.5):8.1f} ms  "
                          f"errors {m.errors}", flush=True)
                rows.append(Row(label, name, measures))
        finally:
            bench.stop(ours)
            raw.stop()
            if rdflib_process is not None:
                bench.stop(rdflib_process)
        as_after_build(var, store_dir)
        production, production_url, start_s = bench.start_mlkg(var, cache_mb=64, processes=2, workers=2, threads=8)
        try:
            site = production_url.rsplit("/sparql", 1)[0]
            # the first run meets what a start leaves cold (entity index, dumps, caches); the
            # second, the same server with them warm
            cold = loadtest.run(site, requests=load_requests, clients=16)
            report = loadtest.run(site, requests=load_requests, clients=16, seed=2)
            # one client, entity pages only: latency without queueing behind 15 other clients;
            # a fresh seed, so most pages are first renderings, not page-cache hits
            single = loadtest.run(site, requests=300, clients=1, mix={"entity": 1}, seed=99)
            pids = [production.pid, *descendants(production.pid)]
            memory = f"{pss_kb(pids) / 1024:,.0f} MiB ({peak_rss_kb(pids) / 1024:,.0f} MiB; {len(pids)})"
        finally:
            bench.stop(production)
        loads.append((f"{label} triples, the first {load_requests:,} requests after the start", cold))
        loads.append((f"{label} triples, the {load_requests:,} after those", report))
        singles.append((label, single))
        print(cold.markdown(), flush=True)
        print(report.markdown(), flush=True)
        print(single.markdown(), flush=True)
        facts.append(f"| {label} | {written:,} | {load_s:.1f} s | {start_s:.2f} s | {memory} | {rdflib_note} |")
        shutil.rmtree(var, ignore_errors=True)
        data.unlink(missing_ok=True)
    command = " ".join(["python -m mlkg.report", *sys.argv[1:]])
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_text(render_chart(rows), encoding="utf-8")
    text = render_report(command, rows, loads, facts, seconds=seconds, clients=clients,
                         chart=os.path.relpath(chart, out.parent), singles=singles)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def _ratio(a: bench.Measure | None, b: bench.Measure | None) -> str:
    if a is None or b is None or not b.rate:
        return "–"
    return f"{a.rate / b.rate:.2f}×"


def render_report(command: str, rows: list[Row], loads: list[tuple[str, loadtest.Report]], facts: list[str],
                  *, seconds: float, clients: list[int], chart: str,
                  singles: list[tuple[str, loadtest.Report]] = ()) -> str:
    """The Markdown report."""
    lines = [
        "# Benchmark report: mlkg against raw Oxigraph and rdflib-endpoint",
        "",
        (f"Produced by `{command}` on this machine ({os.cpu_count()} cores; clients and servers share them), "
        f"{time.strftime('%Y-%m-%d %H:%M')}, one run."),
        "",
        "## Endpoint benchmark (same store, same queries)",
        "",
        (f"Client processes with one keep-alive connection each (point look-ups with "
        f"{' and with '.join(str(n) for n in clients)}, heavy queries with {clients[0]}), GET, SPARQL JSON "
        f"results; {seconds:g} s per point-look-up run, {2 * seconds:g} s per heavy run; the `mlkg serve` "
        "answer cache off, measured once it has written the files it prepares at start. "
        "Point look-ups: `SELECT ?p ?o WHERE { <entity> ?p ?o }` over 2,000 entities; heavy: whole-graph aggregates. "
        "mlkg runs 2 server processes (raw Oxigraph is one process); the kernel hands each new connection to "
        "one of them by a hash of the client's port, a keep-alive connection stays with the process that "
        "accepted it, and one that holds more than its share asks clients to reconnect, so they are spread "
        "within seconds of connecting."),
        "",
        "| triples | queries | " + " | ".join(f"{s} req/s (p50 ms)" for s in SERVERS)
        + " | mlkg / raw | mlkg / rdflib-endpoint | errors |",
        "|---|---|" + "---:|" * (len(SERVERS) + 3),
    ]
    for row in rows:
        cells = []
        for server in SERVERS:
            m = row.measures.get(server)
            cells.append(f"{m.rate:,.1f} ({m.pct(0.5):.1f})" if m else "–")
        errors = "/".join(str(row.measures[s].errors) if s in row.measures else "–" for s in SERVERS)
        lines.append(
            f"| {row.size} | {row.queries} | " + " | ".join(cells)
            + f" | **{_ratio(row.measures.get('mlkg'), row.measures.get('raw Oxigraph'))}**"
            + f" | **{_ratio(row.measures.get('mlkg'), row.measures.get('rdflib-endpoint'))}** | {errors} |"
        )
    lines += ["", f"![requests per second by server]({chart})", "",
              "## Load test: the realistic mix against `mlkg serve` with its default settings", ""]
    for label, report in loads:
        lines += [f"### {label}", "", report.markdown(), ""]
    if singles:
        lines += ["## Entity pages from one client (no queueing; mostly first renderings)", "",
                  "| triples | pages | p50 ms | p95 ms | p99 ms | failed |", "|---|---:|---:|---:|---:|---:|"]
        for label, report in singles:
            row = report.kinds().get("entity", {})
            lines.append(f"| {label} | {row.get('requests', 0):,} | {row.get('p50_ms', 0):.1f} | "
                         f"{row.get('p95_ms', 0):.1f} | {row.get('p99_ms', 0):.1f} | {row.get('failed', 0)} |")
        lines.append("")
    lines += [
        "## Setup",
        "",
        ("| triples | synth triples | store load (bulk) | mlkg start to first answer "
         "| mlkg memory after the load tests: PSS (peak RSS summed; processes) | rdflib-endpoint start (parse) |"),
        "|---|---:|---:|---:|---:|---:|",
        *facts,
        "",
    ]
    return "\n".join(lines)


def render_chart(rows: list[Row], width: int = 820) -> str:
    """A horizontal bar chart (SVG, log scale) of req/s per server for each (size, query set)."""
    colours = {"raw Oxigraph": "#6b7280", "mlkg": "#2563eb", "rdflib-endpoint": "#d97706"}
    bar_h, gap, left, right, top = 14, 16, 250, 90, 40
    groups = [(f"{r.size} · {r.queries}", r.measures) for r in rows]
    height = top + sum(len(SERVERS) * bar_h + gap for _ in groups) + 40
    rates = [m.rate for _, ms in groups for m in ms.values() if m.rate > 0]
    top_rate = max(rates, default=1.0)
    decades = max(1, math.ceil(math.log10(top_rate)) + 1)
    scale = (width - left - right) / decades

    def x(rate: float) -> float:
        return left + max(0.0, math.log10(max(rate, 1.0)) + 1) * scale if rate > 0 else left

    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'),
        '<title>Requests per second: raw Oxigraph, mlkg and rdflib-endpoint (log scale)</title>',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">Requests per second (log scale; more is better)</text>',
    ]
    for d in range(decades + 1):
        gx = left + d * scale
        out.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{height - 30}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 14}" text-anchor="middle" fill="#374151">{10 ** (d - 1):g}</text>')
    y = top
    for name, measures in groups:
        out.append(f'<text x="{left - 8}" y="{y + bar_h * len(SERVERS) / 2 + 4:.1f}" text-anchor="end">{html.escape(name)}</text>')
        for server in SERVERS:
            m = measures.get(server)
            if m is not None:
                out.append(f'<rect x="{left}" y="{y}" width="{x(m.rate) - left:.1f}" height="{bar_h - 2}" '
                           f'fill="{colours[server]}"><title>{html.escape(server)}: {m.rate:,.1f} req/s</title></rect>')
                out.append(f'<text x="{x(m.rate) + 4:.1f}" y="{y + bar_h - 4}" fill="#111827">{m.rate:,.0f}</text>')
            y += bar_h
        y += gap
    legend_x = width - right - 330
    for i, server in enumerate(SERVERS):
        out.append(f'<rect x="{legend_x + i * 115}" y="28" width="10" height="10" fill="{colours[server]}"/>')
        out.append(f'<text x="{legend_x + i * 115 + 14}" y="37">{html.escape(server)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def as_after_build(var: Path, store_dir: Path) -> None:
    """Leave `var` as `mlkg build` leaves it for the store at `store_dir`: no derived files (dumps,
    caches) but the entity index, which a build writes before the store goes into service."""
    for derived in filecache.ROOTS:
        shutil.rmtree(var / derived, ignore_errors=True)
    index_file(store_dir, var, Settings().base_iri)


def _counts(text: str) -> list[int]:
    """`--clients`: whole numbers of 1 or more, comma-separated."""
    try:
        counts = [int(n) for n in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of client counts (1 or more)")
    return counts


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the report."""
    parser = argparse.ArgumentParser(prog="python -m mlkg.report", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="triples per run, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each point-look-up run")
    parser.add_argument("--clients", default=[4, 16], type=_counts,
                        help="client processes in the endpoint benchmark, comma-separated: point look-ups run "
                             "with each count, heavy queries with the first")
    parser.add_argument("--requests", type=int, default=1500, help="requests in the load test")
    parser.add_argument("--skip-rdflib-above", type=int, default=2_000_000,
                        help="do not start rdflib-endpoint above this many triples")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/REPORT.md"))
    parser.add_argument("--chart", type=Path, default=Path("benchmarks/report.svg"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mlkg-report-"))
    try:
        run([int(s) for s in args.sizes.split(",")], seconds=args.seconds,
            clients=args.clients,
            load_requests=args.requests, out=args.out, chart=args.chart, work=work,
            skip_rdflib_above=args.skip_rdflib_above)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out} and {args.chart}")


if __name__ == "__main__":
    main()
