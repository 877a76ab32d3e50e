"""Settings from the environment: a value that is not a number is refused by the variable's name."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlkg.cli import cli
from mlkg.config import Settings
from mlkg.errors import ConfigError


def test_numbers_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("MLKG_QUERY_TIMEOUT", "2.5")
    monkeypatch.setenv("MLKG_WORKERS", " 3 ")
    monkeypatch.setenv("MLKG_RESULT_LIMIT", "")  # empty: the default
    settings = Settings()
    assert (settings.query_timeout, settings.workers, settings.result_limit) == (2.5, 3, 10000)


def test_an_empty_path_or_base_is_the_default_as_for_numbers(monkeypatch, tmp_path) -> None:
    """MLKG_VAR= (set but empty, as a compose file passes an unset variable on) meant the current
    folder: `mlkg build` wrote stores/, current, cache/ and docs/ wherever it was run, and
    MLKG_SOURCES= looked for the documents there; MLKG_BASE= made every IRI relative."""
    names = ("MLKG_VAR", "MLKG_SOURCES", "MLKG_BASE")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    monkeypatch.chdir(tmp_path)
    for name in names:
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert (settings.var_dir, settings.sources_dir, settings.base_iri) == (
        defaults.var_dir, defaults.sources_dir, defaults.base_iri)


@pytest.mark.parametrize(
    ("name", "value", "what"),
    [
        ("MLKG_QUERY_TIMEOUT", "ten", "a number"),
        ("MLKG_QUERY_TIMEOUT", "nan", "a number"),
        ("MLKG_WORKERS", "2.5", "a whole number"),
        ("MLKG_SPREAD_CONNECTIONS", "yes", "a whole number"),
    ],
)
def test_a_value_that_is_not_a_number_is_refused_by_name(monkeypatch, name, value, what) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        Settings()
    assert caught.value.detail == f"{name}={value!r} is not {what}; unset it or give {what}"


def test_the_cli_says_which_setting_is_wrong_without_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("MLKG_MAX_BODY", "1MB")
    result = CliRunner().invoke(cli, ["queries"])
    assert result.exit_code == 1
    assert "MLKG_MAX_BODY='1MB' is not a whole number" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("MLKG_QUERY_TIMEOUT", "-1", "query timeout must be more than 0"),
        ("MLKG_QUERY_TIMEOUT", "0", "query timeout must be more than 0"),
        ("MLKG_RESULT_LIMIT", "-5", "result limit must be at least 1"),
        ("MLKG_WORKERS", "0", "workers must be at least 1"),
        ("MLKG_THREADS", "0", "threads must be at least 1"),
        ("MLKG_MAX_BODY", "0", "max body must be at least 1"),
        ("MLKG_ANSWER_CACHE_MB", "-1", "answer cache mb must be at least 0"),
        ("MLKG_WORKER_MEMORY_MB", "-1", "worker memory mb must be at least 0"),
    ],
)
def test_a_limit_that_cannot_work_is_refused_by_name(monkeypatch, name, value, words) -> None:
    """Before, `mlkg serve` started with such a value and then failed every query (500) or
    crashed its server processes in a loop."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        Settings()
    assert words in caught.value.detail and name in caught.value.detail


@pytest.mark.parametrize(
    "args",
    [("--timeout", "-1"), ("--result-limit", "-5"), ("--workers", "0"), ("--processes", "0"),
     ("--threads", "0"), ("--max-body", "0"), ("--port", "-1"), ("--port", "70000")],
)
def test_serve_refuses_an_option_that_cannot_work_before_it_starts(args) -> None:
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2
    assert f"Invalid value for '{args[0]}'" in result.output and "Traceback" not in result.output
