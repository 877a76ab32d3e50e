"""`mlkg query`, `mlkg queries` and the query check in `mlkg validate`."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mlkg.cli import cli

AWS = "https://w3id.org/mlkg/certification/aws-certified-machine-learning-specialty"


@pytest.fixture()
def env(real_store) -> dict[str, str]:
    return {"MLKG_VAR": str(real_store.var_dir)}


def test_queries_lists_the_catalogue(cli_runner, env):
    result = cli_runner.invoke(cli, ["queries"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) >= 25
    assert any(
        line.startswith("certifications_under_price ")
        and "[billing:iri?, maxPrice:number?]" in line
        for line in lines
    )
    assert any(line.startswith("search ") and "[text:literal]" in line for line in lines)


def test_query_by_name_as_a_table(cli_runner, env):
    result = cli_runner.invoke(
        cli, ["query", "exam_facts", "--param", f"certification={AWS}"], env=env
    )
    assert result.exit_code == 0, result.output
    header, rule, row, footer = result.output.splitlines()
    assert header.split()[:4] == ["certification", "certificationLabel", "exam", "passingScore"]
    assert set(rule) <= {"-", " "}
    assert "750" in row.split() and footer == "(1 row)"


def test_query_as_json_and_csv(cli_runner, env):
    result = cli_runner.invoke(cli, ["query", "schools_in_state", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert {r["name"] for r in body["rows"]} == {
        "University of Southern California",
        "University of California-Irvine",
    }
    result = cli_runner.invoke(
        cli, ["query", "certifications_under_price", "-p", "maxPrice=150", "-f", "csv"], env=env
    )
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert sorted(float(r["price"]) for r in rows) == [0, 109]


def test_query_from_a_file(cli_runner, env, tmp_path):
    path = tmp_path / "Ad hoc.rq"
    path.write_text(
        "PREFIX mlkg: <https://w3id.org/mlkg/def/>\n"
        "SELECT (COUNT(*) AS ?n) WHERE { ?d a mlkg:SourceDocument .\n"
        "  FILTER(!BOUND(?__not_iri) || ?d != ?__not_iri) }\n"
    )
    result = cli_runner.invoke(cli, ["query", str(path), "-f", "csv"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["n", "3"]
    one = "not=https://w3id.org/mlkg/source/002_c3e35048ae458ff3"
    result = cli_runner.invoke(cli, ["query", str(path), "-f", "csv", "-p", one], env=env)
    assert result.output.splitlines() == ["n", "2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "nope"], "no canned query called 'nope'"),
        (["query", "missing.rq"], "no such query file"),
        (["query", "search"], "Missing required parameter 'text'"),
        (
            ["query", "schools_in_state", "-p", "state=California"],
            "Parameter 'state' must be an absolute IRI",
        ),
        (["query", "schools", "-p", "nonsense"], "--param takes NAME=VALUE"),
        # were ignored without a word: page 1, as a table
        (["query", "role_profile", "-p", "page=2"], "use --page"),
        (["query", "schools", "-p", "format=csv"], "use --format"),
    ],
)
def test_query_errors_are_clean_messages(cli_runner, env, args, message):
    result = cli_runner.invoke(cli, args, env=env)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_every_format_ends_its_output_with_a_newline(cli_runner, env):
    """JSON, SPARQL JSON and XML ended without one (the shell's prompt went on the last line)."""
    for fmt in ("table", "json", "csv", "tsv", "srj", "srx"):
        result = cli_runner.invoke(cli, ["query", "schools", "-f", fmt], env=env)
        assert result.exit_code == 0 and result.output.endswith("\n"), fmt
        assert not result.output.endswith("\n\n"), fmt


def test_an_ask_query_as_csv_is_refused_naming_the_formats_the_cli_has(cli_runner, env, tmp_path):
    """The refusal listed 'html', which -f does not take."""
    path = tmp_path / "ask.rq"
    path.write_text("ASK { ?s ?p ?o }\n")
    result = cli_runner.invoke(cli, ["query", str(path), "-f", "csv"], env=env)
    assert result.exit_code == 2 and "table, json, srj or srx" in result.output
    assert "html" not in result.output
    result = cli_runner.invoke(cli, ["query", str(path), "-f", "srj"], env=env)
    assert result.exit_code == 0 and json.loads(result.output)["boolean"] is True


def test_a_page_past_the_limit_is_refused_as_an_option(cli_runner, env):
    """The engine refused the OFFSET of --page 10**20 as "Malformed query" (a message about query
    text the user never wrote); the web refuses pages past MAX_PAGE, and so does the option."""
    result = cli_runner.invoke(cli, ["query", "schools", "--page", str(10**20)], env=env)
    assert result.exit_code == 2
    assert "--page" in result.output and "1000000" in result.output
    assert "Malformed" not in result.output and "Traceback" not in result.output


def test_validate_stops_at_a_broken_query_file(cli_runner, tmp_path, monkeypatch):
    from mlkg.config import Settings

    (tmp_path / "broken.rq").write_text("#+ summary: ok\nSELECT * WHERE {\n  ?s ?p ?_x_wibble\n}\n")
    monkeypatch.setattr(
        "mlkg.cli.Settings", lambda: Settings().with_overrides(queries_dir=tmp_path)
    )
    result = cli_runner.invoke(cli, ["validate", "--no-sources"])
    assert result.exit_code == 1
    assert "broken.rq:3: parameter ?_x_wibble: unknown parameter type 'wibble'" in result.output
