"""`mlkg synth`: a large graph in mlkg's own schema, for benchmarks and load tests.

The curated data is the template: the ontology and the source documents (with their spans) are
written once, then the data is written again and again with every entity IRI renamed per copy
(``…/role/ml-engineer`` -> ``…/role/mlz7-engineerz7``: each word of the slug marked,
so slugs built from other slugs, like ``degree/<level>-<field>``, still match) and labels marked (``"x (synthetic 7)"``). Each copy is an
isomorphic, disjoint replica of a graph that conforms to the shapes, so the whole conforms too, and it
keeps the data's real shape: same classes, same fan-out, same literal mix. Copy 0 is the data itself.
"""

from __future__ import annotations

import random
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDFS

from mlkg.config import Settings
from mlkg.namespaces import BASE, PREFIXES
from mlkg.store import GRAPH_BASE, load_dataset, parse_turtle

ONTOLOGY_GRAPHS = GRAPH_BASE + "ontology/"
SHARED_PREFIXES = (BASE + "def/", BASE + "source/", BASE + "graph/")


def template(settings: Settings) -> tuple[list[tuple], list[tuple]]:
    """(triples written once, triples copied): the ontology, sources and spans; then the data."""
    from mlkg.build import skolemize

    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    fixed: set[tuple] = set()
    copied: set[tuple] = set()
    pinned.clear()
    shapes = settings.ontology_dir / "shapes.ttl"
    if shapes.exists():  # instances the shapes name (sh:hasValue, sh:in ...) are never copied
        pinned.update(
            str(t)
            for triple in parse_turtle(shapes)
            for t in triple
            if isinstance(t, URIRef) and str(t).startswith(BASE)
        )
    for s, p, o, g in skolemize(dataset):  # blank nodes get stable IRIs, as in the built store
        if str(g).startswith(ONTOLOGY_GRAPHS) or (_shared(s) and _shared(o)):
            fixed.add((s, p, o))
        else:
            copied.add((s, p, o))
    copied -= fixed
    return sorted(fixed), sorted(copied)


pinned: set[str] = set()


def _shared(term) -> bool:
    """True for terms every copy shares: other vocabularies, ontology, sources, pinned instances."""
    if isinstance(term, Literal):
        return True
    return isinstance(term, URIRef) and (
        not str(term).startswith(BASE)
        or str(term).startswith(SHARED_PREFIXES)
        or str(term) in pinned
    )


def _rename(term, copy: int):
    """The term as it appears in copy number `copy` (0 leaves it unchanged)."""
    if copy == 0:
        return term
    if isinstance(term, BNode):
        return BNode(f"{term}s{copy}")
    if not isinstance(term, URIRef) or _shared(term):
        return term
    text = str(term)
    head, hash_mark, fragment = text.partition("#")
    kind, _, rest = head[len(BASE) :].partition("/")
    slug, slash, tail = rest.partition("/")
    marked = "-".join(f"{word}z{copy}" for word in slug.split("-"))
    return URIRef(f"{BASE}{kind}/{marked}{slash}{tail}{hash_mark}{fragment}")


def synthesize(fixed: list[tuple], copied: list[tuple], *, triples: int, seed: int = 1):
    """Yield about `triples` triples: `fixed` once, then copies of `copied` (shuffled order per copy)."""
    rng = random.Random(seed)
    yield from fixed
    per_copy = max(1, len(copied))
    copies = max(1, round((triples - len(fixed)) / per_copy))
    order = list(copied)
    for copy in range(copies):
        rng.shuffle(order)
        for s, p, o in order:
            if copy and p == RDFS.label and isinstance(o, Literal):
                o = Literal(f"{o} (synthetic {copy})", lang=o.language, datatype=o.datatype)
            yield (_rename(s, copy), p, _rename(o, copy))


def write_synthetic(
    output: Path, *, triples: int = 10_000, seed: int = 1, settings: Settings | None = None
) -> int:
    """Write the synthetic graph to `output` (N-Triples, or Turtle for a .ttl name); return its size."""
    fixed, copied = template(settings or Settings())
    output.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if output.suffix == ".ttl":
        graph = Graph()
        for prefix, ns in PREFIXES.items():
            graph.bind(prefix, ns)
        for triple in synthesize(fixed, copied, triples=triples, seed=seed):
            graph.add(triple)
        graph.serialize(output, format="turtle")
        return len(graph)
    import pyoxigraph as ox

    from mlkg.backends import to_ox

    def ox_triples():
        nonlocal count
        for s, p, o in synthesize(fixed, copied, triples=triples, seed=seed):
            count += 1
            yield ox.Triple(to_ox(s), to_ox(p), to_ox(o))

    with output.open("wb") as out:
        ox.serialize(ox_triples(), out, format=ox.RdfFormat.N_TRIPLES)
    return count
