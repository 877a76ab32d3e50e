"""The OpenAPI 3.1 description of the canned-query API, generated from the catalogue (no Flask)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdflib import Literal
from rdflib.namespace import XSD

from mlkg import __version__
from mlkg._iri import IRI_PATTERN
from mlkg.catalogue_run import ANSWER_FORMATS, MAX_PAGE, AnswerFormat, answer_formats, plain_value
from mlkg.queries import MAX_IRI, MAX_VALUE, CannedQuery, Catalogue, Parameter

MAX_EXAMPLES = 25
PROBLEM = {"$ref": "#/components/responses/Problem"}
#: Over a per-client fair-use limit (mlkg.fairuse; loopback clients are exempt by default).
TOO_MANY = {"$ref": "#/components/responses/TooManyRequests"}


def parameter_schema(param: Parameter) -> dict[str, Any]:
    """The JSON Schema of a parameter's value.

    >>> parameter_schema(Parameter("maxPrice", "_maxPrice_number", True, "number"))
    {'type': 'number'}
    """
    if param.kind == "iri":
        schema: dict[str, Any] = {
            "type": "string",
            "format": "iri",
            "pattern": IRI_PATTERN,
            "maxLength": MAX_IRI,
        }
    elif param.kind == "integer" or param.datatype == XSD.integer:
        schema = {"type": "integer"}
    elif param.kind == "number" or param.datatype == XSD.decimal:
        schema = {"type": "number"}
    elif param.datatype == XSD.boolean:
        schema = {"type": "boolean"}
    elif param.datatype == XSD.date:
        schema = {"type": "string", "format": "date"}
    elif param.datatype == XSD.dateTime:
        schema = {"type": "string", "format": "date-time"}
    elif param.datatype == XSD.gYear:
        schema = {"type": "string", "pattern": "^-?[0-9]{4}$"}
    else:  # an empty value counts as not given
        schema = {"type": "string", "minLength": 1, "maxLength": MAX_VALUE}
    if param.enum:
        schema["enum"] = [_json(v) for v in param.enum]
    if param.default is not None:
        schema["default"] = _json(param.default)
    return schema


def _json(term) -> Any:
    if isinstance(term, Literal):
        datatype = str(term.datatype) if term.datatype else None
        term_json = {"type": "literal", "value": str(term)}
        if datatype:
            term_json["datatype"] = datatype
        return plain_value(term_json)
    return str(term)


def parameter_object(
    param: Parameter, choices: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """One OpenAPI query parameter."""
    description = f"{param.type_name}: {param.expected}."
    if param.kind == "language":
        description += f" The value is matched as a literal tagged @{param.language}."
    if not param.required:
        description += " Optional: leave it out to match everything."
    obj: dict[str, Any] = {
        "name": param.name,
        "in": "query",
        "required": param.needed,
        "description": description,
        "schema": parameter_schema(param),
    }
    if choices:
        obj["schema"]["examples"] = [value for value, _ in choices[:MAX_EXAMPLES]]
        obj["x-choices"] = [{"value": value, "label": label} for value, label in choices]
    return obj


def operation(
    query: CannedQuery, choices: Mapping[str, list[tuple[str, str]]] | None = None
) -> dict[str, Any]:
    """The GET operation that runs `query`."""
    choices = choices or {}
    params = [parameter_object(p, choices.get(p.name)) for p in query.parameters]
    params.append(
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "The answer's format, instead of the Accept header.",
            "schema": {"type": "string", "enum": [f.name for f in answer_formats(query.form)]},
        }
    )
    if query.page_size is not None:
        params.append(
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": f"Page of {query.page_size} rows; Link headers point at the others.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
            }
        )
    description = query.description or query.summary
    description += f"\n\nSource file: `queries/{query.path.name}`."
    return {
        "operationId": query.name,
        "summary": query.summary,
        "description": description,
        "tags": list(query.tags),
        "parameters": params,
        "responses": {
            "200": {"$ref": "#/components/responses/" + _ANSWER_OF_FORM[query.form]},
            "400": PROBLEM,
            "406": PROBLEM,
            "429": TOO_MANY,
            "503": PROBLEM,
        },
    }


def build_openapi(
    catalogue: Catalogue,
    *,
    server: str = "/",
    choices: Mapping[str, Mapping[str, list[tuple[str, str]]]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing `/queries` and one operation per canned query."""
    choices = choices or {}
    paths: dict[str, Any] = {
        "/queries": {
            "get": {
                "operationId": "listQueries",
                "summary": "The catalogue of canned queries",
                "description": "Every canned query with its summary and typed parameters.",
                "tags": ["catalogue"],
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["json", "html"]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The catalogue.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Catalogue"}
                            },
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    "406": PROBLEM,
                    "429": TOO_MANY,
                },
            }
        },
    }
    for query in catalogue:
        paths[f"/queries/{query.name}"] = {"get": operation(query, choices.get(query.name))}
    tags = sorted({t for q in catalogue for t in q.tags} | {"catalogue"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mlkg canned queries",
            "version": __version__,
            "summary": "Questions about the machine-learning-engineer career, answered from mlkg.",
            "description": (
                "Each operation runs one canned SPARQL query (a file in `queries/`). Parameter "
                "values are checked against their type and bound as RDF terms; they are never "
                "pasted into query text. Answers come as JSON, HTML, CSV, TSV or SPARQL "
                "results (JSON, XML), chosen by `format`, a suffix or Accept, and are paged "
                "with Link headers."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server or "/"}],
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": _components(),
    }


