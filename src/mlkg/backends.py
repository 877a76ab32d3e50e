"""Where queries run: the contract every store backend meets, and the backends that meet it.

Contract: ``backend.run(query, result_format=..., substitutions=..., timeout=...) -> RunResult``,
plus optional ``default_graph``/``named_graphs`` (the protocol's dataset) and ``limit`` (rows or
triples; default the backend's cap). `result_format` is a name from `mlkg.formats.FORMATS` suited to
the query form; `substitutions` binds variables (without "?") to rdflib terms — values are bound as
RDF terms, never spliced into query text by the embedded backends.

- `PooledBackend` (the default): the built pyoxigraph store, queried in worker processes that are
  killed at the time limit (`mlkg.workers`), with a cache of answers for the store version.
- `EmbeddedBackend`: the same store queried in this process (no time limit; for tools and tests).
- `RemoteBackend`: any SPARQL 1.1 endpoint over HTTP (Oxigraph server, Fuseki, ...).

Every backend also answers `graphs()` (named graph IRI -> triples), `info()` (for /health) and `close()`.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NoReturn, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from mlkg import engine
from mlkg import errors as errors_module
from mlkg.engine import GRAPH_FORMATS, RESULT_FORMATS, Request, RunResult, execute, finish
from mlkg.errors import (
    BadRequestError,
    MlkgError,
    QueryMemoryError,
    QueryTimeoutError,
    SparqlSyntaxError,
    StoreCorruptError,
    StoreError,
    TooManyRequestsError,
    is_corruption,
)
from mlkg.bounded import SinglePattern
from mlkg.fairuse import CLIENT
from mlkg.sparql import QueryInfo, analyze, check_dataset, syntax_error, tokenize

__all__ = [
    "GRAPH_FORMATS",
    "RESULT_FORMATS",
    "Backend",
    "EmbeddedBackend",
    "PooledBackend",
    "RemoteBackend",
    "RunResult",
    "open_backend",
    "to_ox",
    "to_tuple",
]

log = logging.getLogger("mlkg.backends")

GRAPHS_QUERY = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
DEFAULT_COUNT_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


class Backend(Protocol):
    """What the web layer needs of a store."""

    def run(
        self,
        query: str,
        *,
        result_format: str,
        substitutions: dict[str, Node] | None = None,
        timeout: float | None = None,
        default_graph: list[str] | None = None,
        named_graphs: list[str] | None = None,
        limit: int | None = None,
    ) -> RunResult: ...

    def graphs(self) -> dict[str, int]: ...

    def info(self) -> dict[str, object]: ...

    def close(self) -> None: ...


def to_ox(term: Node) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """An rdflib term as a pyoxigraph term."""
    return engine.term_from_tuple(to_tuple(term))


def to_tuple(term: Node) -> tuple:
    """An rdflib term as the tuple that travels to a worker.

    >>> to_tuple(URIRef("http://example.org/a"))
    ('iri', 'http://example.org/a')
    """
    if isinstance(term, URIRef):
        return ("iri", str(term))
    if isinstance(term, BNode):
        return ("bnode", str(term))
    if isinstance(term, Literal):
        return ("literal", str(term), str(term.datatype) if term.datatype else None, term.language)
    raise BadRequestError(f"cannot bind {term!r}: only IRIs, blank nodes and literals can be bound")


def _request(
    query: str,
    result_format: str,
    substitutions: dict[str, Node] | None,
    default_graph: list[str] | None,
    named_graphs: list[str] | None,
    limit: int | None,
    base_iri: str | None,
    graphs=None,
) -> tuple[QueryInfo | None, Request]:
    """The query's analysis and the request to run, after the safety checks every query passes
    whoever sends it.

    :raises ForbiddenQueryError: for updates, SERVICE, LOAD, and FROM graphs the store lacks
        (`graphs`, a callable returning the held graph IRIs, is only called for queries with FROM).
    """
    info = analyze(query)
    protocol_dataset = default_graph is not None or named_graphs is not None
    if info is not None and (info.from_graphs or info.from_named) and graphs is not None:
        check_dataset(info, set(graphs()), overridden=protocol_dataset)
    return info, Request(
        variable_order=info.star_order if info is not None else None,
        query=query,
        result_format=result_format,
        default_graph=tuple(default_graph) if default_graph is not None else None,
        named_graphs=tuple(named_graphs) if named_graphs is not None else None,
        substitutions=tuple(
            (name.lstrip("?$"), to_tuple(term)) for name, term in (substitutions or {}).items()
        ),
        limit=limit,
        base_iri=base_iri,
    )


def _raise_engine_error(name: str, detail: str, extra: dict, query: str) -> NoReturn:
    """Turn an error reported by the engine (possibly in another process) into an MlkgError."""
    if name == "SyntaxError":
        raise syntax_error(detail, query)
    cls = getattr(errors_module, name, None)
    if isinstance(cls, type) and issubclass(cls, MlkgError):
        raise cls(detail, **extra)
    raise MlkgError(detail, **extra)


def _store_graphs(store: ox.Store) -> dict[str, int]:
    counts = {str(row["g"].value): int(row["n"].value) for row in store.query(GRAPHS_QUERY)}
    for graph in store.named_graphs():  # empty named graphs count too
        counts.setdefault(graph.value, 0)
    return counts


class _AnswerCache:
    """A bounded LRU of answers by request, for one store version (answers are deterministic)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_item: int = 1024 * 1024) -> None:
        self.max_bytes, self.max_item = max_bytes, max_item
        self._items: OrderedDict[Request, RunResult] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Request) -> RunResult | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Request, value: RunResult) -> None:
        size = len(value.body) + len(key.query)
        if size > self.max_item:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                old_key, old = self._items.popitem(last=False)
                self._bytes -= len(old.body) + len(old_key.query)


