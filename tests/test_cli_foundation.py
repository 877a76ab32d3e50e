"""The foundation commands of the `mlkg` CLI: locate, spans, validate, build, stats (exit codes,
output)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _foundation import ROOT, mini_settings, require_sources
from click.testing import CliRunner, Result

import mlkg.cli
from mlkg.build import current_store
from mlkg.cli import cli
from mlkg.config import Settings

DOC2 = "002_c3e35048ae458ff3.txt"
SALARY = "https://w3id.org/mlkg/salary/002-ml-engineer-range"


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, list(args), catch_exceptions=True)


def assert_clean_failure(result: Result) -> None:
    """Exit 1 with a message, never a traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@pytest.fixture()
def mini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI pointed at a private copy of the mini fixture and a private var/."""
    settings = mini_settings(tmp_path)
    monkeypatch.setattr(mlkg.cli, "Settings", lambda: settings)
    return settings


def _edit(settings: Settings, old: str, new: str) -> None:
    path = settings.data_dirs[0] / "doc-002.ttl"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ---------------------------------------------------------------- validate


def test_validate_real_data_conforms(cli_runner: CliRunner) -> None:
    require_sources(Settings())
    result = run(cli_runner, "validate")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"conforms: \d+ quads checked, every span checked against the source documents",
        result.output,
    )


def test_validate_mini_conforms(cli_runner: CliRunner, mini: Settings) -> None:
    result = run(cli_runner, "validate")
    assert result.exit_code == 0, result.output
    assert "conforms:" in result.output


def test_validate_renders_file_focus_path_and_message(
    cli_runner: CliRunner, mini: Settings
) -> None:
    _edit(mini, 'schema:currency "USD" ;', 'schema:currency "usd" ;')
    result = run(cli_runner, "validate")
    assert_clean_failure(result)
    assert (
        f"data/doc-002: <{SALARY}> schema:currency: needs exactly one schema:currency, a "
        f"three-letter "
        'ISO 4217 code as a plain string, such as "USD" (value: usd)'
    ) in result.output.splitlines()
    assert result.output.rstrip().endswith("Error: 1 violation(s)")


def test_validate_reports_a_range_rule(cli_runner: CliRunner, mini: Settings) -> None:
    _edit(mini, 'schema:minValue "69000"^^xsd:decimal', 'schema:minValue "169000"^^xsd:decimal')
    result = run(cli_runner, "validate")
    assert_clean_failure(result)
    assert (
        f"data/doc-002: <{SALARY}>: the range's minimum 169000 is above its maximum 150000: swap "
        "schema:minValue and schema:maxValue or correct them"
    ) in result.output


def test_validate_reports_an_untraced_fact(cli_runner: CliRunner, mini: Settings) -> None:
    _edit(
        mini,
        "mlkg:employedIn <industry/retail> ;",
        "mlkg:employedIn <industry/retail> , <industry/retail2> ;",
    )
    result = run(cli_runner, "validate")
    assert_clean_failure(result)
    assert (
        "<https://w3id.org/mlkg/role/machine-learning-engineer> mlkg:employedIn: states a fact "
        "that no "
        "rdf:Statement traces" in result.output
    )
    assert "mlkg:employedIn must point at an industry" in result.output


def test_validate_reports_a_span_problem(cli_runner: CliRunner, mini: Settings) -> None:
    _edit(
        mini, "mlkg:evidence d2:c126-132 .", "mlkg:evidence d2:c134-138 ."
    )  # "Java", not "Python"
    result = run(cli_runner, "validate")
    assert_clean_failure(result)
    assert (
        "data/doc-002: <https://w3id.org/mlkg/skill/python> mlkg:evidence: span text does not "
        "state "
        "'Python' (value: https://w3id.org/mlkg/source/002_c3e35048ae458ff3/c134-138)"
    ) in result.output


def test_validate_malformed_turtle_gives_file_and_line(
    cli_runner: CliRunner, mini: Settings
) -> None:
    _edit(
        mini,
        "<industry/retail> a mlkg:Industry ;",
        "<industry/retail> a mlkg:Industry ;\n    rdfs:label ;",
    )
    result = run(cli_runner, "validate")
    assert_clean_failure(result)
    assert re.search(
        rf"Error: {re.escape(str(mini.data_dirs[0] / 'doc-002.ttl'))}:\d+: malformed Turtle",
        result.output,
    )


def test_validate_without_the_documents(
    cli_runner: CliRunner, mini: Settings, tmp_path: Path
) -> None:
    nowhere = str(tmp_path / "nowhere")
    result = run(cli_runner, "--sources", nowhere, "validate")
    assert_clean_failure(result)
    assert f"source document '{DOC2}' not found in '{nowhere}'; set MLKG_SOURCES" in result.output
    skipped = run(cli_runner, "--sources", nowhere, "validate", "--no-sources")
    assert skipped.exit_code == 0, skipped.output
    assert "every span checked" not in skipped.output


# ---------------------------------------------------------------- build and stats


def test_build_prints_the_store_and_swaps_it_in(cli_runner: CliRunner, mini: Settings) -> None:
    result = run(cli_runner, "build")
    assert result.exit_code == 0, result.output
    match = re.search(
        r"built store ([0-9a-f]{16}): (\d+) triples, 3 named graphs -> (.+)$", result.output, re.M
    )
    assert match and match.group(3) == str(mini.store_link)
    assert current_store(mini).name == match.group(1)


def test_failing_build_exits_1_and_keeps_the_store(cli_runner: CliRunner, mini: Settings) -> None:
    assert run(cli_runner, "build").exit_code == 0
    before = current_store(mini)
    _edit(mini, 'schema:currency "USD" ;', 'schema:currency "US dollars" ;')
    result = run(cli_runner, "build")
    assert_clean_failure(result)
    assert "Error: 1 violation(s); the previous store is unchanged:" in result.output
    assert f"<{SALARY}> schema:currency" in result.output
    assert current_store(mini) == before


def test_stats_counts_entities_per_class(cli_runner: CliRunner, mini: Settings) -> None:
    result = run(cli_runner, "stats")
    assert result.exit_code == 0, result.output
    counts = {
        m.group(2): int(m.group(1))
        for m in re.finditer(r"^\s*(\d+)\s+(.+?) \(", result.output, re.M)
    }
    assert counts["salary figure"] == 1
    assert counts["growth statistic"] == 1
    assert counts["programming language"] == 1
    assert counts["rdf:Statement"] == 3


# ---------------------------------------------------------------- locate and spans


def test_locate_prints_offsets_and_span(cli_runner: CliRunner) -> None:
    require_sources(Settings())
    result = run(cli_runner, "locate", DOC2, "Python")
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        == "126 132 <https://w3id.org/mlkg/source/002_c3e35048ae458ff3/c126-132>"
    )
    second = run(cli_runner, "locate", DOC2, "machine learning engineer", "--nth", "2")
    first = run(cli_runner, "locate", DOC2, "machine learning engineer")
    assert int(second.output.split()[0]) > int(first.output.split()[0])
    after = run(cli_runner, "locate", DOC2, "Python", "--after", "127")
    assert_clean_failure(after)


def test_locate_errors_are_messages(cli_runner: CliRunner, tmp_path: Path) -> None:
    require_sources(Settings())
    absent = run(cli_runner, "locate", DOC2, "Haskell")
    assert_clean_failure(absent)
    assert "Error: 'Haskell' does not occur" in absent.output
    unknown = run(cli_runner, "locate", "nope.txt", "Python")
    assert_clean_failure(unknown)
    outside = run(cli_runner, "locate", "/etc/passwd", "root")  # a path, not a document's name
    assert_clean_failure(outside)
    assert "is not a source document's file name" in outside.output
    assert "source document 'nope.txt' not found" in unknown.output


def test_spans_reports_coverage(cli_runner: CliRunner, mini: Settings) -> None:
    result = run(cli_runner, "spans", "--uncovered")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"source/002_c3e35048ae458ff3: \d+/\d+ content lines covered \(\d+%\)", result.output
    )
    assert re.search(r"^  line \d+: ", result.output, re.M)


def test_spans_lists_problems_and_exits_1(cli_runner: CliRunner, mini: Settings) -> None:
    _edit(mini, "mlkg:evidence d2:c994-1000 .", "mlkg:evidence d2:c2990-3000 .")
    result = run(cli_runner, "spans")
    assert_clean_failure(result)
    assert (
        "https://w3id.org/mlkg/industry/retail  "
        "https://w3id.org/mlkg/source/002_c3e35048ae458ff3/c2990-3000: "
        "offsets 2990-3000 lie outside the document (2968 characters)"
    ) in result.output
    assert "Error: 1 span problem(s)" in result.output


# ---------------------------------------------------------------- the installed command


def test_installed_command_exit_codes(tmp_path: Path) -> None:
    """`mlkg validate` as a process: 1 and a one-line error for malformed Turtle, 0 once fixed."""
    sources = require_sources(Settings())
    home = tmp_path / "home"
    home.mkdir()
    for name in ("ontology", "queries"):
        (home / name).symlink_to(ROOT / name)
    settings = mini_settings(home)
    data = settings.data_dirs[0]
    good = (data / "doc-002.ttl").read_text(encoding="utf-8")
    (data / "doc-002.ttl").write_text(
        good.replace("<org/forbes> a", "<org/forbes> a a", 1), encoding="utf-8"
    )
    env = {
        **os.environ,
        "MLKG_HOME": str(home),
        "MLKG_SOURCES": str(sources),
        "MLKG_VAR": str(home / "var"),
    }
    mlkg_bin = str(Path(sys.executable).with_name("mlkg"))
    bad = subprocess.run(
        [mlkg_bin, "validate"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert bad.returncode == 1
    assert re.search(r"Error: .*doc-002\.ttl:\d+: malformed Turtle", bad.stderr)
    assert "Traceback" not in bad.stderr + bad.stdout
    (data / "doc-002.ttl").write_text(good, encoding="utf-8")
    ok = subprocess.run(
        [mlkg_bin, "validate"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "conforms:" in ok.stdout
