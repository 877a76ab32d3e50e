"""The full check of a built store: damage in any of its indexes is found (the start check misses
it), the finding is recorded and shared, a writer is stopped once the store is found corrupt, and
`mlkg check-store` says so."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from _live import build_from_files, damage
from click.testing import CliRunner

from mlkg import integrity
from mlkg.cli import cli
from mlkg.config import Settings
from mlkg.errors import StoreCorruptError, StoreError
from mlkg.serve import check_store

TESTS = Path(__file__).resolve().parent
FIXTURE = TESTS / "data" / "sparql" / "fixture.ttl"
GRAPH = "https://w3id.org/mlkg/graph/test/fixture"


@pytest.fixture()
def var(tmp_path: Path) -> Path:
    build_from_files(tmp_path / "var", {GRAPH: FIXTURE})
    return tmp_path / "var"


def test_damage_in_any_index_is_found_naming_its_file(var: Path) -> None:
    store = (var / "current").resolve()
    tables = sorted(store.glob("*.sst"))
    # one per column family: default, id2str, graphs and the nine quad indexes
    assert len(tables) == 12
    passed_start_check = 0
    for table in tables:
        original = damage(table)
        try:
            try:
                check_store(var / "current")
                passed_start_check += 1
            except StoreError:
                pass  # the table opening reads (the default column family)
            with pytest.raises(StoreCorruptError, match=f"corrupt: Corruption: .*{table.name}"):
                integrity.scan(store)
        finally:
            table.write_bytes(original)
    assert passed_start_check >= 11  # what the scan is for
    assert integrity.scan(store) > 0


def test_a_finding_is_recorded_and_shared_with_who_asked_before_it_ended(var: Path) -> None:
    store = (var / "current").resolve()
    assert integrity.recorded(var, store) is None
    first = integrity.check(store, var)
    assert first.whole and first.quads and integrity.recorded(var, store) == first
    assert integrity.check(store, var, since=first.checked_at) == first  # no second scan
    later = integrity.check(store, var, since=time.time())
    assert later.checked_at > first.checked_at
    damage(max(store.glob("*.sst")))
    found = integrity.check(store, var)
    assert not found.whole and "is corrupt" in found.problem and "mlkg build" in found.problem
    assert integrity.Watch(var, store).problem() == found.problem


def test_a_writer_is_stopped_once_the_store_is_found_corrupt(var: Path) -> None:
    store = (var / "current").resolve()
    outcome: list[BaseException] = []

    def write() -> None:  # a child whose query would never end on a damaged store
        try:
            integrity.run_guarded(var, store, "time:sleep", (60,))
        except BaseException as exc:  # noqa: BLE001  (what the test looks at)
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    integrity.Watch(var, store).report(
        "the store at x is corrupt: a damaged block; run `mlkg build`"
    )
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert isinstance(outcome[0], StoreCorruptError) and "a damaged block" in outcome[0].detail
    with pytest.raises(StoreCorruptError):  # known corrupt: not started at all
        integrity.run_guarded(var, store, "time:sleep", (60,))


def test_check_store_command(var: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlkg.cli.Settings", lambda: Settings().with_overrides(var_dir=var))
    result = CliRunner().invoke(cli, ["check-store"])
    assert result.exit_code == 0 and "reads back whole" in result.output
    store = (var / "current").resolve()
    damage(max(store.glob("*.sst")))
    result = CliRunner().invoke(cli, ["check-store"])
    assert (
        result.exit_code == 1 and "is corrupt" in result.output and "Traceback" not in result.output
    )
    assert not integrity.recorded(var, store).whole  # a running server sees it


def test_check_store_that_cannot_check_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No store, or one that will not open, is not a finding about the data: exit 2 (a damaged
    store is 1), so a script can tell "restore from backup" from "build first"."""
    empty = tmp_path / "var"
    empty.mkdir()
    monkeypatch.setattr("mlkg.cli.Settings", lambda: Settings().with_overrides(var_dir=empty))
    result = CliRunner().invoke(cli, ["check-store"])
    assert result.exit_code == 2, result.output
    assert "cannot check the store" in result.output and "mlkg build" in result.output
    assert "Traceback" not in result.output
    not_a_store = tmp_path / "stores" / "x"
    not_a_store.mkdir(parents=True)
    (not_a_store / "CURRENT").write_text("MANIFEST-000099\n")  # names a manifest that is not there
    (empty / "current").symlink_to(not_a_store)
    result = CliRunner().invoke(cli, ["check-store"])
    assert result.exit_code == 2, result.output
    assert "cannot check the store" in result.output and "Traceback" not in result.output


def test_an_unwritable_cache_folder_leaves_the_finding_known_though_unrecorded(var: Path) -> None:
    """With var/cache not writable, the check used to end in a traceback (`mlkg check-store`, and
    the background check at start), and damage a query came upon was forgotten at once."""
    store = (var / "current").resolve()
    if (var / "cache").exists():
        import shutil

        shutil.rmtree(var / "cache")
    (var / "cache").write_text("a file where the cache folder would be")
    assert integrity.check(store, var).whole
    damage(max(store.glob("*.sst"), key=lambda p: p.stat().st_size))
    assert not integrity.check(store, var).whole
    watch = integrity.Watch(var, store)
    with pytest.raises(OSError):
        watch.report("the store is corrupt: a block said so")
    assert watch.problem() == "the store is corrupt: a block said so"  # kept in this process
