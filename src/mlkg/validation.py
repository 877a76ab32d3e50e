"""Run the SHACL shapes over a graph and report violations a curator can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rdflib import RDF, BNode, Graph, Node, URIRef
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
        focus = self.focus if self.focus.startswith("[") else f"<{self.focus}>"
        return f"{where}{focus}{path}: {self.message}{value}"


_PREPARED: dict[str, Any] = {}  # query text -> parsed query; the shapes hold a few dozen texts
_PREPARED_MAX = 512


class _PreparedQueryGraph(Graph):
    """A Graph that parses each distinct SPARQL text once.

    pySHACL sends the text of a SPARQL constraint again for every focus node; parsing it is most of
    the cost of a validation run, so the parsed query is kept and reused with the new bindings.
    The queries pySHACL sends declare their prefixes: a parsed query does not depend on the graph.
    """

    def query(self, query_object, processor="sparql", result="sparql", initNs=None,
              initBindings=None, use_store_provided=True, **kwargs):
        if isinstance(query_object, str) and processor == "sparql" and initNs is None:
            prepared = _PREPARED.get(query_object)
            if prepared is None:
                from rdflib.plugins.sparql import prepareQuery

                try:
                    prepared = prepareQuery(query_object)
                except Exception:  # e.g. a prefix only the graph binds: the graph parses it
                    prepared = None
                else:
                    if len(_PREPARED) >= _PREPARED_MAX:
                        _PREPARED.clear()
                    _PREPARED[query_object] = prepared
            if prepared is not None:
                query_object = prepared
        return super().query(query_object, processor, result, initNs, initBindings,
                             use_store_provided, **kwargs)


def _short(graph: Graph, node: Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # not every IRI has a prefix form
            return str(node)
    return str(node)


def _describe_focus(graph: Graph, node: Node) -> str:
    """The focus as a curator finds it: an IRI; for a reified statement, the triple it traces; for
    another blank node, a few of its properties."""
    if not isinstance(node, BNode):
        return str(node)
    nm = graph.namespace_manager
    s, p, o = (graph.value(node, x) for x in (RDF.subject, RDF.predicate, RDF.object))
    if s is not None or p is not None or o is not None:
        parts = " ".join("?" if t is None else t.n3(nm) for t in (s, p, o))
        return f"[statement {parts}]"
    pairs = sorted(f"{q.n3(nm)} {v.n3(nm)}" for q, v in graph.predicate_objects(node))
    return "[" + " ; ".join(pairs[:3]) + (" ; ..." if len(pairs) > 3 else "") + "]"


def validate_graph(data: Graph, shapes: Graph, ontology: Graph | None = None,
                   origin: dict[Node, str] | None = None) -> list[Violation]:
    """Validate `data` (with `ontology` mixed in for class hierarchy) against `shapes`.

    `data` is not modified. Results that several shapes report alike (a shared property shape
    reached through a class and its superclass) are listed once.
    """
    from pyshacl import validate as shacl_validate  # here: `mlkg serve` imports this module, not pySHACL

    graph = _PreparedQueryGraph()
    for prefix, namespace in data.namespaces():
        graph.bind(prefix, namespace, override=True, replace=True)
    for triple in data:
        graph.add(triple)
    conforms, report, _ = shacl_validate(
        graph, shacl_graph=shapes, ont_graph=ontology, inference="none",
        advanced=True, allow_warnings=True, abort_on_first=False, inplace=True,
    )
    if conforms:
        return []
    origin = origin or {}
    violations: set[Violation] = set()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        shape = report.value(result, SH.sourceShape)
        messages = sorted(str(m) for m in report.objects(result, SH.resultMessage))
        # A SPARQL constraint's own message is more precise than that of the shape holding it.
        generic = {str(m) for m in shapes.objects(shape, SH.message)} if shape else set()
        specific = [m for m in messages if m not in generic] or messages
        severity = report.value(result, SH.resultSeverity)
        value = report.value(result, SH.value)
        violations.add(Violation(
            focus=_describe_focus(data, focus) if focus is not None else "",
            path=_short(data, report.value(result, SH.resultPath)),
            message=specific[0] if specific else "constraint not met",
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            value=None if value is None or value == focus else str(value),
            shape=_short(shapes, shape),
            file=origin.get(focus) if focus is not None else None,
        ))
    return sorted(violations,
                  key=lambda v: (v.file or "", v.focus, v.path or "", v.message, v.value or ""))


def span_violations(problems: list[SpanProblem], origin: dict[Node, str] | None = None,
                    graph: Graph | None = None) -> list[Violation]:
    """Present span-check problems like SHACL violations (`graph` describes statements)."""
    origin = origin or {}
    return [
        Violation(focus=_describe_focus(graph, p.node) if graph is not None else str(p.node),
                  path="mlkg:evidence", message=p.message, value=str(p.span),
                  shape="provenance check", file=origin.get(p.node))
        for p in problems
    ]
