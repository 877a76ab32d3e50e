"""`python -m mlkg.bench`: the endpoint against a raw Oxigraph server on the same data, in one run.

For each size (~10k, ~100k, ~1M triples of `mlkg synth` data) it loads a store, starts `mlkg serve`
and `oxigraph serve-read-only` on that same store (both on 127.0.0.1, OS-picked ports), and sends the
same queries through each with several concurrent clients for a fixed time: requests/s, p50 and p99
latency, and the ratio ours/raw. Also: store load time, server start time (to the first answer) and
peak memory of each server's processes. Writes a Markdown table (default benchmarks/RESULTS.md).

The load generator is `clients` processes, each with one keep-alive connection sending pre-encoded
GET requests over a raw socket (a Python client costs CPU on the same 2 cores as the servers; both
servers pay the same); when an answer says `Connection: close`, the client reconnects before its next
request, as any HTTP/1.1 client does. The answer cache of `mlkg serve` is switched off (MLKG_ANSWER_CACHE_MB=0)
except in the two rows marked "cache", so that no other row measures a cache the raw server does not
have: "cache filling" is the first run of a fresh server with the cache on (its default), "cache
warm" the runs after it, when it answers what it has answered before from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import quote, urlsplit

import pyoxigraph as ox

from mlkg._procs import OxigraphServer, descendants, peak_rss_kb, read_serve_url, stop

GRAPH = "https://w3id.org/mlkg/graph/bench/synthetic"
PREFIXES = (
    "PREFIX mlkg: <https://w3id.org/mlkg/def/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
)
HEAVY = [
    PREFIXES
    + "SELECT ?class (COUNT(?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class ORDER BY DESC(?n)",
    PREFIXES
    + "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n) LIMIT 20",
    PREFIXES
    + 'SELECT (COUNT(*) AS ?n) WHERE { ?s rdfs:label ?l FILTER(CONTAINS(LCASE(STR(?l)), "learning")) }',
    PREFIXES
    + "SELECT ?group (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s skos:broader ?group . ?s rdfs:label ?l } "
    "GROUP BY ?group ORDER BY DESC(?n) LIMIT 10",
]


@dataclass
class Measure:
    """One load run: completed requests, errors, seconds, latencies (ms)."""

    done: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- load generator


def _read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response (Content-Length or chunked); return (status, leftover bytes,
    whether the server closes the connection after it: `Connection: close`)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    closes = headers.get(b"connection", b"").lower() == b"close"
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buffer += chunk
        return status, buffer[length:], closes
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            while b"\r\n" not in buffer:
                buffer += sock.recv(65536)
            size_line, _, buffer = buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buffer) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buffer += chunk
            buffer = buffer[size + 2 :]
            if size == 0:
                return status, buffer, closes
    raise ConnectionError("response without length")


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _client(args: tuple) -> tuple[int, int, list[float]]:
    host, port, requests, start_at, seconds, seed = args
    rng = random.Random(seed)
    order = list(range(len(requests)))
    rng.shuffle(order)
    latencies: list[float] = []
    done = errors = 0
    sock = _connect(host, port)
    buffer = b""
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + seconds
    i = 0
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        request = requests[order[i % len(order)]]
        i += 1
        try:
            sock.sendall(request)
            status, buffer, closes = _read_response(sock, buffer)
        except (OSError, ConnectionError, ValueError):
            errors += 1
            sock.close()
            sock = _connect(host, port)
            buffer = b""
            continue
        if closes:  # the server asked us to reconnect (mlkg.web.reconnect): the answer is whole
            sock.close()
            sock = _connect(host, port)
            buffer = b""
        latencies.append((time.perf_counter() - now) * 1000)
        if status == 200:
            done += 1
        else:
            errors += 1
    sock.close()
    return done, errors, latencies


def merge(measures: list[Measure]) -> Measure:
    """Several runs as one."""
    return Measure(
        sum(m.done for m in measures),
        sum(m.errors for m in measures),
        sum(m.seconds for m in measures),
        [x for m in measures for x in m.latencies],
    )


def load(url: str, queries: list[str], *, clients: int, seconds: float, accept: str) -> Measure:
    """Send `queries` (GET, shuffled per client) from `clients` processes for `seconds`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [
        (
            f"GET {parts.path}?query={quote(q, safe='')} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Accept: {accept}\r\nConnection: keep-alive\r\n\r\n"
        ).encode()
        for q in queries
    ]
    start_at = time.time() + 0.5
    with get_context("fork").Pool(clients) as pool:
        results = pool.map(
            _client, [(host, port, requests, start_at, seconds, n) for n in range(clients)]
        )
    latencies = [lat for _, _, lats in results for lat in lats]
    return Measure(sum(r[0] for r in results), sum(r[1] for r in results), seconds, latencies)


