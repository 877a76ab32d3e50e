"""`python -m mlkg.bench_ceiling`: how fast could a Python endpoint over pyoxigraph be, here?

Point look-ups, in one run, through: a raw `oxigraph serve-read-only`; a bare WSGI app under granian
that only decodes the query, calls ``Store.query(...).serialize()`` and answers (`app`), with 1 and
with 8 blocking threads per process, and once more with the security and CORS headers every mlkg
answer carries (`app_with_headers`); the same least work as an RSGI app, granian's own interface
with no WSGI environ and no blocking thread (`rsgi_app`); and `mlkg serve` itself with 1, 2 and 8 threads per process,
answer cache off, and with 8 threads and the cache on, warmed by one untimed run first (the timed
runs then measure answers the server has given before, as a site's repeat visitors get). Every
server runs 2 processes on the same store; the load generator is `mlkg.bench`'s (4 client
processes, keep-alive, pre-encoded GETs).
Each row gives requests/s, the ratio to raw Oxigraph and the servers' own CPU time per request
(from /proc, all their processes), as the mean of `rounds` alternating runs.

The bare rows are the ceiling of any endpoint that runs Python per request on this machine: what
is left between them and the mlkg rows is mlkg's own work per request (checks, negotiation, cache,
log), and what is left between 1 and 8 threads is the cost of threads taking the GIL from each other
around every engine call (pyoxigraph lets go of the GIL while it queries).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote_plus

STORE_ENV = "MLKG_CEILING_STORE"
JSON = "application/sparql-results+json"
_STORE = None


def _answer(environ) -> bytes:
    global _STORE
    import pyoxigraph as ox

    if _STORE is None:  # opened in each server process, after granian's fork
        _STORE = ox.Store.read_only(os.environ[STORE_ENV])
    query = unquote_plus(environ.get("QUERY_STRING", "")[len("query=") :])
    return _STORE.query(query).serialize(format=ox.QueryResultsFormat.JSON)


def app(environ, start_response):
    """The least a WSGI endpoint can do: run ``?query=`` and answer SPARQL JSON."""
    body = _answer(environ)
    start_response(
        "200 OK",
        [("Content-Type", "application/sparql-results+json"), ("Content-Length", str(len(body)))],
    )
    return [body]


@cache
def _mlkg_headers() -> tuple[tuple[str, str], ...]:
    """mlkg's headers on a /sparql answer, read once per process (importing mlkg.web imports Flask)."""
    from mlkg.web import HEADERS

    return (("Vary", "Accept"), *HEADERS)


def app_with_headers(environ, start_response):
    """`app`, plus the headers every mlkg answer carries."""
    body = _answer(environ)
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/sparql-results+json"),
            ("Content-Length", str(len(body))),
            *_mlkg_headers(),
        ],
    )
    return [body]


async def rsgi_app(scope, protocol) -> None:
    """`app` as an RSGI app: granian calls it on its event loop (one thread per process)."""
    body = _answer({"QUERY_STRING": scope.query_string})
    protocol.response_bytes(200, [("content-type", "application/sparql-results+json")], body)


@dataclass(frozen=True)
class Server:
    """One row: how to start it (`kind` bare or mlkg) and with what."""

    name: str
    kind: str
    threads: int
    target: str = "app"
    cache_mb: int = 0
    interface: str = "wsgi"


