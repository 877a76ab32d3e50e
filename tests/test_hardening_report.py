"""The benchmark report's rendering: the comparison table, ratios, the load-test tables and the SVG chart
(the run itself is a benchmark command, `python -m mlkg.report`, not a test)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mlkg.bench import Measure
from mlkg.loadtest import Report, Sample
from mlkg.report import Row, render_chart, render_report


def _rows() -> list[Row]:
    return [
        Row("100k", "point look-ups", {"raw Oxigraph": Measure(20000, 0, 5, [0.2] * 10),
                                       "mlkg": Measure(2500, 0, 5, [1.4] * 10),
                                       "rdflib-endpoint": Measure(500, 1, 5, [8.0] * 10)}),
        Row("1.00M", "heavy queries", {"raw Oxigraph": Measure(120, 0, 10, [250.0] * 3),
                                       "mlkg": Measure(100, 0, 10, [300.0] * 3)}),
    ]


def test_the_report_shows_each_server_and_the_ratios() -> None:
    load = Report("http://x", 16, 2.0, [Sample("entity", "/skill/a", 200, 0.004), Sample("search", "/api", 200, 0.002)])
    text = render_report("python -m mlkg.report", _rows(), [("100k", load)], ["| 100k | 1 | 1 s | 1 s | 9 MiB (9 MiB; 3) | 2 s |"],
                         seconds=5, clients=[4, 16], chart="report.svg")
    assert "| 100k | point look-ups | 4,000.0 (0.2) | 500.0 (1.4) | 100.0 (8.0) | **0.12×** | **5.00×** | 0/0/1 |" in text
    assert "| 1.00M | heavy queries | 12.0 (250.0) | 10.0 (300.0) | – | **0.83×** | **–** | 0/0/– |" in text
    assert "![requests per second by server](report.svg)" in text
    assert "point look-ups with 4 and with 16, heavy queries with 4" in text
    assert "| entity | 1 | 0 |" in text and "2 requests from 16 clients" in text


def test_the_chart_is_valid_svg_with_a_bar_per_measure() -> None:
    svg = render_chart(_rows())
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    bars = root.findall(".//svg:rect/svg:title", ns)
    labels = [b.text for b in bars]
    assert len(labels) == 5
    assert "mlkg: 500.0 req/s" in labels and "raw Oxigraph: 12.0 req/s" in labels


def test_client_counts_are_refused_by_what_was_given() -> None:
    import argparse

    import pytest

    from mlkg.report import _counts

    assert _counts("4,16") == [4, 16]
    for bad in ("4,x", "0", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="client counts"):
            _counts(bad)


def test_the_cold_load_test_starts_from_what_a_build_leaves(tmp_path) -> None:
    """Dumps and caches gone, the entity index written (as `mlkg build` writes it), so that the
    first requests after the start do not all wait for an index no build would leave missing."""
    from mlkg.bench import load_store
    from mlkg.report import as_after_build
    from mlkg.search import index_file_name
    from mlkg.synth import write_synthetic

    data = tmp_path / "synth.nt"
    write_synthetic(data, triples=2_000)
    var = tmp_path / "var"
    store_dir, _, _ = load_store(var, data)
    stale = var / "exports" / store_dir.name / "export.ttl"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    (var / "cache" / store_dir.name).mkdir(parents=True)
    (var / "cache" / store_dir.name / "void.ttl").write_text("old")

    as_after_build(var, store_dir)

    assert not (var / "exports").exists()
    written = sorted(  # (and the lock file writers take turns by)
        p.name for p in (var / "cache" / store_dir.name).iterdir() if not p.name.endswith(".lock")
    )
    assert written == [index_file_name("https://w3id.org/mlkg/")]