class _Flight:
    """One query running in a worker, which other requests for the same query wait for (so that
    requests arriving together for a heavy query run it once, not once each: at 1M triples, the
    same canned query asked by several clients at once pushed each past the time limit). Like the
    answer cache, and only with it: an answer is reused only where answers may be."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._result: RunResult | None = None
        self._error: BaseException | None = None

    def succeed(self, result: RunResult) -> None:
        self._result = result
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wait(self, timeout: float | None) -> RunResult:
        """The answer, or the error (a copy: each request raises its own)."""
        if not self._done.wait(timeout):
            raise QueryTimeoutError(
                f"The same query, run for another request, did not finish in {timeout:g} s; "
                "try again shortly.",
                retry_after=1,
                limit_seconds=timeout,
            )
        if self._error is not None:
            raise copy.copy(self._error)
        assert self._result is not None
        return self._result


class EmbeddedBackend:
    """Runs queries in this process on a read-only pyoxigraph store (default graph = the union).

    It cannot stop a query: `timeout` is not enforced here. The server uses `PooledBackend`.
    """

    def __init__(
        self, store_dir: Path, *, limit: int | None = None, base_iri: str | None = None
    ) -> None:
        try:
            self.store = ox.Store.read_only(str(store_dir))
        except OSError as exc:
            raise StoreError(
                f"cannot open the store at {store_dir}: {exc}; run `mlkg build`"
            ) from exc
        self.store_dir = Path(store_dir)
        self.limit, self.base_iri = limit, base_iri
        self._graphs: dict[str, int] | None = None

    def run(
        self,
        query: str,
        *,
        result_format: str,
        substitutions: dict[str, Node] | None = None,
        timeout: float | None = None,
        default_graph: list[str] | None = None,
        named_graphs: list[str] | None = None,
        limit: int | None = None,
    ) -> RunResult:
        """Run `query` and serialize its answer. `timeout` is not enforced in-process."""
        _, request = _request(
            query,
            result_format,
            substitutions,
            default_graph,
            named_graphs,
            limit if limit is not None else self.limit,
            self.base_iri,
            self.graphs,
        )
        try:
            return execute(self.store, request)
        except SyntaxError as exc:
            raise syntax_error(str(exc.args[0] if exc.args else exc), query) from exc
        except (OSError, RuntimeError) as exc:
            if is_corruption(exc):
                raise StoreCorruptError.at(self.store_dir, exc) from None
            raise

    def graphs(self) -> dict[str, int]:
        """Named graph IRI -> number of triples."""
        if self._graphs is None:
            self._graphs = _store_graphs(self.store)
        return self._graphs

    def info(self) -> dict[str, object]:
        """What /health reports."""
        return {"backend": "embedded", **_meta_info(self.store_dir)}

    def close(self) -> None:
        """Nothing to release beyond the store handle."""


def _meta_info(store_dir: Path) -> dict[str, object]:
    from mlkg.build import load_meta

    try:
        meta = load_meta(store_dir)
    except StoreError:
        return {"store": store_dir.name}
    return {"store": meta.id, "triples": meta.triples, "graphs": meta.graphs}


class PooledBackend:
    """The built store, queried in killable worker processes, with an answer cache per store version.

    A query of the bounded shape of `mlkg.bounded` (one triple pattern) that reads at most
    `inline_rows` rows skips the worker: it runs on this process's own read-only handle of the
    store, where its cost is a few microseconds per row, so no time limit is needed to stop it.

    With `var_dir`, it reads the finding of the full check of the store (`mlkg.integrity`) before
    each query: on a store known to be corrupt every query is refused at once (StoreCorruptError,
    503), since which ones would reach the damage cannot be told beforehand and some of those
    would never end; and a query that comes upon a damaged block records it for the other
    processes.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        workers: int = 2,
        timeout: float | None = 10.0,
        limit: int | None = None,
        base_iri: str | None = None,
        cache: bool = True,
        inline_rows: int = 0,
        var_dir: Path | None = None,
        memory_mb: int = 0,
    ) -> None:
        from mlkg.integrity import Watch
        from mlkg.workers import PoolError, WorkerPool

        self.store_dir = Path(store_dir)
        if (
            not (self.store_dir / "meta.json").exists()
            and not (self.store_dir / "CURRENT").exists()
        ):
            raise StoreError(f"no built store at {self.store_dir}; run `mlkg build` first")
        self.timeout, self.limit, self.base_iri = timeout, limit, base_iri
        self.inline_rows = inline_rows
        self.check = Watch(var_dir, self.store_dir) if var_dir is not None else None
        # the first worker starts first: the rest of this, and of the app, is done while it does
        try:
            self.pool = WorkerPool(self.store_dir, workers, wait=False, memory_mb=memory_mb)
        except PoolError as exc:
            raise StoreError(exc.detail) from exc
        try:
            self._info = _meta_info(self.store_dir)
            self._store: ox.Store | None = None
            if inline_rows > 0:
                try:
                    self._store = ox.Store.read_only(str(self.store_dir))
                except (OSError, RuntimeError) as exc:  # corruption: RuntimeError
                    raise StoreError(
                        f"cannot open the store at {self.store_dir}: {exc}; run `mlkg build`"
                    ) from exc
            else:  # no handle of our own has opened the store: the worker's must
                self.wait_ready()
        except BaseException:
            self.pool.close()
            raise
        self.inline_answers = 0
        self.shared_answers = 0  # answers a request took from the same query run for another
        # runs in progress by (client, request): one client's requests share a run; another
        # client's never wait behind it, where the workers' fair share could not see them
        self._flights: dict[tuple[str | None, Request], _Flight] = {}
        self._flights_lock = threading.Lock()
        self.cache = _AnswerCache() if cache else None
        self._graphs: dict[str, int] | None = None

    def wait_ready(self) -> None:
        """Return once the first query worker is ready (`mlkg serve` answers only then).

        :raises StoreError: when it could not open the store.
        """
        from mlkg.workers import PoolError

        try:
            self.pool.wait_ready()
        except PoolError as exc:
            raise StoreError(exc.detail) from exc

    @classmethod
    def for_settings(cls, store_dir: Path, settings, *, workers: int | None = None) -> PooledBackend:
        """The backend `mlkg serve` uses over `store_dir`, configured by `settings`."""
        backend = cls(
            store_dir,
            workers=workers or settings.workers,
            timeout=settings.query_timeout,
            limit=settings.result_limit,
            base_iri=settings.base_iri,
            cache=settings.answer_cache_mb > 0,
            inline_rows=settings.inline_rows,
            var_dir=settings.var_dir,
            memory_mb=settings.worker_memory_mb,
        )
        if backend.cache is not None:
            backend.cache.max_bytes = settings.answer_cache_mb * 1024 * 1024
        return backend

    def run(
        self,
        query: str,
        *,
        result_format: str,
        substitutions: dict[str, Node] | None = None,
        timeout: float | None = None,
        default_graph: list[str] | None = None,
        named_graphs: list[str] | None = None,
        limit: int | None = None,
    ) -> RunResult:
        """Run `query` in a worker process, stopped after `timeout` s (default: the backend's).

        :raises SparqlSyntaxError: for a malformed query (message, line and column from the engine).
        :raises QueryTimeoutError: when it ran past the limit or no worker was free.
        :raises StoreCorruptError: when the store is known to be corrupt, or the query found it so.
        """
        info, request = _request(
            query,
            result_format,
            substitutions,
            default_graph,
            named_graphs,
            limit if limit is not None else self.limit,
            self.base_iri,
            self.graphs,
        )
        problem = self.problem()
        if problem is not None:
            raise StoreCorruptError(problem)
        cache = self.cache
        if cache is not None:
            found = cache.get(request)
            if found is not None:
                return found
        if (
            self._store is not None
            and info is not None
            and info.pattern is not None
            and request.default_graph is None
            and request.named_graphs is None
            and info.pattern.fits(request.limit, self.inline_rows)
        ):
            result = self._run_inline(request, info.pattern)
            if cache is not None:
                cache.put(request, result)
            return result
        limit_s = timeout if timeout is not None else self.timeout
        if cache is None:  # no answer is reused: each request runs its own (the benchmark's rows)
            return self._run_in_worker(request, limit_s, query)
        key = (CLIENT.get(), request)
        with self._flights_lock:
            flight = self._flights.get(key)
            leading = flight is None
            if leading:
                flight = self._flights[key] = _Flight()
        if not leading:  # the same query is running for the same client: its answer is ours
            self.shared_answers += 1
            return flight.wait(None if limit_s is None else 2 * limit_s + 5)
        try:
            result = self._run_in_worker(request, limit_s, query)
        except BaseException as exc:
            flight.fail(exc)
            raise
        else:
            flight.succeed(result)
        finally:
            with self._flights_lock:
                del self._flights[key]
        cache.put(request, result)
        return result

    def _run_in_worker(self, request: Request, limit_s: float | None, query: str) -> RunResult:
        """`request` in a free worker, the pool's failures as mlkg's errors."""
        from mlkg.workers import (
            PoolBusy,
            PoolError,
            Preempted,
            QueryTimeout,
            WorkerGone,
            WorkerOutOfMemory,
        )

        try:
            return self.pool.run(request, limit_s)
        except QueryTimeout:
            problem = self.problem()  # found meanwhile: the engine may have been stuck on it
            if problem is not None:
                raise StoreCorruptError(
                    f"The query did not finish within the {limit_s:g} s limit, and {problem}"
                ) from None
            raise QueryTimeoutError(
                f"The query ran longer than the {limit_s:g} s limit and was stopped. Narrow it "
                "(more specific patterns, a LIMIT, fewer OPTIONALs) and try again.",
                limit_seconds=limit_s,
            ) from None
        except PoolBusy:
            raise QueryTimeoutError(
                f"Every query worker stayed busy for {limit_s:g} s; try again shortly.",
                retry_after=1,
                limit_seconds=limit_s,
            ) from None
        except Preempted as exc:
            raise TooManyRequestsError(
                f"The query was stopped after {exc.ran:.1f} s to make room for another client's: "
                f"this client had {exc.held} of this server process's {exc.size} query workers "
                "busy while another client waited. Send fewer queries at a time (or narrower "
                "ones) and try again.",
                retry_after=1,
            ) from None
        except WorkerOutOfMemory as exc:
            raise QueryMemoryError(engine.memory_detail(exc.memory_mb)) from None
        except WorkerGone as exc:
            raise StoreError(
                f"the query worker stopped unexpectedly ({exc}); it has been replaced, try again"
            ) from None
        except PoolError as exc:
            self._engine_error((exc.name, exc.detail, exc.extra), query)

    def _run_inline(self, request: Request, pattern: SinglePattern) -> RunResult:
        """Run a bounded query on this process's store handle (errors as a worker reports them)."""
        try:
            result = engine.execute_bounded(self._store, request, pattern)
        except MlkgError:
            raise
        except Exception as exc:  # noqa: BLE001  (the engine's SyntaxError, RuntimeError...)
            self._engine_error(engine.error_tuple(exc, self.store_dir), request.query)
        self.inline_answers += 1
        return result

    def _engine_error(self, error: tuple[str, str, dict], query: str) -> NoReturn:
        """Raise the error the engine reported, first recording a damaged block it came upon."""
        name, detail, extra = error
        if name == QueryMemoryError.__name__:  # a MemoryError in the worker, short of its abort
            detail = engine.memory_detail(self.pool.memory_mb)
        if name == StoreCorruptError.__name__ and self.check is not None:
            try:
                self.check.report(detail)
            except OSError as exc:  # an unwritable var/: this process knows it all the same
                log.warning("cannot record that the store is corrupt: %s", exc)
        _raise_engine_error(name, detail, extra, query)

    def problem(self) -> str | None:
        """Why the store is corrupt, when that is known (see `mlkg.integrity`)."""
        return self.check.problem() if self.check is not None else None

    def graphs(self) -> dict[str, int]:
        """Named graph IRI -> number of triples (asked once of a worker, then kept)."""
        if self._graphs is None:
            body = self.run(GRAPHS_QUERY, result_format="json", limit=None).body
            counts = {
                b["g"]["value"]: int(b["n"]["value"])
                for b in json.loads(body)["results"]["bindings"]
            }
            self._graphs = counts
        return self._graphs

    def info(self) -> dict[str, object]:
        """What /health reports: 'corrupt' (503) once the store is known to be."""
        running = self.pool.live
        info: dict[str, object] = {
            "backend": "embedded", "workers": self.pool.size, "workers_running": running, **self._info
        }
        if self.check is not None:
            found = self.check.finding()
            checked = "unchecked" if found is None else "whole" if found.whole else "corrupt"
            info["store_check"] = checked
            if found is not None and found.problem is not None:
                info["status"], info["problem"] = "corrupt", found.problem
                return info
        if running == 0 and self.pool.last_error is not None:
            info["status"] = "degraded"
            info["problem"] = f"no query worker is running: {self.pool.last_error}"
        return info

    def close(self) -> None:
        """Stop the worker processes and let go of the store."""
        self.pool.close()
        self._store = None


