"""What the browsing pages keep in memory per store version: the ontology's labels, the entity index
and the source documents. Loaded when a store version is first seen; nothing is asked per page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mlkg._rows import Backend
from mlkg.filecache import per_build_limit
from mlkg.errors import StoreCorruptError, StoreError
from mlkg.labels import Vocabulary, load_vocabulary
from mlkg.search import GENID, EntityIndex, cached_index, load_index
from mlkg.sources_view import Sources, load_sources

log = logging.getLogger("mlkg.snapshot")


@dataclass(frozen=True)
class Snapshot:
    """Labels, entities and source documents of one store version."""

    version: str
    vocabulary: Vocabulary
    index: EntityIndex
    sources: Sources

    def label(self, iri: object) -> str:
        """The label of an entity of the graph or of a vocabulary term."""
        key = str(iri)
        entry = self.index.get(key)
        if entry is not None and entry.label:
            return entry.label
        if key in self.vocabulary.terms or entry is None:
            return self.vocabulary.label(key)
        if key.startswith(GENID) and entry.types:
            return self.vocabulary.label(entry.types[0])
        return self.index.label(key)


def load_snapshot(
    backend: Backend,
    *,
    version: str,
    base: str,
    sources_dir: Path,
    timeout: float | None = None,
    var_dir: Path | None = None,
) -> Snapshot:
    """Load a store version's snapshot: vocabulary, entity index and source documents.

    With `var_dir` and a backend over a local store (one with a `store_dir`), the entity index
    comes from its file under ``var/cache/<store id>/``, written first by a child process if it is
    not there (`mlkg.search.cached_index`, within `mlkg.filecache.per_build_limit`); otherwise,
    or if that fails (logged), from one query through the backend.
    """
    store_dir = getattr(backend, "store_dir", None)
    index = None
    if var_dir is not None and store_dir is not None:
        try:
            index = cached_index(store_dir, var_dir, base, timeout=per_build_limit(timeout))
        except StoreCorruptError:
            raise  # no query would fare better
        except StoreError as exc:
            log.warning("%s; reading the entity index through the backend instead", exc.detail)
    if index is None:
        index = load_index(backend, base=base, timeout=timeout)
    return Snapshot(
        version=version,
        vocabulary=load_vocabulary(backend, timeout=timeout),
        index=index,
        sources=load_sources(backend, sources_dir, timeout=timeout),
    )
