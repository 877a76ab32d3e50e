"""Run the SHACL shapes over a graph and report violations a curator can act on."""

from __future__ import annotations

from dataclasses import dataclass

from pyshacl import validate as shacl_validate
from rdflib import RDF, Graph, Node, URIRef
from rdflib.namespace import SH

from mlkg.provenance import SpanProblem


@dataclass(frozen=True)
class Violation:
    """One thing wrong with the data: where (focus node, path, file) and what (message)."""

    focus: str
    path: str | None
    message: str
    severity: str = "Violation"
    value: str | None = None
    shape: str | None = None
    file: str | None = None

    def render(self) -> str:
        """One line per violation: file, focus node, path, message."""
        where = f"{self.file}: " if self.file else ""
        path = f" {self.path}" if self.path else ""
        value = f" (value: {self.value})" if self.value else ""
        return f"{where}<{self.focus}>{path}: {self.message}{value}"


def _short(graph: Graph, node: Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # not every IRI has a prefix form
            return str(node)
    return str(node)


def validate_graph(data: Graph, shapes: Graph, ontology: Graph | None = None,
                   origin: dict[URIRef, str] | None = None) -> list[Violation]:
    """Validate `data` (with `ontology` mixed in for class hierarchy) against `shapes`."""
    conforms, report, _ = shacl_validate(
        data, shacl_graph=shapes, ont_graph=ontology, inference="none",
        advanced=True, allow_warnings=True, abort_on_first=False,
    )
    if conforms:
        return []
    origin = origin or {}
    violations = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        messages = [str(m) for m in report.objects(result, SH.resultMessage)]
        severity = report.value(result, SH.resultSeverity)
        value = report.value(result, SH.value)
        violations.append(Violation(
            focus=str(focus),
            path=_short(data, report.value(result, SH.resultPath)),
            message=messages[0] if messages else "constraint not met",
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            value=None if value is None else str(value),
            shape=_short(shapes, report.value(result, SH.sourceShape)),
            file=origin.get(URIRef(str(focus))) if focus is not None else None,
        ))
    return sorted(violations, key=lambda v: (v.file or "", v.focus, v.path or "", v.message))


def span_violations(problems: list[SpanProblem], origin: dict[URIRef, str] | None = None) -> list[Violation]:
    """Present span-check problems in the same shape as SHACL violations."""
    origin = origin or {}
    return [
        Violation(focus=str(p.node), path="mlkg:evidence", message=p.message, value=str(p.span),
                  shape="provenance check", file=origin.get(URIRef(str(p.node))))
        for p in problems
    ]
