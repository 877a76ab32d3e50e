"""Settings: paths, base IRI and limits, from defaults, the environment and explicit overrides."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from mlkg.errors import ConfigError
from mlkg.namespaces import BASE


def _env_text(name: str, default: str) -> str:
    """The value of environment variable `name`, `default` when unset or empty (as for numbers:
    an empty MLKG_VAR is not the current folder)."""
    raw = os.environ.get(name)
    return raw if raw and raw.strip() else default


PROJECT_ROOT = Path(_env_text("MLKG_HOME", str(Path(__file__).resolve().parents[2])))


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_number(name: str, default, kind, what: str):
    """The value of environment variable `name` as `kind` (`default` when unset or empty).

    :raises ConfigError: naming the variable and its value when it is not `what`.
    """
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or math.isnan(value) or math.isinf(value):
        raise ConfigError(f"{name}={raw!r} is not {what}; unset it or give {what}")
    return value


#: (field, floor, whether the floor itself is refused, environment variable) of each limit
#: `Settings` checks.
_LIMITS = (
    ("query_timeout", 0, True, "MLKG_QUERY_TIMEOUT"),
    ("result_limit", 1, False, "MLKG_RESULT_LIMIT"),
    ("max_body", 1, False, "MLKG_MAX_BODY"),
    ("workers", 1, False, "MLKG_WORKERS"),
    ("threads", 1, False, "MLKG_THREADS"),
    ("inline_rows", 0, False, "MLKG_INLINE_ROWS"),
    ("answer_cache_mb", 0, False, "MLKG_ANSWER_CACHE_MB"),
    ("worker_memory_mb", 0, False, "MLKG_WORKER_MEMORY_MB"),
)


@dataclass(frozen=True)
class Settings:
    """Where mlkg reads and writes, and the limits it serves under."""

    root: Path = PROJECT_ROOT
    ontology_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "ontology")
    data_dirs: tuple[Path, ...] = field(default_factory=lambda: (PROJECT_ROOT / "data",))
    queries_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "queries")
    sources_dir: Path = field(
        default_factory=lambda: Path(
            _env_text("MLKG_SOURCES", str(PROJECT_ROOT.parent / "shared" / "seeds"))
        ).resolve()
    )
    var_dir: Path = field(
        default_factory=lambda: Path(_env_text("MLKG_VAR", str(PROJECT_ROOT / "var"))).resolve()
    )
    base_iri: str = field(default_factory=lambda: _env_text("MLKG_BASE", BASE))
    store_url: str | None = field(default_factory=lambda: os.environ.get("MLKG_STORE_URL") or None)
    query_timeout: float = field(default_factory=lambda: _env_float("MLKG_QUERY_TIMEOUT", 10.0))
    result_limit: int = field(default_factory=lambda: _env_int("MLKG_RESULT_LIMIT", 10000))
    max_body: int = field(default_factory=lambda: _env_int("MLKG_MAX_BODY", 1_000_000))
    workers: int = field(default_factory=lambda: _env_int("MLKG_WORKERS", 2))
    threads: int = field(default_factory=lambda: _env_int("MLKG_THREADS", 8))
    #: Single-pattern queries that read at most this many rows run in the web process, not in a
    #: worker (see `mlkg.bounded`); 0 sends every query to a worker.
    inline_rows: int = field(default_factory=lambda: _env_int("MLKG_INLINE_ROWS", 10000))
    #: Answers kept per server process for the store version, in MiB (0: no answer cache).
    answer_cache_mb: int = field(default_factory=lambda: _env_int("MLKG_ANSWER_CACHE_MB", 64))
    #: How much heap each query worker may use, in MiB (0: no limit): a query needing more is
    #: stopped (a process that had run the benchmark's heavy queries over 1M triples held 143 MB).
    worker_memory_mb: int = field(default_factory=lambda: _env_int("MLKG_WORKER_MEMORY_MB", 1024))
    #: With several server processes, one that holds more than its share of the keep-alive
    #: connections asks clients to reconnect (`mlkg.web.reconnect`); 0 turns that off.
    spread_connections: bool = field(
        default_factory=lambda: _env_int("MLKG_SPREAD_CONNECTIONS", 1) != 0
    )

    def __post_init__(self) -> None:
        """Refuse limits that cannot work, naming the setting (a server would start and then fail
        every query, or crash in a loop, with them)."""
        for name, floor, strict, variable in _LIMITS:
            value = getattr(self, name)
            if value is not None and not (value > floor if strict else value >= floor):  # NaN too
                wanted = f"more than {floor}" if strict else f"at least {floor}"
                raise ConfigError(
                    f"{name.replace('_', ' ')} must be {wanted}, not {value!r} "
                    f"(set by {variable} or the matching option)"
                )

    @property
    def store_link(self) -> Path:
        """The symlink that points at the current built store."""
        return self.var_dir / "current"

    def with_overrides(self, **overrides: object) -> Settings:
        """Return a copy with the given fields replaced (unknown names raise TypeError)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **overrides)  # type: ignore[arg-type]
