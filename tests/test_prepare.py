"""mlkg.prepare: the entity index and every dump of the store in service, written ahead of requests
by a process of its own that `mlkg serve` starts and stops."""

from __future__ import annotations

import os
import time

from exports_helpers import FIXTURE, build_store

from mlkg import _procs as procs
from mlkg import exports, prepare
from mlkg.build import current_store
from mlkg.search import index_file_name, read_index_file


def _expected_files(settings, meta) -> set:
    dumps = {
        exports.dump_path(settings, meta, e, compressed=c)
        for e in exports.EXPORTS
        for c in (False, True)
    }
    store_dir = current_store(settings)
    return dumps | {
        settings.var_dir / "cache" / store_dir.name / index_file_name(settings.base_iri)
    }


def test_prepare_writes_the_index_and_every_dump(tmp_path):
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    prepare.prepare(settings, current_store(settings))
    expected = _expected_files(settings, meta)
    assert all(path.stat().st_size > 0 for path in expected) and len(expected) == 13
    index = next(p for p in expected if p.suffix == ".json")
    assert len(read_index_file(index)) > 10
    assert list((tmp_path / "var").rglob("*.tmp")) == []


def test_the_preparing_process_writes_them_at_a_lower_priority_and_stops_when_told(tmp_path):
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    child = prepare.start(settings)
    assert child is not None
    try:
        lowered = listed = False  # seen at the lower CPU priority while at work (13 files)
        while child.returncode is None and not (lowered and listed):
            listed = listed or child.pid in prepare.running(os.getpid())
            try:
                lowered = os.getpriority(os.PRIO_PROCESS, child.pid) == prepare.NICENESS
            except ProcessLookupError:
                break
            time.sleep(0.01)
        assert lowered and listed
        # collected when it ends, with no wait() of ours: no zombie is left
        deadline = time.monotonic() + 60
        while procs.alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not procs.alive(child.pid)
        assert child.wait(timeout=5) == 0
        assert prepare.running(os.getpid()) == []
        assert all(path.exists() for path in _expected_files(settings, meta))
    finally:
        prepare.stop(child)
    assert child.poll() is not None


def test_a_remote_store_is_not_prepared(tmp_path):
    settings, _ = build_store(tmp_path / "var", (FIXTURE,))
    assert prepare.start(settings.with_overrides(store_url="http://127.0.0.1:9/sparql")) is None
