"""The one error tree of mlkg: every deliberate failure is an MlkgError with a status and a detail."""


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