SERVERS = [
    Server("bare app, 1 thread", "bare", 1),
    Server("bare app, 8 threads", "bare", 8),
    Server("bare app + mlkg headers, 1 thread", "bare", 1, "app_with_headers"),
    Server("bare app + mlkg headers, 8 threads", "bare", 8, "app_with_headers"),
    Server("bare RSGI app", "bare", 1, "rsgi_app", interface="rsgi"),
    Server("mlkg serve, 1 thread, cache off", "mlkg", 1),
    Server("mlkg serve, 2 threads, cache off", "mlkg", 2),
    Server("mlkg serve, 8 threads, cache off", "mlkg", 8),
    Server("mlkg serve, 8 threads, cache on (warm)", "mlkg", 8, cache_mb=64),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(server: Server, var: Path, store_dir: Path) -> tuple[subprocess.Popen, str]:
    """Start `server` on 127.0.0.1; return its process and /sparql URL, once it answers."""
    from mlkg import bench

    if server.kind == "mlkg":
        process, url, _ = bench.start_mlkg(
            var, cache_mb=server.cache_mb, processes=2, workers=2, threads=server.threads
        )
        bench.settle(process)
        return process, url
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            server.interface,
            "--workers",
            "2",
            "--blocking-threads",
            str(server.threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            f"mlkg.bench_ceiling:{server.target}",
        ],
        env={**os.environ, STORE_ENV: str(store_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/sparql"
    try:
        bench._wait_answer(url, timeout=60)
    except RuntimeError:
        bench.stop(process)  # never answered: do not leave it running
        raise
    return process, url


def run(
    size: int, *, seconds: float, rounds: int, clients: int, work: Path
) -> list[tuple[str, float, float, int]]:
    """(name, mean req/s, mean server CPU µs per request, errors): raw Oxigraph, then SERVERS."""
    from mlkg import bench
    from mlkg._procs import OxigraphServer, cpu_seconds, descendants
    from mlkg.synth import write_synthetic

    data = work / "synth.nt"
    write_synthetic(data, triples=size)
    var = work / "var"
    store_dir, _, _ = bench.load_store(var, data)
    data.unlink()
    points = bench.point_queries(store_dir, 5000)
    raw = OxigraphServer(store_dir, read_only=True).start()
    running: list[tuple[str, subprocess.Popen | None, str]] = [
        ("raw Oxigraph", raw.process, f"{raw.url}/query")
    ]
    try:
        for server in SERVERS:
            process, url = start(server, var, store_dir)
            running.append((server.name, process, url))
            if server.cache_mb:  # one untimed run first: the timed ones measure a warm cache
                bench.load(url, points, clients=clients, seconds=seconds, accept=JSON)
        bench._wait_answer(running[0][2])
        measured: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _, _ in running}
        for _ in range(rounds):  # alternate, so that background load hits every row alike
            for name, process, url in running:
                pids = [process.pid, *descendants(process.pid)] if process else []
                before = cpu_seconds(pids)
                result = bench.load(url, points, clients=clients, seconds=seconds, accept=JSON)
                used = cpu_seconds(pids) - before
                measured[name].append(
                    (result.rate, used / max(1, result.done) * 1e6, result.errors)
                )
    finally:
        for name, process, _ in running[1:]:
            if process is not None:
                bench.stop(process)  # granian's supervisor stops its processes on SIGTERM
        raw.stop()
    return [
        (
            name,
            sum(r for r, _, _ in runs) / len(runs),
            sum(c for _, c, _ in runs) / len(runs),
            sum(e for _, _, e in runs),
        )
        for name, runs in measured.items()
    ]


def table(rows: list[tuple[str, float, float, int]]) -> str:
    """The Markdown table of `run`'s rows (the first is the raw server)."""
    base = rows[0][1] or 1.0
    lines = [
        "| server (2 processes each) | req/s | / raw | server CPU per request | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {rate:,.0f} | {rate / base:.2f}× | {cpu:,.0f} µs | {errors} |"
        for name, rate, cpu, errors in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print the table and write it to --out."""
    parser = argparse.ArgumentParser(
        prog="python -m mlkg.bench_ceiling", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", type=int, default=100_000, help="triples of synthetic data")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per row")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/CEILING.md"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlkg-ceiling-") as work:
        rows = run(
            args.size,
            seconds=args.seconds,
            rounds=args.rounds,
            clients=args.clients,
            work=Path(work),
        )
    command = " ".join(
        ["python -m mlkg.bench_ceiling", *(argv if argv is not None else sys.argv[1:])]
    )
    text = (
        f"# Point look-ups: the ceiling of a Python endpoint on this machine\n\n"
        f"Produced by `{command}` ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M')}: "
        f"{args.size:,} triples of `mlkg synth` data, {args.clients} client processes, mean of "
        f"{args.rounds} alternating runs of {args.seconds:g} s per row. See the module's doc "
        f"(`mlkg/bench_ceiling.py`) for what each row runs.\n\n{table(rows)}\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
