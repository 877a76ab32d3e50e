"""Shared fixtures: settings on a private var/ folder, a store built from the real data, the app and clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mlkg.config import Settings

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the real project, writing its store into a temporary var/ folder."""
    return Settings().with_overrides(var_dir=tmp_path_factory.mktemp("var"))


@pytest.fixture(scope="session")
def built(settings: Settings) -> Settings:
    """The real data validated and built into the session's store (span check included)."""
    from mlkg.build import build

    build(settings, check_sources=True)
    return settings


@pytest.fixture(scope="session")
def app(built: Settings):
    """The app over the session's built store."""
    from mlkg.web import create_app

    return create_app({"TESTING": True, "SETTINGS": built})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def cli_runner() -> CliRunner:
    return CliRunner()
