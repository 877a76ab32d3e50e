"""What the browsing pages keep in memory per store version: the ontology's labels, the entity index
and the source documents. Three small queries when a store version is first seen; none per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlkg._rows import Backend
from mlkg.labels import Vocabulary, load_vocabulary
from mlkg.search import GENID, EntityIndex, load_index
from mlkg.sources_view import Sources, load_sources


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
    backend: Backend, *, version: str, base: str, sources_dir: Path, timeout: float | None = None
) -> Snapshot:
    """Load a store version's snapshot: vocabulary, entity index and source documents."""
    return Snapshot(
        version=version,
        vocabulary=load_vocabulary(backend, timeout=timeout),
        index=load_index(backend, base=base, timeout=timeout),
        sources=load_sources(backend, sources_dir, timeout=timeout),
    )