# ---------------------------------------------------------------- remote

_RESULTS_ACCEPT = "application/sparql-results+json"
_GRAPH_ACCEPT = "application/n-triples"
_SAFE_IRI = re.compile(r"^[^<>\"{}|^`\\\x00-\x20]*$")


def _sparql_term(term: tuple) -> str:
    """A term tuple in SPARQL syntax, escaped so that it cannot end early."""
    kind = term[0]
    if kind == "iri":
        if not _SAFE_IRI.match(term[1]):
            raise BadRequestError(
                f"cannot bind the IRI {term[1]!r}: it holds characters IRIs may not"
            )
        return f"<{term[1]}>"
    if kind == "literal":
        _, value, datatype, language = term
        text = (
            '"'
            + value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            + '"'
        )
        if language:
            if not re.fullmatch(r"[A-Za-z]+(-[A-Za-z0-9]+)*", language):
                raise BadRequestError(f"bad language tag {language!r}")
            return f"{text}@{language}"
        if datatype:
            return text + "^^" + _sparql_term(("iri", datatype))
        return text
    raise BadRequestError("a remote store cannot bind blank nodes")


def bind_remote(query: str, substitutions: tuple[tuple[str, tuple], ...]) -> str:
    """`query` with a VALUES block of the substitutions at the start of its WHERE group.

    >>> bind_remote("SELECT ?x WHERE { ?x ?p ?o }", (("o", ("iri", "http://e/o")),))
    'SELECT ?x WHERE { VALUES (?o) { (<http://e/o>) } ?x ?p ?o }'
    """
    if not substitutions:
        return query
    names = " ".join(f"?{name}" for name, _ in substitutions)
    values = " ".join(_sparql_term(term) for _, term in substitutions)
    block = f" VALUES ({names}) {{ ({values}) }}"
    offset = 0
    for token in tokenize(query):
        offset = query.index(token.text, offset)
        if token.text == "{":
            return query[: offset + 1] + block + query[offset + 1 :]
        offset += len(token.text)
    raise BadRequestError("cannot bind values: the query has no WHERE group")


