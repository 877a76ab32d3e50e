"""The one error tree of mlkg: every deliberate failure is an MlkgError with a status and a detail."""

from __future__ import annotations


class MlkgError(Exception):
    """Base error: `detail` says what went wrong and how to fix it; `extra` carries context."""

    status, title = 500, "Internal error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail, self.extra = detail, extra


class DataError(MlkgError):
    """A data, ontology or shapes file cannot be read (syntax error, missing file)."""

    status, title = 500, "Invalid data file"


class ValidationFailedError(MlkgError):
    """The graph does not conform to the SHACL shapes or the provenance check."""

    status, title = 500, "Validation failed"


class StoreError(MlkgError):
    """The built store is missing, corrupt or cannot be written."""

    status, title = 503, "Store unavailable"


class StoreCorruptError(StoreError):
    """A block of the built store fails its checksum: reading it never succeeds, so the store must
    be rebuilt. `at` words every report of it alike (a query's, the full scan's)."""

    status, title = 503, "Store corrupt"

    @classmethod
    def at(cls, store: object, reason: object) -> StoreCorruptError:
        """The error for the store at `store` (None: the one in service), with the engine's own
        words for the damage.

        >>> StoreCorruptError.at("/var/stores/abc", "Corruption: bad block").detail
        'the store at /var/stores/abc is corrupt: Corruption: bad block; run `mlkg build`'
        """
        where = "the store" if store is None else f"the store at {store}"
        return cls(f"{where} is corrupt: {reason}; run `mlkg build`")


def is_corruption(exc: BaseException) -> bool:
    """Whether the engine raised `exc` because a block of the store is damaged (RocksDB's
    "Corruption: …" status: a checksum mismatch, a truncated or malformed block), as opposed to an
    I/O error or a bad query, which may pass.

    >>> is_corruption(RuntimeError("Corruption: block checksum mismatch: stored = 1, computed = 2"))
    True
    >>> is_corruption(OSError("IO error: No such file or directory"))
    False
    """
    return isinstance(exc, (RuntimeError, OSError)) and str(exc).startswith("Corruption:")


class SourceError(MlkgError):
    """A source document cannot be found or read."""

    status, title = 500, "Source document unavailable"


class SparqlSyntaxError(MlkgError):
    status, title = 400, "Malformed query"


class BadRequestError(MlkgError):
    status, title = 400, "Bad request"


class ForbiddenQueryError(MlkgError):
    """The query asks for something the endpoint never does (update, SERVICE, LOAD, FROM IRIs)."""

    status, title = 400, "Query not allowed"


class ParameterError(MlkgError):
    status, title = 400, "Invalid query parameter"


class NotFoundError(MlkgError):
    status, title = 404, "Not found"


class NotAcceptableError(MlkgError):
    status, title = 406, "Not acceptable"


class QueryTimeoutError(MlkgError):
    status, title = 503, "Query timed out"


class QueryMemoryError(MlkgError):
    """The query needed more memory than a query worker may use (MLKG_WORKER_MEMORY_MB)."""

    status, title = 503, "Query used too much memory"


class TooManyRequestsError(MlkgError):
    status, title = 429, "Too many requests"


class PayloadTooLargeError(MlkgError):
    status, title = 413, "Request body too large"


class QueryFileError(MlkgError):
    """A canned query file (queries/*.rq) is broken: bad header, unknown key, bad SPARQL or parameter."""

    status, title = 500, "Invalid query file"


class ConfigError(MlkgError):
    """A setting (an environment variable) has a value mlkg cannot use."""

    status, title = 500, "Invalid setting"