# ---------------------------------------------------------------- setup


def load_store(var_dir: Path, data: Path) -> tuple[Path, float, int]:
    """Bulk-load `data` into a store laid out like `mlkg build`'s (named graph + union default);
    return (store folder, seconds, triples)."""
    from mlkg.build import StoreMeta, install_store
    from mlkg.config import Settings

    started = time.perf_counter()
    holder: dict[str, int] = {}

    def fill(path: Path) -> None:
        store = ox.Store(str(path))
        store.bulk_load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(GRAPH))
        store.bulk_load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph())
        store.optimize()
        holder["triples"] = sum(
            1 for _ in store.quads_for_pattern(None, None, None, ox.DefaultGraph())
        )
        del store

    store_id = f"bench{data.stat().st_size:x}"
    meta = StoreMeta(
        id=store_id, content_hash=store_id, triples=0, quads=0, graphs=1, built_at=time.time()
    )
    final = install_store(Settings().with_overrides(var_dir=var_dir), store_id, fill, meta)
    triples = holder.get("triples", 0)
    (final / "meta.json").write_text(
        json.dumps({**meta.__dict__, "triples": triples, "quads": 2 * triples})
    )
    return final, time.perf_counter() - started, triples


def start_mlkg(
    var_dir: Path, *, cache_mb: int, processes: int, workers: int, threads: int
) -> tuple[subprocess.Popen, str, float]:
    """Start `mlkg serve` and return (process, /sparql URL, seconds until the first answer)."""
    env = {
        **os.environ,
        "MLKG_VAR": str(var_dir),
        "MLKG_ANSWER_CACHE_MB": str(cache_mb),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlkg",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--processes",
            str(processes),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = read_serve_url(process.stdout, time.monotonic() + 120)
    if not base:
        process.kill()
        raise RuntimeError("mlkg serve exited before printing the URL it serves on")
    url = base + "/sparql"
    try:
        _wait_answer(url)
    except RuntimeError:
        stop(process)  # never answered: do not leave it running
        raise
    return process, url, time.perf_counter() - started


def settle(process: subprocess.Popen, timeout: float = 900) -> float:
    """Wait until `mlkg serve` has written the files it prepares ahead of requests (`mlkg.prepare`:
    the entity index and every dump; a minute or more of one core at 1M triples), so that a
    measurement sees the server as it runs from then on, not that work beside it. Seconds waited.

    :raises RuntimeError: when it is still preparing after `timeout` s.
    """
    from mlkg import prepare

    began = time.monotonic()
    while prepare.running(process.pid):
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"mlkg serve was still preparing its files after {timeout:g} s")
        time.sleep(0.2)
    return time.monotonic() - began


