"""A cache of rendered pages for the store version in service: entity pages, canned-query answers
and search results depend only on the request and the store, so one rendering serves every repeat.

Keyed by (store version, host, request-target as sent, Accept, Accept-Encoding, Accept-Language);
only GET (and HEAD, answered as the GET) 200 answers of the `entities`, `queries` and `search`
blueprints, at most 1 MB each and `MLKG_PAGE_CACHE_MB` (default 32; 0 switches it off) in all.
Every cached answer carries an ETag, so a client that sends If-None-Match gets 304. A new store
version starts an empty cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from flask import Flask, Response, current_app, g, request

CACHED_BLUEPRINTS = frozenset({"entities", "queries", "search"})
MAX_ITEM = 1024 * 1024


class PageCache:
    """A bounded LRU of (status, headers, body) by key, for one store version at a time."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.version = max_bytes, None
        self._items: OrderedDict[tuple, tuple[bytes, list[tuple[str, str]]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, version: str, key: tuple) -> tuple[bytes, list[tuple[str, str]]] | None:
        with self._lock:
            if version != self.version:
                self._items.clear()
                self._size, self.version = 0, version
                return None
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return found

    def put(self, version: str, key: tuple, body: bytes, headers: list[tuple[str, str]]) -> None:
        if len(body) > MAX_ITEM:
            return
        with self._lock:
            if version != self.version:
                return
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old[0])
            self._items[key] = (body, headers)
            self._size += len(body)
            while self._size > self.max_bytes and self._items:
                _, (dropped, _) = self._items.popitem(last=False)
                self._size -= len(dropped)


def _version() -> str | None:
    backend = current_app.extensions["mlkg"].get("backend")
    info = getattr(backend, "info", None)
    version = info().get("store") if callable(info) else None
    return str(version) if version else None


def _key() -> tuple:
    headers = request.headers
    # the request-target as sent when the server gives it: an entity's IRI keeps %2F and the like
    # escaped (mlkg.web.entities.request_iri), which request.path has decoded
    target = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or request.full_path
    return (request.host_url, target, headers.get("Accept", ""), headers.get("Accept-Encoding", ""),
            headers.get("Accept-Language", ""))


def install(app: Flask) -> None:
    """Add the cache to `app` (before_request answers a hit, after_request stores a miss)."""
    megabytes = int(os.environ.get("MLKG_PAGE_CACHE_MB") or 32)
    if megabytes <= 0 or app.config.get("TESTING") and not app.config.get("PAGE_CACHE"):
        return  # off; tests turn it on with PAGE_CACHE=True, so that other tests see fresh renders
    cache = PageCache(megabytes * 1024 * 1024)
    app.extensions["mlkg"]["page_cache"] = cache

    @app.before_request
    def _answer_from_cache():
        if request.method not in ("GET", "HEAD") or request.blueprint not in CACHED_BLUEPRINTS:
            return None
        version = _version()
        if version is None:
            return None
        g.page_cache = (version, _key())
        found = cache.get(*g.page_cache)
        if found is None:
            return None
        g.page_cache = None  # a hit: nothing to store afterwards
        body, headers = found
        response = Response(body, headers=headers)
        return response.make_conditional(request)

    @app.after_request
    def _store_in_cache(response: Response) -> Response:
        pending = g.pop("page_cache", None)
        if pending is None or response.status_code != 200 or response.is_streamed:
            return response
        response.add_etag()
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        cache.put(*pending, body, headers)
        return response.make_conditional(request)