#: The response of each query form: an ASK's is offered in fewer formats (no CSV, no TSV).
_ANSWER_OF_FORM = {"SELECT": "Answer", "ASK": "BooleanAnswer"}
#: The schema of an answer in each format.
_CONTENT: dict[str, Any] = {
    "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}},
    "text/html": {"schema": {"type": "string"}},
    "application/sparql-results+json": {
        "schema": {
            "type": "object",
            "properties": {
                "head": {"type": "object"},
                "results": {"type": "object"},
                "boolean": {"type": "boolean"},
            },
        }
    },
    "application/sparql-results+xml": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "text/tab-separated-values": {"schema": {"type": "string"}},
}


def _answer(formats: tuple[AnswerFormat, ...]) -> dict[str, Any]:
    """The 200 response: one page of the answer, in each of `formats`."""
    return {
        "description": "One page of the answer.",
        "headers": {
            "Link": {
                "description": "first, prev and next pages (RFC 8288).",
                "schema": {"type": "string"},
            }
        },
        "content": {f.media_type: _CONTENT[f.media_type] for f in formats},
    }


#: A problem's body: problem JSON, or the HTML error page for browsers.
_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
    "text/html": {"schema": {"type": "string"}},
}


def _components() -> dict[str, Any]:
    term = {"type": ["string", "number", "integer", "boolean", "null"]}
    return {
        "schemas": {
            "Answer": {
                "type": "object",
                "required": ["query", "parameters"],
                "properties": {
                    "query": {"type": "string"},
                    "summary": {"type": "string"},
                    "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                    "boolean": {"type": "boolean"},
                    "page": {"type": "integer", "minimum": 1},
                    "per_page": {"type": ["integer", "null"]},
                    "has_next": {"type": "boolean"},
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {
                        "type": "array",
                        "items": {"type": "object", "additionalProperties": term},
                    },
                    "links": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "Catalogue": {
                "type": "object",
                "required": ["queries"],
                "properties": {
                    "queries": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "summary", "parameters"],
                            "properties": {
                                "name": {"type": "string"},
                                "summary": {"type": "string"},
                                "parameters": {"type": "array"},
                            },
                        },
                    }
                },
            },
            "Problem": {
                "type": "object",
                "required": ["title", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "parameter": {"type": "string"},
                    "expected": {"type": "string"},
                },
            },
        },
        "responses": {
            "Answer": _answer(ANSWER_FORMATS),
            "BooleanAnswer": _answer(answer_formats("ASK")),
            "Problem": {
                "description": "A problem (RFC 9457): a missing or ill-typed parameter names the "
                "parameter "
                "and the expected type.",
                "content": _PROBLEM_CONTENT,
            },
            "TooManyRequests": {
                "description": "The client is over a fair-use limit (requests in flight, or "
                "seconds of server time in a minute), or its query was stopped to give another "
                "client a query worker; the problem says which. Try again after Retry-After.",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again.",
                        "schema": {"type": "integer", "minimum": 0},
                    }
                },
                "content": _PROBLEM_CONTENT,
            },
        },
    }