class RemoteBackend:
    """A SPARQL 1.1 endpoint over HTTP. Queries are refused and checked by the web layer first."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = 10.0,
        limit: int | None = None,
        base_iri: str | None = None,
    ) -> None:
        import requests

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StoreError(f"--store must be an http(s) URL of a SPARQL endpoint, got {url!r}")
        self.url = urlunsplit(parts)
        self.timeout, self.limit, self.base_iri = timeout, limit, base_iri
        self.session = requests.Session()
        self._graphs: dict[str, int] | None = None
        self._lock = threading.Lock()

    def run(
        self,
        query: str,
        *,
        result_format: str,
        substitutions: dict[str, Node] | None = None,
        timeout: float | None = None,
        default_graph: list[str] | None = None,
        named_graphs: list[str] | None = None,
        limit: int | None = None,
    ) -> RunResult:
        """Send `query` to the remote endpoint and re-serialize its answer under our cap.

        :raises QueryTimeoutError: when the remote does not answer within the limit.
        """
        import requests

        _, request = _request(
            query,
            result_format,
            substitutions,
            default_graph,
            named_graphs,
            limit if limit is not None else self.limit,
            self.base_iri,
            self.graphs,
        )
        text = bind_remote(query, request.substitutions)
        if self.base_iri:
            text = f"BASE <{self.base_iri}> {text}"
        graph_answer = result_format in GRAPH_FORMATS
        params: list[tuple[str, str]] = [("default-graph-uri", g) for g in default_graph or ()]
        params += [("named-graph-uri", g) for g in named_graphs or ()]
        limit_s = timeout if timeout is not None else self.timeout
        try:
            response = self.session.post(
                self.url,
                params=params,
                data=text.encode("utf-8"),
                timeout=limit_s,
                headers={
                    "Content-Type": "application/sparql-query; charset=utf-8",
                    "Accept": f"{_GRAPH_ACCEPT}, {_RESULTS_ACCEPT};q=0.9"
                    if graph_answer
                    else f"{_RESULTS_ACCEPT}, {_GRAPH_ACCEPT};q=0.9",
                },
            )
        except requests.Timeout:
            raise QueryTimeoutError(
                f"The remote store did not answer within the {limit_s:g} s limit.",
                limit_seconds=limit_s,
            ) from None
        except requests.RequestException as exc:
            raise StoreError(f"the remote store at {self.url} cannot be reached: {exc}") from None
        if response.status_code == 400:
            raise SparqlSyntaxError(f"Malformed query (remote store): {response.text[:600]}")
        if response.status_code >= 300:
            raise StoreError(
                f"the remote store answered {response.status_code}: {response.text[:300]}"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return self._finish(response.content, media_type, request)

    def _finish(self, body: bytes, media_type: str, request: Request) -> RunResult:
        if media_type in ("application/sparql-results+json", "application/json"):
            parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        elif media_type == "application/sparql-results+xml":
            parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.XML)
        else:
            fmt = ox.RdfFormat.from_media_type(media_type) if media_type else None
            if fmt is None:
                raise StoreError(f"the remote store answered in an unknown format {media_type!r}")
            parsed = (q.triple for q in ox.parse(body, format=fmt))
        return finish(parsed, request.result_format, request.limit, request.variable_order)

    def graphs(self) -> dict[str, int]:
        """Named graph IRI -> number of triples, asked once of the remote store."""
        with self._lock:
            if self._graphs is None:
                body = self.run(GRAPHS_QUERY, result_format="json", limit=None).body
                self._graphs = {
                    b["g"]["value"]: int(b["n"]["value"])
                    for b in json.loads(body)["results"]["bindings"]
                }
            return self._graphs

    def info(self) -> dict[str, object]:
        """What /health reports."""
        return {"backend": "remote", "store": self.url}

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()


def open_backend(settings, *, workers: int | None = None) -> Backend:
    """The backend `settings` ask for: the remote store at `store_url`, else the built store.

    :raises StoreError: when there is no built store (run `mlkg build`).
    """
    if settings.store_url:
        return RemoteBackend(
            settings.store_url,
            timeout=settings.query_timeout,
            limit=settings.result_limit,
            base_iri=settings.base_iri,
        )
    from mlkg.build import current_store

    return PooledBackend.for_settings(current_store(settings), settings, workers=workers)


def gsp_url_for(url: str) -> str:
    """The Graph Store Protocol URL of a store whose query endpoint is `url` (Oxigraph's layout:
    /query -> /store; Fuseki's: /sparql or /query under a dataset -> /data when asked explicitly).

    >>> gsp_url_for("http://127.0.0.1:7878/query")
    'http://127.0.0.1:7878/store'
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/query"):
        path = path[: -len("/query")] + "/store"
    elif path.endswith("/sparql"):
        path = path[: -len("/sparql")] + "/store"
    else:
        path = path + "/store"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def load_remote(
    store_dir: Path, url: str, gsp_url: str | None = None, *, timeout: float = 600
) -> int:
    """Copy the built store at `store_dir` into the remote store: PUT each named graph and the default
    graph with the SPARQL 1.1 Graph Store Protocol, then DELETE remote graphs the build does not have.
    Returns the number of graphs written.

    :raises StoreError: when the remote store refuses or cannot be reached.
    """
    import requests

    gsp = gsp_url or gsp_url_for(url)
    store = ox.Store.read_only(str(store_dir))
    graphs = sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))
    joiner = "&" if "?" in gsp else "?"

    def body(graph: ox.NamedNode | ox.DefaultGraph) -> bytes:
        triples = (q.triple for q in store.quads_for_pattern(None, None, None, graph))
        return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)

    headers = {"Content-Type": "application/n-triples"}
    try:
        with requests.Session() as session:
            targets = [(f"{gsp}{joiner}graph={quote(g, safe='')}", ox.NamedNode(g)) for g in graphs]
            targets.append((f"{gsp}{joiner}default", ox.DefaultGraph()))
            for target, graph in targets:
                response = session.put(target, data=body(graph), headers=headers, timeout=timeout)
                if response.status_code >= 300:
                    raise StoreError(
                        f"the remote store refused PUT {target}: "
                        f"{response.status_code} {response.text[:200]}"
                    )
            remote = RemoteBackend(url, timeout=timeout)
            for stale in sorted(set(remote.graphs()) - set(graphs)):
                session.delete(f"{gsp}{joiner}graph={quote(stale, safe='')}", timeout=timeout)
    except requests.RequestException as exc:
        raise StoreError(f"cannot load the remote store at {gsp}: {exc}") from None
    return len(targets)
