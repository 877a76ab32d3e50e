"""Hot reload: swap a rebuilt store into a running app without failing a request.

`StoreWatcher` wraps the app's WSGI callable. At most once a second (and at once on `check()`, which
`mlkg serve` calls on SIGHUP) it reads where `var/current` points. When that changed, a background
thread has every block of the new store read (`mlkg.integrity`, in a child process: ~25-35 s at 1M
triples here, while the old store serves; server processes reloading together share one scan),
opens a backend over it (its own query workers), asks it one query and loads the entity snapshot;
only then is `state["backend"]` replaced, in one assignment. Requests that already hold the old
backend finish on it; it is closed after a grace period longer than any query may run. A new store
that is corrupt or cannot be opened is logged with the reason, and the old one keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger("mlkg.reload")

#: How often (seconds) a request may look at `var/current`.
CHECK_INTERVAL = 1.0
#: Caches in the app state that belong to one store version (dropped on a swap).
VERSIONED_KEYS = ("sparql_sd_cache", "queries_choices", "ui_class_rows")


class StoreWatcher:
    """WSGI middleware that notices a new `var/current` and swaps the backend (see the module doc)."""

    def __init__(self, wsgi_app, app: Flask, *, interval: float = CHECK_INTERVAL) -> None:
        self.wsgi_app, self.app, self.interval = wsgi_app, app, interval
        self.state: dict[str, Any] = app.extensions["mlkg"]
        self.settings = self.state["settings"]
        self._lock = threading.Lock()
        self._next = time.monotonic() + interval
        self._busy = False
        backend = self.state.get("backend")
        self.serving = str(getattr(backend, "store_dir", "") or self._target() or "")
        self.failed: str | None = None  # a target that could not be opened (not retried until it changes)
        self.swaps = 0

    def __call__(self, environ, start_response):
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            self.check()
        return self.wsgi_app(environ, start_response)

    def _target(self) -> str | None:
        try:
            return os.path.realpath(self.settings.store_link) if self.settings.store_link.exists() else None
        except OSError:
            return None

    def check(self, *, force: bool = False) -> None:
        """Start a swap in the background when `var/current` points somewhere new (never blocks)."""
        target = self._target()
        if target is None or target == self.serving or (target == self.failed and not force):
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._busy:
                return
            self._busy = True
        finally:
            self._lock.release()
        threading.Thread(target=self._swap, args=(target,), name="mlkg-reload", daemon=True).start()

    def _swap(self, target: str) -> None:
        try:
            self._open_and_swap(target)
        finally:
            self._busy = False

    def _open_and_swap(self, target: str) -> None:
        from mlkg.backends import PooledBackend
        from mlkg.errors import MlkgError

        settings = self.settings
        old = self.state.get("backend")
        started = time.monotonic()
        try:
            problem = self._damage(target)
        except OSError as exc:  # the store would not open (the scan's message says why)
            problem = f"cannot open the new store at {target} ({exc})"
        if problem is not None:
            self.failed = target
            log.error("reload failed: %s; still serving %s", problem, self.serving)
            return
        try:
            fresh = PooledBackend.for_settings(
                Path(target),
                settings,
                workers=getattr(getattr(old, "pool", None), "size", None),
            )
        except (MlkgError, OSError) as exc:
            self.failed = target
            log.error("reload failed: cannot open the new store at %s (%s); still serving %s",
                      target, getattr(exc, "detail", exc), self.serving)
            return
        try:
            fresh.run("ASK {}", result_format="json", timeout=settings.query_timeout)
            fresh.graphs()
            snap = self._snapshot(fresh)
        except Exception as exc:  # noqa: BLE001  (any failure: keep the old store)
            fresh.close()
            self.failed = target
            log.error("reload failed: the new store at %s does not answer (%s); still serving %s",
                      target, getattr(exc, "detail", exc), self.serving)
            return
        state = self.state
        for key in VERSIONED_KEYS:
            state.pop(key, None)
        if snap is not None:
            state["snapshot"] = snap
        state["backend"] = fresh  # the swap: every request from here on uses the new store
        state["health"] = fresh.info
        previous, self.serving, self.failed = self.serving, target, None
        self.swaps += 1
        log.info("reloaded: now serving %s (was %s; ready in %.2f s)", target, previous,
                 time.monotonic() - started)
        if old is not None and hasattr(old, "close"):
            grace = 2 * (settings.query_timeout or 10) + 5  # a request may wait for a worker, then run
            timer = threading.Timer(grace, old.close)
            timer.daemon = True
            timer.start()

    def _damage(self, target: str) -> str | None:
        """Why the store at `target` is corrupt (None: every block read back), found by a full
        scan in a child process (the scan holds the interpreter lock for seconds at a time).

        :raises OSError: when it cannot be read for another reason (it will not open).
        """
        from mlkg import filecache, integrity

        var_dir, asked = self.settings.var_dir, time.time()
        job = (Path(target), var_dir, asked)
        limit = filecache.per_build_limit(self.settings.query_timeout)
        filecache.run_elsewhere("mlkg.integrity:check", job, timeout=limit)
        found = integrity.recorded(var_dir, Path(target))
        if found is None:
            raise OSError(f"the check of {target} recorded nothing")
        return found.problem

    def _snapshot(self, backend):
        """The entity snapshot of the new store, loaded before the swap (None if that module is absent)."""
        try:
            from mlkg.snapshot import load_snapshot
            from mlkg.web.entities import store_version
        except ImportError:
            return None
        settings = self.settings
        return load_snapshot(
            backend,
            version=store_version(backend),
            base=settings.base_iri,
            sources_dir=settings.sources_dir,
            timeout=settings.query_timeout,
            var_dir=settings.var_dir,
        )


def install(app: Flask, *, interval: float = CHECK_INTERVAL) -> StoreWatcher:
    """Wrap `app` with a StoreWatcher (outermost, so /sparql's fast path is covered too)."""
    watcher = StoreWatcher(app.wsgi_app, app, interval=interval)
    app.wsgi_app = watcher  # type: ignore[method-assign]
    app.extensions["mlkg"]["reload"] = watcher
    return watcher
