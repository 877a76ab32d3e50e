"""The endpoint benchmark's table: each row's ratio, errors, and the start times as measured."""

from __future__ import annotations

from mlkg.bench import Measure, _row, _starts


def test_a_row_gives_the_rates_the_ratio_and_both_error_counts() -> None:
    raw = Measure(done=8000, errors=0, seconds=4.0, latencies=[0.4] * 98 + [1.0, 2.0])
    ours = Measure(done=3000, errors=2, seconds=4.0, latencies=[1.0] * 99 + [5.0])
    row = _row("100k", "point look-ups", raw, ours)
    assert row == (
        "| 100k | point look-ups | 2,000 | 0.4 / 2.0 | 750 | 1.0 / 5.0 | **0.38×** | 0/2 |"
    )


def test_a_row_that_reuses_another_rows_raw_figures_does_not_count_their_errors_again() -> None:
    raw = Measure(done=100, errors=3, seconds=1.0, latencies=[1.0])
    assert _row("1M", "point look-ups, cache filling", raw, raw, raw_errors=False).endswith(
        "| **1.00×** | –/3 |"
    )


def test_start_times_show_the_median_and_the_range() -> None:
    assert _starts([0.91]) == "0.91 s"
    assert _starts([1.2, 0.8, 0.9, 1.0, 0.85]) == "0.90 s (0.80–1.20, 5 starts)"
    assert _starts([1.0, 0.8]) == "0.90 s (0.80–1.00, 2 starts)"


def test_settle_waits_until_the_server_has_written_what_it_prepares(tmp_path) -> None:
    """`settle` returns once mlkg.prepare has ended, its files written; a second server on the same
    store has nothing to write, and settles at once."""
    from mlkg import bench, exports, prepare
    from mlkg.build import load_meta
    from mlkg.config import Settings
    from mlkg.synth import write_synthetic

    data = tmp_path / "synth.nt"
    write_synthetic(data, triples=3000)
    var = tmp_path / "var"
    store_dir, _, _ = bench.load_store(var, data)
    settings = Settings().with_overrides(var_dir=var)
    dumps = [
        exports.dump_path(settings, load_meta(store_dir), e, compressed=c)
        for e in exports.EXPORTS
        for c in (False, True)
    ]
    written = []
    for _ in range(2):
        process, _, _ = bench.start_mlkg(var, cache_mb=0, processes=1, workers=1, threads=2)
        try:
            bench.settle(process, timeout=120)
            assert prepare.running(process.pid) == []
            assert all(path.stat().st_size > 0 for path in dumps)
            written.append([path.stat().st_mtime_ns for path in dumps])
        finally:
            bench.stop(process)
    assert written[0] == written[1]  # the second server wrote nothing again
