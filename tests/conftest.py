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


@pytest.fixture(scope="session")
def live_server(built: Settings):
    """The REAL production server (`mlkg serve --port 0`, granian processes and query workers) on
    127.0.0.1 over the session's built store; yields its base URL ("http://127.0.0.1:PORT")."""
    from _live import LiveServer

    with LiveServer(built.var_dir) as server:
        yield server.url


@pytest.fixture(scope="session")
def real_store(built: Settings) -> Settings:
    """The real data, validated and built (the session's one build), for tests of queries over it."""
    return built


@pytest.fixture(scope="session")
def queries_app(real_store: Settings):
    """The app over `real_store`, answering through an in-process backend (fast, deterministic)."""
    from mlkg.backends import EmbeddedBackend
    from mlkg.build import current_store
    from mlkg.web import create_app

    return create_app({"TESTING": True, "SETTINGS": real_store,
                       "BACKEND": EmbeddedBackend(current_store(real_store))})


@pytest.fixture(scope="session")
def browse_app(tmp_path_factory: pytest.TempPathFactory):
    """An app over tests/data/browse: hostile literals, unusual IRIs, a source document with spans."""
    from _browse import make_browse_app

    return make_browse_app(tmp_path_factory.mktemp("browse-var"))


@pytest.fixture()
def browse_client(browse_app):
    return browse_app.test_client()
