"""Build: load, validate, skolemize and write the pyoxigraph store the server reads, swapped in atomically.

Layout under `var/`: `stores/<id>/` (a pyoxigraph store plus `meta.json`) and the symlink `current`
pointing at the store in service. `<id>` is derived from the content, so the same data builds the same id
(save when the store of that id was found corrupt after its build: then `<id>-2`, see
`install_store`).
The default graph holds the union of all files; each file's triples are also in its own named graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, URIRef

from mlkg import __version__
from mlkg._procs import alive
from mlkg.backends import to_ox
from mlkg.config import Settings
from mlkg.errors import StoreError, ValidationFailedError
from mlkg.provenance import check_spans, load_texts
from mlkg.store import is_shapes_file, load_dataset, parse_turtle, shapes_files, source_file_of, union_graph
from mlkg.validation import Violation, span_violations, validate_graph

GENID = "https://w3id.org/mlkg/.well-known/genid/"
KEEP_STORES = 3


@dataclass(frozen=True)
class StoreMeta:
    """What a built store holds, written beside it as meta.json."""

    id: str
    content_hash: str
    triples: int
    quads: int
    graphs: int
    built_at: float
    version: str = __version__


def load_meta(store_dir: Path) -> StoreMeta:
    """Read a store's meta.json; StoreError if missing or unreadable."""
    try:
        return StoreMeta(**json.loads((store_dir / "meta.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise StoreError(f"store {store_dir} has no readable meta.json ({exc}); run `mlkg build`") from exc


def current_store(settings: Settings) -> Path:
    """The folder of the store in service; StoreError if there is none."""
    link = settings.store_link
    if not link.exists():
        raise StoreError(f"no built store at {link}; run `mlkg build` first")
    return link.resolve()


def validate_dataset(settings: Settings, dataset: Dataset, *, check_sources: bool = True) -> list[Violation]:
    """SHACL shapes plus, when the sources are available or required, the span check."""
    ontology = Graph()
    for path in sorted(settings.ontology_dir.glob("*.ttl")):
        if not is_shapes_file(path):
            parse_turtle(path, ontology)
    shapes = Graph()
    for path in shapes_files(settings.ontology_dir):  # shapes.ttl and every shapes-<topic>.ttl
        parse_turtle(path, shapes)
    data = union_graph(dataset)
    origin = source_file_of(dataset)
    violations = validate_graph(data, shapes, ontology, origin)
    if check_sources:
        violations += span_violations(check_spans(data, load_texts(data, settings.sources_dir)), origin, data)
    return violations


def skolemize(dataset: Dataset) -> list[tuple]:
    """All quads with blank nodes replaced by IRIs derived from what the node says (deterministic)."""
    quads = list(dataset.quads((None, None, None, None)))
    labels: dict[BNode, URIRef] = {}
    by_node: dict[BNode, list[tuple]] = {}
    for q in quads:
        if isinstance(q[0], BNode):
            by_node.setdefault(q[0], []).append(q)

    visiting: set[BNode] = set()

    def fast_label(node: BNode) -> URIRef:
        if node not in labels:
            if node in visiting:  # a cycle of blank nodes: the back-reference gets a fixed name
                return URIRef(GENID + "cycle")
            visiting.add(node)
            parts = sorted({f"{p.n3()} {fast_label(o).n3() if isinstance(o, BNode) else o.n3()}"
                            for _, p, o, _ in by_node.get(node, [])})
            visiting.discard(node)
            labels[node] = URIRef(GENID + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20])
        return labels[node]

    def sk(term):
        return fast_label(term) if isinstance(term, BNode) else term

    return [(sk(s), p, sk(o), g) for s, p, o, g in quads]


def content_hash(lines: list[str]) -> str:
    """SHA-256 of the sorted N-Quads lines: the identity of a build's content."""
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def write_store(settings: Settings, quads: list[tuple], ready=None) -> StoreMeta:
    """Write quads (default graph = union, plus one named graph per file) and swap the store in
    (after `ready(store folder)`, when given)."""
    ox_quads, lines, union = [], [], set()
    graphs = set()
    for s, p, o, g in quads:
        triple = (to_ox(s), to_ox(p), to_ox(o))
        if g is not None and str(g) != "urn:x-rdflib:default":
            ox_quads.append(ox.Quad(*triple, ox.NamedNode(str(g))))
            graphs.add(str(g))
            lines.append(f"{s.n3()} {p.n3()} {o.n3()} <{g}> .")
        union.add(triple)
    for triple in union:
        ox_quads.append(ox.Quad(*triple, ox.DefaultGraph()))
        lines.append(f"{triple[0]} {triple[1]} {triple[2]} .")
    digest = content_hash(lines)
    store_id = digest[:16]
    meta = StoreMeta(id=store_id, content_hash=digest, triples=len(union), quads=len(ox_quads),
                     graphs=len(graphs), built_at=time.time())
    final = install_store(settings, store_id, lambda path: _fill(path, ox_quads), meta, ready=ready)
    return replace(meta, id=final.name)


def _fill(path: Path, quads: list) -> None:
    store = ox.Store(str(path))
    store.bulk_extend(quads)
    store.flush()
    store.optimize()
    del store


def install_store(settings: Settings, store_id: str, fill, meta: StoreMeta, ready=None) -> Path:
    """Fill a store in a temporary folder, then rename it into place, call `ready(folder)` when
    given (what servers need from the store first, written before they can swap it in), and
    repoint `current` atomically; the store's folder. A store of that id already built is kept,
    unless it was found corrupt after its build (`mlkg.integrity`): the fresh copy then goes beside
    it, as `<id>-2` (`-3` …), a new folder that running servers swap in as they do any rebuild
    (they hold the damaged one open until then, and its derived files stay apart)."""
    stores = settings.var_dir / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(settings.var_dir)
    sound = _sound_id(settings.var_dir, store_id)
    if sound != store_id:
        store_id, meta = sound, replace(meta, id=sound)
    final = stores / store_id
    if not (final / "meta.json").exists():
        tmp = stores / f".tmp-{store_id}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            fill(tmp)
            (tmp / "meta.json").write_text(json.dumps(asdict(meta), indent=2), encoding="utf-8")
            if not (final / "meta.json").exists():  # a folder without it is no store (a pruning cut short)
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not (final / "meta.json").exists():
                    raise
                # another build of the same data installed it meanwhile, and may have put it in
                # service: it is kept (servers may have opened it), this copy is dropped
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"could not write the store in {stores}: {exc}; the previous store is still in service") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if ready is not None:
        ready(final)
    link_tmp = settings.var_dir / f".current-{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(Path("stores") / store_id, link_tmp)
    os.replace(link_tmp, settings.store_link)
    _prune(stores, keep={store_id})
    return final


def _sound_id(var_dir: Path, store_id: str) -> str:
    """`store_id`, else the first of `<store_id>-2`, `-3` … that is not corrupt: a store of that id
    already built is read whole first (`mlkg.integrity`; seconds per million triples), since one
    damaged without anyone noticing yet was kept as it was, and "run `mlkg build`" did not mend it
    (found by a bug hunt); one not built is passed over only if it is recorded corrupt."""
    from mlkg.integrity import check, recorded

    def corrupt(candidate: str) -> bool:
        folder = var_dir / "stores" / candidate
        if not (folder / "meta.json").exists():
            found = recorded(var_dir, folder)
        else:
            try:
                found = check(folder, var_dir)
            except StoreError:  # it will not even open (a file of it gone)
                return True
        return found is not None and not found.whole

    candidate, copy = store_id, 1
    while corrupt(candidate):
        copy += 1
        candidate = f"{store_id}-{copy}"
    return candidate


def _process_alive(pid: int) -> bool:
    return pid == os.getpid() or alive(pid)


def _remove_leftovers(var_dir: Path) -> None:
    """Remove what dead builds left behind (`stores/.tmp-<id>-<pid>`, `.current-<pid>`); a build
    that is still running keeps its own."""
    for path in [*(var_dir / "stores").glob(".tmp-*"), *var_dir.glob(".current-*")]:
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _prune(stores: Path, keep: set[str]) -> None:
    """Remove old stores beyond the newest KEEP_STORES (never the one just installed)."""
    built = sorted((p for p in stores.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for old in built[KEEP_STORES:]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def build(settings: Settings, *, check_sources: bool = True) -> StoreMeta:
    """Validate the data and write the store; ValidationFailedError leaves the previous store in service."""
    dataset = load_dataset(settings.ontology_dir, settings.data_dirs)
    violations = validate_dataset(settings, dataset, check_sources=check_sources)
    if violations:
        raise ValidationFailedError(
            f"{len(violations)} violation(s); the previous store is unchanged:\n"
            + "\n".join(v.render() for v in violations[:50]),
            violations=len(violations),
        )
    meta = write_store(settings, skolemize(dataset), ready=lambda folder: _write_index(settings, folder))
    from mlkg.ontodocs import write_docs  # the ontology documentation of this build (mlkg.ontodocs)

    try:
        write_docs(settings, meta)
    except (OSError, StoreError) as exc:  # the store is in service; /ontology regenerates the docs
        logging.getLogger("mlkg.build").warning("ontology docs not written: %s", exc)
    return meta


def _write_index(settings: Settings, store_dir: Path) -> None:
    """The entity index pages and search load (mlkg.snapshot), written before `current` points at
    the store: a server that swaps it in finds it there (written after, entity pages and search
    waited for it, ~11 s at 1M triples)."""
    from mlkg.search import index_file

    try:
        index_file(store_dir, settings.var_dir, settings.base_iri)
    except StoreError as exc:  # the first server to need it writes it
        logging.getLogger("mlkg.build").warning("entity index not written: %s", exc.detail)
