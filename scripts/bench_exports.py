#!/usr/bin/env python3
"""Benchmark: dump a synthetic store of N triples in each format; report time, size and peak memory.

    .venv/bin/python scripts/bench_exports.py --triples 1000000

Builds, in a temporary folder, a store laid out like `mlkg build`'s (default graph = union, the same
triples split over 4 named graphs), with labels in several languages, typed values and non-ASCII
text. Each format is then exported by `mlkg.exports.write_export` in a fresh child process (so that
peak resident memory is that export's alone) to a file, and the figures are printed as a table."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

XSD = "http://www.w3.org/2001/XMLSchema#"


def make_store(path: Path, triples: int) -> None:
    import pyoxigraph as ox

    store = ox.Store(str(path))
    per_subject = 5
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    kinds = [
        ox.NamedNode("https://w3id.org/mlkg/def/Skill"),
        ox.NamedNode("https://w3id.org/mlkg/def/Role"),
    ]

    def quads():
        for i in range(triples // per_subject):
            s = ox.NamedNode(f"https://w3id.org/mlkg/skill/s{i}")
            graph = ox.NamedNode(f"https://w3id.org/mlkg/graph/data/part-{i % 4}")
            rows = (
                (ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), kinds[i % 2]),
                (label, ox.Literal(f"Géron skill {i}", language="en")),
                (
                    ox.NamedNode("http://schema.org/value"),
                    ox.Literal(f"{i}.5", datatype=ox.NamedNode(XSD + "decimal")),
                ),
                (
                    ox.NamedNode("https://w3id.org/mlkg/def/requiresSkill"),
                    ox.NamedNode(f"https://w3id.org/mlkg/skill/s{(i * 7) % 1000}"),
                ),
                (
                    ox.NamedNode("http://schema.org/description"),
                    ox.Literal(f"Beschreibung «{i}»", language="de"),
                ),
            )
            for p, o in rows:
                yield ox.Quad(s, p, o, ox.DefaultGraph())
                yield ox.Quad(s, p, o, graph)

    store.bulk_extend(quads())
    store.flush()
    store.optimize()
    del store


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(store_dir: str, suffix: str, out: str) -> None:
    """Run in a child process: one export, then print its figures as JSON."""
    import pyoxigraph as ox

    from mlkg import exports

    store = ox.Store.read_only(store_dir)
    baseline_mb = peak_mb()
    started = time.perf_counter()
    with open(out, "wb") as handle:
        exports.write_export(store, exports.export_for(suffix), handle)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "suffix": suffix,
                "seconds": round(elapsed, 2),
                "peak_rss_mb": round(peak_mb(), 1),
                "baseline_mb": round(baseline_mb, 1),
                "bytes": os.path.getsize(out),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--formats", default="ttl,jsonld,nt,rdf,trig,nq")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.make:
        make_store(Path(args.make[0]), int(args.make[1]))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        store_dir = Path(tmp) / "store"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--make", str(store_dir), str(args.triples)], check=True
        )
        print(
            f"store of {args.triples} triples (+ the same in 4 named graphs) built in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )
        print(
            f"{'format':8} {'seconds':>8} {'peak RSS MB':>12} {'after imports MB':>17} "
            f"{'size MB':>9}"
        )
        for suffix in args.formats.split(","):
            out = Path(tmp) / f"dump.{suffix}"
            result = subprocess.run(
                [sys.executable, __file__, "--child", str(store_dir), suffix, str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"{suffix:8} {row['seconds']:>8} {row['peak_rss_mb']:>12} {row['baseline_mb']:>17} "
                f"{row['bytes'] / 1e6:>9.1f}",
                flush=True,
            )
            out.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