def _wait_answer(url: str, timeout: float = 120) -> None:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    request = (
        f"GET {parts.path}?query={quote('ASK {}')} HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
                sock.sendall(request)
                if _read_response(sock, b"")[0] == 200:
                    return
        except (OSError, ConnectionError, ValueError):
            time.sleep(0.01)
    raise RuntimeError(f"{url} never answered")


def point_queries(store_dir: Path, count: int, seed: int = 7) -> list[str]:
    """`count` look-ups of one entity's properties, entities drawn from the store."""
    store = ox.Store.read_only(str(store_dir))
    subjects = [
        s["s"].value
        for s in store.query(
            "SELECT DISTINCT ?s WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
        )
    ]
    rng = random.Random(seed)
    chosen = rng.sample(subjects, min(count, len(subjects)))
    return [f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}" for iri in chosen]


# ---------------------------------------------------------------- run


def run(
    sizes: list[int],
    *,
    rounds: int = 2,
    seconds: float,
    clients: int,
    processes: int,
    workers: int,
    threads: int,
    out: Path,
    work: Path,
    starts: int = 5,
) -> str:
    from mlkg.synth import write_synthetic

    rows: list[str] = []
    facts: list[str] = []
    for size in sizes:
        data = work / f"synth-{size}.nt"
        began = time.perf_counter()
        written = write_synthetic(data, triples=size)
        synth_s = time.perf_counter() - began
        var = work / f"var-{size}"
        store_dir, load_s, triples = load_store(var, data)
        points = point_queries(store_dir, 5000)
        label = f"{triples / 1000:,.0f}k" if triples < 1_000_000 else f"{triples / 1e6:.2f}M"
        print(
            f"[{label}] synth {written} triples in {synth_s:.1f}s, store loaded in {load_s:.1f}s",
            flush=True,
        )

        raw = OxigraphServer(store_dir, read_only=True).start()
        ours, ours_url, start_s = start_mlkg(
            var, cache_mb=0, processes=processes, workers=workers, threads=threads
        )
        raw_url = f"{raw.url}/query"
        _wait_answer(raw_url)
        print(f"[{label}] mlkg serve prepared its files in {settle(ours):.0f} s more", flush=True)
        json_accept = "application/sparql-results+json"
        results = {}
        for name, queries, secs in (
            ("point look-ups", points, seconds),
            ("heavy queries", HEAVY, seconds * 2),
        ):
            runs: dict[str, list[Measure]] = {"raw": [], "ours": []}
            for _ in range(rounds):  # alternate, so that background load on the machine hits both
                runs["raw"].append(
                    load(raw_url, queries, clients=clients, seconds=secs, accept=json_accept)
                )
                runs["ours"].append(
                    load(ours_url, queries, clients=clients, seconds=secs, accept=json_accept)
                )
            results[name] = (merge(runs["raw"]), merge(runs["ours"]))
        ours_mem = peak_rss_kb([ours.pid, *descendants(ours.pid)])
        raw_mem = peak_rss_kb([raw.process.pid]) if raw.process else 0
        stop(ours)
        cached, cached_url, _ = start_mlkg(
            var, cache_mb=64, processes=processes, workers=workers, threads=threads
        )
        settle(cached)  # its files are written already: at once
        # the first run after start fills each process's answer cache; then, alternating with the
        # raw server again, runs on a warm cache (at most hits, and whatever a process still misses)
        filling = load(cached_url, points, clients=clients, seconds=seconds, accept=json_accept)
        warm: dict[str, list[Measure]] = {"raw": [], "ours": []}
        for _ in range(rounds):
            warm["raw"].append(
                load(raw_url, points, clients=clients, seconds=seconds, accept=json_accept)
            )
            warm["ours"].append(
                load(cached_url, points, clients=clients, seconds=seconds, accept=json_accept)
            )
        stop(cached)
        raw.stop()
        start_times = [start_s]
        start_times += [_start_once(var, processes, workers, threads) for _ in range(starts - 1)]
        for name, (raw_m, ours_m) in results.items():
            rows.append(_row(label, name, raw_m, ours_m))
            print(rows[-1], flush=True)
        rows.append(
            _row(label, "point look-ups, cache filling", results["point look-ups"][0], filling,
                 raw_errors=False)
        )
        rows.append(
            _row(label, "point look-ups, cache warm", merge(warm["raw"]), merge(warm["ours"]))
        )
        print(rows[-2], rows[-1], sep="\n", flush=True)
        facts.append(
            f"| {label} | {written:,} | {synth_s:.1f} s | {load_s:.1f} s | {_starts(start_times)} | "
            f"{ours_mem / 1024:,.0f} MiB | {raw_mem / 1024:,.0f} MiB |"
        )
        print(facts[-1], flush=True)
        shutil.rmtree(var, ignore_errors=True)
        data.unlink(missing_ok=True)
    command = " ".join(["python -m mlkg.bench", *sys.argv[1:]])
    text = _report(
        command,
        rows,
        facts,
        seconds=seconds,
        clients=clients,
        processes=processes,
        workers=workers,
        threads=threads,
        rounds=rounds,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def _start_once(var: Path, processes: int, workers: int, threads: int) -> float:
    """Start `mlkg serve` on the store in `var` once more; seconds to its first answer."""
    process, _, seconds = start_mlkg(
        var, cache_mb=0, processes=processes, workers=workers, threads=threads
    )
    stop(process)
    return seconds


def _starts(seconds: list[float]) -> str:
    """Start times as the table shows them: the median, and the range when there are several."""
    if len(seconds) == 1:
        return f"{seconds[0]:.2f} s"
    return (
        f"{statistics.median(seconds):.2f} s ({min(seconds):.2f}–{max(seconds):.2f}, "
        f"{len(seconds)} starts)"
    )


def _row(label: str, name: str, raw: Measure, ours: Measure, raw_errors: bool = True) -> str:
    """One line of the table (`raw_errors` False: the raw figures are another row's, shown again)."""
    return (
        f"| {label} | {name} | {raw.rate:,.0f} | {raw.pct(0.5):.1f} / {raw.pct(0.99):.1f} | "
        f"{ours.rate:,.0f} | {ours.pct(0.5):.1f} / {ours.pct(0.99):.1f} | "
        f"**{ours.rate / raw.rate:.2f}×** | {raw.errors if raw_errors else '–'}/{ours.errors} |"
    )


def _report(command: str, rows: list[str], facts: list[str], **how: object) -> str:
    cpu = os.cpu_count()
    return f"""# Benchmark: the mlkg SPARQL endpoint against a raw Oxigraph server

Produced by `{command}` on this machine ({cpu} cores), one run, {time.strftime("%Y-%m-%d %H:%M")}.
Data: `mlkg synth` (the curated graph copied with renamed entities), loaded into one store that both
servers read: `mlkg serve` ({how["processes"]} server processes × {how["threads"]} threads, {how["workers"]} query
workers each; answer cache off except in the "cache" rows) and `oxigraph serve-read-only`.
Load: {how["clients"]} client processes with one keep-alive connection each, GET requests, SPARQL JSON answers,
{how["rounds"]} alternating runs each of raw and mlkg per row, {how["seconds"]} s per point-look-up run and
{2 * float(how["seconds"]):g} s per heavy run (the client runs on the same 2 cores as both servers).
Point look-ups: `SELECT ?p ?o WHERE {{ <entity> ?p ?o }}` over 5,000 entities (or all, if fewer).
Heavy queries: whole-graph aggregates (class counts, predicate counts, label search, a join with GROUP BY).
"cache filling": the first point-look-up run of a freshly started `mlkg serve` with its answer cache on
(the default), beside the raw figures of the first row. "cache warm": the runs after it, alternating
with the raw server again: answers each process has already given come from its cache.

| triples | queries | raw Oxigraph req/s | raw p50 / p99 ms | mlkg req/s | mlkg p50 / p99 ms | mlkg / raw | errors raw/mlkg |
|---|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

| triples | synth triples | synth time | store load (bulk, no SHACL) | mlkg start to first answer (median) | mlkg peak memory (all processes) | Oxigraph peak memory |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(facts)}

Peak memory is the sum of each process's peak resident set (VmHWM), so pages shared between
processes (the store's files, libraries) are counted once per process: an upper bound.
"""


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        prog="python -m mlkg.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="triples per run, comma-separated"
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="length of each point-look-up run"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternating raw/mlkg runs per row (background load hits both)",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--processes", type=int, default=2, help="mlkg server processes")
    parser.add_argument("--workers", type=int, default=2, help="query workers per server process")
    parser.add_argument("--threads", type=int, default=8, help="threads per server process")
    parser.add_argument(
        "--starts", type=int, default=5, help="server starts timed per size (median and range)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/RESULTS.md"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mlkg-bench-"))
    try:
        run(
            [int(s) for s in args.sizes.split(",")],
            seconds=args.seconds,
            rounds=args.rounds,
            clients=args.clients,
            processes=args.processes,
            workers=args.workers,
            threads=args.threads,
            out=args.out,
            work=work,
            starts=max(1, args.starts),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
