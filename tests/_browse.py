"""The browsing tests' fixture graph (tests/data/browse): built like `mlkg build` builds (spans expanded,
blank nodes skolemized) but without validation, and served by an app with an in-process backend."""

from __future__ import annotations

from pathlib import Path

from mlkg.backends import EmbeddedBackend
from mlkg.build import current_store, skolemize, write_store
from mlkg.config import Settings
from mlkg.store import load_dataset

ROOT = Path(__file__).resolve().parents[1]
BROWSE = ROOT / "tests" / "data" / "browse"


def browse_settings(var_dir: Path, *, sources: Path | None = None) -> Settings:
    """Settings over the fixture graph, its store in `var_dir`, its source texts in `sources`."""
    return Settings().with_overrides(
        var_dir=var_dir, data_dirs=(BROWSE,), sources_dir=sources or BROWSE / "sources"
    )


def build_browse_store(settings: Settings) -> Path:
    """Write the fixture graph's store and return its folder."""
    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    write_store(settings, skolemize(dataset))
    return current_store(settings)


def make_browse_app(var_dir: Path, *, sources: Path | None = None):
    """A Flask app over the fixture graph."""
    from mlkg.web import create_app

    settings = browse_settings(var_dir, sources=sources)
    store = build_browse_store(settings)
    return create_app({"TESTING": True, "SETTINGS": settings, "BACKEND": EmbeddedBackend(store)})
