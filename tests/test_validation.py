"""The SHACL shapes (ontology/shapes.ttl) and mlkg.validation.

Every node shape is exercised by at least one deliberately broken copy of REAL data: the triples
around one real entity are cut out of the data (tests/_foundation.extract), checked to conform, then
broken in one way and checked to be rejected with the expected message at the expected focus node.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from _foundation import ROOT, extract, instances, real_graphs
from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.namespace import SH, SKOS, XSD

from mlkg.namespaces import BASE, MLKG, OA, SCHEMA, SOURCE
from mlkg.provenance import SpanProblem, expand_spans
from mlkg.store import parse_turtle
from mlkg.validation import Violation, span_violations, validate_graph

D2 = "002_c3e35048ae458ff3"  # 2968 characters


def iri(local: str) -> URIRef:
    return URIRef(BASE + local)


# ---------------------------------------------------------------- mutations of a small graph

Mutation = Callable[[Graph, URIRef], "str | None"]


def set_value(p: URIRef, value) -> Mutation:
    def run(g: Graph, f: URIRef) -> None:
        g.remove((f, p, None))
        g.add((f, p, value))

    return run


def add_value(p: URIRef, value) -> Mutation:
    def run(g: Graph, f: URIRef) -> None:
        g.add((f, p, value))

    return run


def drop(p: URIRef) -> Mutation:
    def run(g: Graph, f: URIRef) -> None:
        g.remove((f, p, None))

    return run


def _first(cls: URIRef, g: Graph) -> URIRef:
    """A real instance of `cls`, copied (type and label) into `g`."""
    real = real_graphs().data
    node = instances(real, cls)[0]
    for p in (RDF.type, RDFS.label):
        for o in real.objects(node, p):
            g.add((node, p, o))
    return node


def link(p: URIRef, cls: URIRef) -> Mutation:
    """Point `p` at a real instance of `cls` (a wrong class for the property)."""

    def run(g: Graph, f: URIRef) -> None:
        g.remove((f, p, None))
        g.add((f, p, _first(cls, g)))

    return run


def add_link(p: URIRef, cls: URIRef) -> Mutation:
    """Add a link along `p` to a real instance of `cls` (typed and labelled in the small graph)."""

    def run(g: Graph, f: URIRef) -> None:
        g.add((f, p, _first(cls, g)))

    return run


def rename(local: str) -> Mutation:
    """Give the focus another IRI (everywhere in the small graph); the new IRI is the focus."""

    def run(g: Graph, f: URIRef) -> str:
        new = iri(local)
        for s, p, o in list(g):
            if f in (s, o):
                g.remove((s, p, o))
                g.add((new if s == f else s, p, new if o == f else o))
        return str(new)

    return run


def both(*mutations: Mutation) -> Mutation:
    def run(g: Graph, f: URIRef):
        result = None
        for m in mutations:
            result = m(g, f) or result
        return result

    return run


def set_on_neighbour(p_from_focus: URIRef, p: URIRef, values: list) -> Mutation:
    """Set `p` on the focus's neighbours along `p_from_focus` (in IRI order) to `values`."""

    def run(g: Graph, f: URIRef) -> None:
        for node, value in zip(sorted(g.objects(f, p_from_focus)), values, strict=False):
            g.remove((node, p, None))
            g.add((node, p, value))

    return run


def swap_evidence(span: str) -> Mutation:
    """Replace the focus's evidence by one span IRI; the span IRI is the expected focus."""

    def run(g: Graph, f: URIRef) -> str:
        g.remove((f, MLKG.evidence, None))
        g.add((f, MLKG.evidence, URIRef(SOURCE + span)))
        return str(SOURCE + span)

    return run


def _statement_about(g: Graph, f: URIRef) -> BNode:
    return sorted(s for s in g.subjects(RDF.subject, f) if (s, RDF.type, RDF.Statement) in g)[0]


def statement_drop_evidence(g: Graph, f: URIRef) -> str:
    st = _statement_about(g, f)
    g.remove((st, MLKG.evidence, None))
    return f"[statement <{f}>"


def statement_drop_triple(g: Graph, f: URIRef) -> str:
    st = _statement_about(g, f)
    g.remove((f, g.value(st, RDF.predicate), g.value(st, RDF.object)))
    return f"[statement <{f}>"


def statement_second_object(g: Graph, f: URIRef) -> str:
    st = _statement_about(g, f)
    g.add((st, RDF.object, iri("skill/python")))
    return f"[statement <{f}>"


def untyped_reference(g: Graph, f: URIRef) -> None:
    g.add((f, MLKG.requiresSkill, iri("skill/pyhton")))


def statement_about_typo(g: Graph, f: URIRef) -> str:
    """A statement (with its triple) about a misspelt copy of the focus's IRI."""
    typo = URIRef(str(f) + "-typo")
    statement = BNode()
    for p, o in [
        (RDF.type, RDF.Statement),
        (RDF.subject, typo),
        (RDF.predicate, MLKG.employedIn),
        (RDF.object, iri("industry/finance")),
    ]:
        g.add((statement, p, o))
    g.add((statement, MLKG.evidence, next(g.objects(f, MLKG.evidence))))
    g.add((typo, MLKG.employedIn, iri("industry/finance")))
    return str(typo)


def untyped_subject(g: Graph, f: URIRef) -> str:
    typo = URIRef(str(f) + "-typo")
    for span in g.objects(f, MLKG.evidence):
        g.add((typo, MLKG.evidence, span))
    return str(typo)


def unlink_inverse(p: URIRef) -> Mutation:
    """Remove every `?x p focus` link."""

    def run(g: Graph, f: URIRef) -> None:
        g.remove((None, p, f))

    return run


def duplicate_step_position(g: Graph, f: URIRef) -> None:
    steps = sorted(g.objects(f, MLKG.hasStep))
    first = g.value(steps[0], SCHEMA.position)
    g.remove((steps[1], SCHEMA.position, None))
    g.add((steps[1], SCHEMA.position, first))


# ---------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One broken variant: which shape must catch it, on which class's example, and how."""

    id: str
    shape: str
    cls: URIRef
    mutate: Mutation
    message: str
    path: str | None = None
    having: tuple[URIRef, ...] = field(default_factory=tuple)
    prefix: bool = False  # the message is checked as a prefix (it names values of the real example)


LABEL_MIN = (
    'has no rdfs:label: add exactly one English label ("..."@en); an entity named by several '
    "documents takes its label from common.ttl"
)
LABEL_MAX = (
    "has more than one rdfs:label: keep one (the one in common.ttl if it is declared there) and "
    "turn the others into skos:altLabel"
)
LABEL_LANG = 'rdfs:label is not an English language-tagged string: write it as "..."@en'
SLUG = "(lower-case words joined by hyphens)"

CASES = [
    # --- every entity: labels, evidence, reification, references
    Case("entity-no-label", "EntityShape", MLKG.Role, drop(RDFS.label), LABEL_MIN, "rdfs:label"),
    Case(
        "entity-two-labels",
        "EntityShape",
        MLKG.Industry,
        add_value(RDFS.label, Literal("another name", lang="en")),
        LABEL_MAX,
        "rdfs:label",
    ),
    Case(
        "entity-label-not-english",
        "EntityShape",
        MLKG.Language,
        set_value(RDFS.label, Literal("Englisch", lang="de")),
        LABEL_LANG,
        "rdfs:label",
    ),
    Case(
        "entity-label-plain-string",
        "EntityShape",
        MLKG.Company,
        set_value(RDFS.label, Literal("a company")),
        LABEL_LANG,
        "rdfs:label",
    ),
    Case(
        "entity-altlabel-not-english",
        "EntityShape",
        MLKG.Country,
        add_value(SKOS.altLabel, Literal("USA")),
        'skos:altLabel is not an English language-tagged string: write it as "..."@en',
        "skos:altLabel",
    ),
    Case(
        "entity-description-plain",
        "EntityShape",
        MLKG.Book,
        set_value(SCHEMA.description, Literal("a book")),
        'schema:description is not an English language-tagged string: write it as "..."@en in the '
        "curators' own words",
        "schema:description",
    ),
    Case(
        "entity-no-evidence",
        "EntityShape",
        MLKG.Responsibility,
        drop(MLKG.evidence),
        "has no mlkg:evidence: add the span of each document that names it (`mlkg locate FILE "
        '"text"` '
        "prints the span IRI)",
        "mlkg:evidence",
    ),
    Case(
        "entity-fact-not-reified",
        "EntityShape",
        MLKG.Industry,
        add_link(MLKG.applicationArea, MLKG.ApplicationArea),
        "states a fact that no rdf:Statement traces: add [] a rdf:Statement ; rdf:subject <",
        "mlkg:applicationArea",
        prefix=True,
    ),
    Case(
        "reference-untyped-statement-subject",
        "ReferenceShape",
        MLKG.Role,
        statement_about_typo,
        "is used but has no rdf:type: correct the IRI if it is a typo, or declare the entity (a "
        "<class> ; "
        "rdfs:label) in common.ttl or the document's file",
        "rdf:type",
    ),
    Case(
        "reference-untyped-subject",
        "ReferenceShape",
        MLKG.Skill,
        untyped_subject,
        "is used but has no rdf:type: correct the IRI if it is a typo, or declare the entity (a "
        "<class> ; "
        "rdfs:label) in common.ttl or the document's file",
        "rdf:type",
    ),
    Case(
        "evidence-not-a-span",
        "EvidenceShape",
        MLKG.Tool,
        set_value(MLKG.evidence, URIRef("https://example.org/some-page")),
        "mlkg:evidence is not a span IRI: write source/<document stem>/c<start>-<end> (d0:, d1:, "
        "d2: in the "
        "data files), as printed by `mlkg locate`",
        "mlkg:evidence",
    ),
    Case(
        "evidence-literal",
        "EvidenceShape",
        MLKG.Tool,
        set_value(MLKG.evidence, Literal("d2:c0-25")),
        "mlkg:evidence is not a span IRI: write source/<document stem>/c<start>-<end> (d0:, d1:, "
        "d2: in the "
        "data files), as printed by `mlkg locate`",
        "mlkg:evidence",
    ),
    # --- spans and statements
    Case(
        "span-beyond-document",
        "SpecificResourceShape",
        MLKG.JobTitle,
        swap_evidence(f"{D2}/c2960-2999"),
        "span ends at character 2999, beyond the end of its document (2968 characters): recompute "
        "the "
        "offsets with `mlkg locate`",
    ),
    Case(
        "span-unknown-document",
        "SpecificResourceShape",
        MLKG.JobTitle,
        swap_evidence("003_unknown/c0-10"),
        "span names a document that sources.ttl does not describe: use the prefix of one of the "
        "three "
        "documents (d0:, d1:, d2:)",
        "oa:hasSource",
    ),
    Case(
        "span-reversed",
        "TextPositionSelectorShape",
        MLKG.JobTitle,
        lambda g, f: swap_evidence(f"{D2}/c30-20")(g, f) + "#selector",
        "span is empty or reversed (start 30 is not before end 20): the end offset is exclusive "
        "and must "
        "exceed the start",
    ),
    Case(
        "statement-no-evidence",
        "StatementShape",
        MLKG.CareerPath,
        statement_drop_evidence,
        "reified statement has no mlkg:evidence: add the span that states the fact",
        "mlkg:evidence",
    ),
    Case(
        "statement-triple-missing",
        "StatementShape",
        MLKG.CareerPath,
        statement_drop_triple,
        "reified statement traces a triple that is not in the graph (<",
        prefix=True,
    ),
    Case(
        "statement-two-objects",
        "StatementShape",
        MLKG.CareerPath,
        statement_second_object,
        "reified statement needs exactly one rdf:object, the value of the fact (one statement per "
        "triple)",
        "rdf:object",
    ),
    Case(
        "source-bad-sha256",
        "SourceDocumentShape",
        MLKG.SourceDocument,
        set_value(MLKG.sha256, Literal("ABC123")),
        "needs exactly one mlkg:sha256, the 64 lower-case hexadecimal digits of the file's SHA-256",
        "mlkg:sha256",
    ),
    Case(
        "source-count-as-string",
        "SourceDocumentShape",
        MLKG.SourceDocument,
        set_value(MLKG.characterCount, Literal("9950")),
        "needs exactly one mlkg:characterCount, the number of characters of the file as a "
        "non-negative xsd:integer",
        "mlkg:characterCount",
    ),
    Case(
        "source-bad-iri",
        "SourceDocumentShape",
        MLKG.SourceDocument,
        rename("source/Doc-000.txt"),
        "a source document's IRI must be https://w3id.org/mlkg/source/<file stem> (lower-case "
        "letters, "
        "digits, underscores)",
    ),
    # --- roles, titles, responsibilities, people
    Case(
        "role-responsibility-wrong-class",
        "RoleShape",
        MLKG.Role,
        link(MLKG.hasResponsibility, MLKG.Skill),
        "mlkg:hasResponsibility must point at a responsibility (responsibility/...): fix the IRI "
        "or declare it",
        "mlkg:hasResponsibility",
    ),
    Case(
        "role-skill-typo",
        "RoleShape",
        MLKG.Role,
        untyped_reference,
        "mlkg:requiresSkill must point at a skill, tool or subject (a skos:Concept such as "
        "skill/... or "
        "tool/...): fix the IRI or type it",
        "mlkg:requiresSkill",
    ),
    Case(
        "role-degree-wrong-class",
        "RoleShape",
        MLKG.Role,
        link(MLKG.recommendedDegree, MLKG.FieldOfStudy),
        "mlkg:recommendedDegree must point at a degree programme (degree/<level>-<field>): fix "
        "the IRI or "
        "declare the programme",
        "mlkg:recommendedDegree",
    ),
    Case(
        "role-hotspot-not-place",
        "RoleShape",
        MLKG.Role,
        link(MLKG.hotspot, MLKG.Industry),
        "mlkg:hotspot must point at a place (a city, state, country or region under place/...): "
        "fix the IRI "
        "or type the place",
        "mlkg:hotspot",
    ),
    Case(
        "role-bad-iri",
        "RoleShape",
        MLKG.Role,
        rename("role/Data_Scientist"),
        f"a role's IRI must be https://w3id.org/mlkg/role/<slug> {SLUG}",
    ),
    Case(
        "jobtitle-bad-iri",
        "JobTitleShape",
        MLKG.JobTitle,
        rename("job-title/ai-engineer"),
        f"a job title's IRI must be https://w3id.org/mlkg/title/<slug> {SLUG}",
    ),
    Case(
        "responsibility-bad-iri",
        "ResponsibilityShape",
        MLKG.Responsibility,
        rename("responsibility/Design_ML"),
        f"a responsibility's IRI must be https://w3id.org/mlkg/responsibility/<slug> {SLUG}",
    ),
    Case(
        "workarrangement-bad-iri",
        "WorkArrangementShape",
        MLKG.WorkArrangement,
        rename("work/remote"),
        f"a work arrangement's IRI must be https://w3id.org/mlkg/work-arrangement/<slug> {SLUG}",
    ),
    Case(
        "person-quoted-on-industry",
        "PersonShape",
        SCHEMA.Person,
        link(MLKG.quotedOn, MLKG.Industry),
        "mlkg:quotedOn must point at a role (role/...): fix the IRI or declare the role",
        "mlkg:quotedOn",
    ),
    Case(
        "person-bad-iri",
        "PersonShape",
        SCHEMA.Person,
        rename("people/andrew-ng"),
        f"a person's IRI must be https://w3id.org/mlkg/person/<slug> {SLUG}",
    ),
    # --- skills and tools
    Case(
        "skill-not-in-scheme",
        "SkillShape",
        MLKG.Skill,
        drop(SKOS.inScheme),
        "is not in the skills concept scheme: add skos:inScheme mlkg:skills",
        "skos:inScheme",
    ),
    Case(
        "skill-broader-not-group",
        "SkillShape",
        MLKG.ProgrammingLanguage,  # superclass shape reaches it
        link(SKOS.broader, MLKG.Role),
        "skos:broader must point at a skill group (skill-group/...) or a broader skill: fix the "
        "IRI or "
        "declare the group",
        "skos:broader",
    ),
    Case(
        "language-not-in-group",
        "ProgrammingLanguageShape",
        MLKG.ProgrammingLanguage,
        drop(SKOS.broader),
        "a programming language belongs to the programming-languages group: add skos:broader "
        "<skill-group/programming-languages>",
        "skos:broader",
    ),
    Case(
        "skillgroup-broader-skill",
        "SkillGroupShape",
        MLKG.SkillGroup,
        link(SKOS.broader, MLKG.Skill),
        "a skill group's skos:broader must be another skill group (skill-group/...)",
        "skos:broader",
    ),
    Case(
        "tool-category-wrong-class",
        "ToolShape",
        MLKG.Tool,
        link(MLKG.technologyCategory, MLKG.Skill),
        "mlkg:technologyCategory must point at a technology category (tech-category/...): fix the "
        "IRI or "
        "declare the category",
        "mlkg:technologyCategory",
    ),
    Case(
        "tool-bad-iri",
        "ToolShape",
        MLKG.Tool,
        rename("tools/amazon-ec2"),
        f"a tool's IRI must be https://w3id.org/mlkg/tool/<slug> {SLUG}",
    ),
    Case(
        "techcategory-bad-iri",
        "TechnologyCategoryShape",
        MLKG.TechnologyCategory,
        rename("category/x"),
        f"a technology category's IRI must be https://w3id.org/mlkg/tech-category/<slug> {SLUG}",
    ),
    # --- education
    Case(
        "degreelevel-duration-string",
        "DegreeLevelShape",
        MLKG.DegreeLevel,
        set_value(MLKG.typicalDuration, Literal("four years")),
        'mlkg:typicalDuration must be a single xsd:duration, such as "P4Y"^^xsd:duration or '
        '"P11W"^^xsd:duration',
        "mlkg:typicalDuration",
    ),
    Case(
        "fieldofstudy-bad-iri",
        "FieldOfStudyShape",
        MLKG.FieldOfStudy,
        rename("field/AppliedMathematics"),
        f"a field of study's IRI must be https://w3id.org/mlkg/field/<slug> {SLUG}",
    ),
    Case(
        "degree-no-field",
        "DegreeProgramShape",
        MLKG.DegreeProgram,
        drop(MLKG.fieldOfStudy),
        "a degree programme needs exactly one mlkg:fieldOfStudy, a field (field/...); a degree in "
        "two fields "
        "is two programmes",
        "mlkg:fieldOfStudy",
    ),
    Case(
        "degree-iri-mismatch",
        "DegreeProgramShape",
        MLKG.DegreeProgram,
        set_value(MLKG.degreeLevel, iri("degree-level/doctorate")),
        "the IRI does not match the programme's level and field "
        "(<https://w3id.org/mlkg/degree-level/"
        "doctorate>, <",
        prefix=True,
    ),
    Case(
        "university-admission-145",
        "UniversityShape",
        MLKG.University,
        set_value(MLKG.admissionRate, Literal("145.0", datatype=XSD.decimal)),
        "mlkg:admissionRate must be a single xsd:decimal percentage from 0 to 100 (45% is 45.0)",
        "mlkg:admissionRate",
        having=(MLKG.admissionRate,),
    ),
    Case(
        "university-admission-string",
        "UniversityShape",
        MLKG.University,
        set_value(MLKG.admissionRate, Literal("45%")),
        "mlkg:admissionRate must be a single xsd:decimal percentage from 0 to 100 (45% is 45.0)",
        "mlkg:admissionRate",
        having=(MLKG.admissionRate,),
    ),
    Case(
        "university-graduation-negative",
        "UniversityShape",
        MLKG.University,
        set_value(MLKG.graduationRate, Literal("-3.0", datatype=XSD.decimal)),
        "mlkg:graduationRate must be a single xsd:decimal percentage from 0 to 100 (89% is 89.0)",
        "mlkg:graduationRate",
        having=(MLKG.graduationRate,),
    ),
    Case(
        "university-enrollment-decimal",
        "UniversityShape",
        MLKG.University,
        set_value(MLKG.totalEnrollment, Literal("40792.5", datatype=XSD.decimal)),
        "mlkg:totalEnrollment must be a single whole number of students, at least 0 (40,792 is "
        "40792)",
        "mlkg:totalEnrollment",
        having=(MLKG.totalEnrollment,),
    ),
    Case(
        "university-two-labels",
        "UniversityShape",
        MLKG.University,
        add_value(RDFS.label, Literal("ASU", lang="en")),
        LABEL_MAX,
        "rdfs:label",
    ),
    Case(
        "university-two-tuitions",
        "UniversityShape",
        MLKG.University,
        add_value(MLKG.inStateTuition, iri("tuition/university-of-maryland-college-park-in-state")),
        "mlkg:inStateTuition must be one tuition amount (tuition/..., a mlkg:TuitionAmount)",
        "mlkg:inStateTuition",
        having=(MLKG.inStateTuition,),
    ),
    Case(
        "schoollist-item-not-school",
        "SchoolListShape",
        MLKG.SchoolList,
        link(SCHEMA.itemListElement, MLKG.Skill),
        "a school list needs at least one schema:itemListElement, each a university or college "
        "(university/...)",
        "schema:itemListElement",
    ),
    Case(
        "schoollist-year-string",
        "SchoolListShape",
        MLKG.SchoolList,
        set_value(MLKG.year, Literal("2024")),
        'mlkg:year must be a single xsd:gYear, such as "2024"^^xsd:gYear',
        "mlkg:year",
    ),
    # --- certifications, courses, exams, offers
    Case(
        "certification-exam-wrong-class",
        "CertificationShape",
        MLKG.Certification,
        link(MLKG.hasExam, MLKG.PriceOffer),
        "mlkg:hasExam must point at an exam (exam/..., a mlkg:Exam): fix the IRI or declare the "
        "exam",
        "mlkg:hasExam",
    ),
    Case(
        "certification-recert-string",
        "CertificationShape",
        MLKG.Certification,
        set_value(MLKG.recertificationRequired, Literal("yes")),
        "mlkg:recertificationRequired must be a single boolean: write true or false",
        "mlkg:recertificationRequired",
    ),
    Case(
        "certification-validity-string",
        "CertificationShape",
        MLKG.Certification,
        set_value(MLKG.validFor, Literal("two years")),
        'mlkg:validFor must be a single xsd:duration, such as "P2Y"^^xsd:duration',
        "mlkg:validFor",
    ),
    Case(
        "certification-language-count-zero",
        "CertificationShape",
        MLKG.Certification,
        set_value(MLKG.languageCount, Literal(0)),
        'mlkg:languageCount must be a single whole number of at least 1 (write 10, not "10" or '
        "10.0)",
        "mlkg:languageCount",
    ),
    Case(
        "course-taught-by-org",
        "CourseShape",
        MLKG.Course,
        link(MLKG.taughtBy, MLKG.Company),
        "mlkg:taughtBy must point at a person (person/..., a schema:Person): fix the IRI or "
        "declare the person",
        "mlkg:taughtBy",
    ),
    Case(
        "course-bad-iri",
        "CourseShape",
        MLKG.Course,
        rename("courses/x"),
        "a course's IRI must be https://w3id.org/mlkg/course/<slug> (or certification/<slug> for a "
        "certificate programme)",
    ),
    Case(
        "exam-scores-reversed",
        "ExamShape",
        MLKG.Exam,
        both(set_value(MLKG.minScore, Literal(1000)), set_value(MLKG.maxScore, Literal(100))),
        "the lowest score 1000 is above the highest score 100: swap mlkg:minScore and "
        "mlkg:maxScore or "
        "correct them",
        having=(MLKG.minScore, MLKG.maxScore),
    ),
    Case(
        "exam-passing-outside-range",
        "ExamShape",
        MLKG.Exam,
        set_value(MLKG.passingScore, Literal(1200)),
        "the passing score 1200 lies outside the score range: it must be between mlkg:minScore and "
        "mlkg:maxScore",
        having=(MLKG.passingScore, MLKG.maxScore),
    ),
    Case(
        "exam-passing-negative",
        "ExamShape",
        MLKG.Exam,
        set_value(MLKG.passingScore, Literal(-1)),
        "mlkg:passingScore must be a single whole number, at least 0",
        "mlkg:passingScore",
        having=(MLKG.passingScore,),
    ),
    Case(
        "exam-questions-reversed",
        "ExamShape",
        MLKG.Exam,
        both(set_value(MLKG.minQuestions, Literal(70)), set_value(MLKG.maxQuestions, Literal(60))),
        "the least number of questions 70 is above the largest 60: swap mlkg:minQuestions and "
        "mlkg:maxQuestions or correct them",
        having=(MLKG.minQuestions,),
    ),
    Case(
        "exam-duration-string",
        "ExamShape",
        MLKG.Exam,
        set_value(SCHEMA.timeRequired, Literal("2 hours")),
        'schema:timeRequired must be a single xsd:duration, such as "PT2H"^^xsd:duration for a '
        "two-hour "
        "exam",
        "schema:timeRequired",
        having=(SCHEMA.timeRequired,),
    ),
    Case(
        "language-bad-iri",
        "LanguageShape",
        MLKG.Language,
        rename("lang/zh"),
        "a language's IRI must be https://w3id.org/mlkg/language/<slug> (such as language/english)",
    ),
    Case(
        "offer-currency-symbol",
        "PriceOfferShape",
        MLKG.PriceOffer,
        set_value(SCHEMA.priceCurrency, Literal("$")),
        "needs exactly one schema:priceCurrency, a three-letter ISO 4217 code as a plain string, "
        'such as "USD"',
        "schema:priceCurrency",
    ),
    Case(
        "offer-price-string",
        "PriceOfferShape",
        MLKG.PriceOffer,
        set_value(SCHEMA.price, Literal("$300")),
        "a price offer needs exactly one schema:price, an xsd:decimal of at least 0 (write "
        '"49"^^xsd:decimal '
        "or 49.0; free is 0)",
        "schema:price",
    ),
    Case(
        "offer-no-price",
        "PriceOfferShape",
        MLKG.PriceOffer,
        drop(SCHEMA.price),
        "a price offer needs exactly one schema:price, an xsd:decimal of at least 0 (write "
        '"49"^^xsd:decimal '
        "or 49.0; free is 0)",
        "schema:price",
    ),
    Case(
        "offer-billing-annual",
        "PriceOfferShape",
        MLKG.PriceOffer,
        set_value(MLKG.billingPeriod, MLKG.Annual),
        "mlkg:billingPeriod must be one of mlkg:OneOff or mlkg:Monthly",
        "mlkg:billingPeriod",
    ),
    # --- organizations, resources
    Case(
        "company-bad-iri",
        "CompanyShape",
        MLKG.Company,
        rename("company/365-data-science"),
        f"a company's IRI must be https://w3id.org/mlkg/org/<slug> {SLUG}",
    ),
    Case(
        "platform-bad-iri",
        "LearningPlatformShape",
        MLKG.LearningPlatform,
        rename("platform/coursera"),
        "a learning platform's IRI must be https://w3id.org/mlkg/org/<slug> (such as org/coursera)",
    ),
    Case(
        "association-bad-iri",
        "ProfessionalAssociationShape",
        MLKG.ProfessionalAssociation,
        rename("association/acm"),
        f"a professional association's IRI must be https://w3id.org/mlkg/org/<slug> {SLUG}",
    ),
    Case(
        "agency-bad-iri",
        "GovernmentAgencyShape",
        MLKG.GovernmentAgency,
        rename("agency/bls"),
        "a government agency's IRI must be https://w3id.org/mlkg/org/<slug> (such as org/bls)",
    ),
    Case(
        "agency-location-not-place",
        "GovernmentAgencyShape",
        MLKG.GovernmentAgency,
        link(MLKG.location, MLKG.Skill),
        "mlkg:location must point at a place (a city, state, country or region under place/...): "
        "fix the IRI "
        "or type the place",
        "mlkg:location",
    ),
    Case(
        "dataset-publisher-skill",
        "StatisticalDatasetShape",
        MLKG.StatisticalDataset,
        link(SCHEMA.publisher, MLKG.Skill),
        "schema:publisher must point at an organization or a person: fix the IRI or type the "
        "publisher (for "
        "example mlkg:Company)",
        "schema:publisher",
    ),
    Case(
        "resource-topic-not-concept",
        "LearningResourceShape",
        MLKG.Book,  # superclass shape reaches books
        link(MLKG.coversTopic, MLKG.Role),
        "mlkg:coversTopic must point at a skill, tool, field of study or application area (a "
        "skos:Concept): "
        "fix the IRI or type the topic",
        "mlkg:coversTopic",
    ),
    Case(
        "book-no-author",
        "BookShape",
        MLKG.Book,
        drop(SCHEMA.author),
        "a book needs at least one schema:author (person/...): add the authors the document names",
        "schema:author",
    ),
    Case(
        "podcast-host-org",
        "PodcastShape",
        MLKG.Podcast,
        link(MLKG.hostedBy, MLKG.Company),
        "mlkg:hostedBy must point at a person (person/..., a schema:Person): fix the IRI or "
        "declare the host",
        "mlkg:hostedBy",
    ),
    Case(
        "channel-platform-string",
        "VideoChannelShape",
        MLKG.VideoChannel,
        set_value(MLKG.onPlatform, Literal("YouTube")),
        "mlkg:onPlatform must be the IRI of the site or service (such as org/youtube), not a "
        "string",
        "mlkg:onPlatform",
    ),
    Case(
        "website-bad-iri",
        "WebsiteShape",
        MLKG.Website,
        rename("site/arxiv"),
        f"a website's IRI must be https://w3id.org/mlkg/website/<slug> {SLUG}",
    ),
    Case(
        "journal-bad-iri",
        "JournalShape",
        MLKG.Journal,
        rename("journals/jmlr"),
        f"a journal's IRI must be https://w3id.org/mlkg/journal/<slug> {SLUG}",
    ),
    # --- industries and places
    Case(
        "industry-area-wrong-class",
        "IndustryShape",
        MLKG.Industry,
        link(MLKG.applicationArea, MLKG.Industry),
        "mlkg:applicationArea must point at an application area (application/...): fix the IRI or "
        "declare it",
        "mlkg:applicationArea",
    ),
    Case(
        "application-bad-iri",
        "ApplicationAreaShape",
        MLKG.ApplicationArea,
        rename("use/credit-scoring"),
        f"an application area's IRI must be https://w3id.org/mlkg/application/<slug> {SLUG}",
    ),
    Case(
        "city-in-skill",
        "CityShape",
        MLKG.City,
        link(SCHEMA.containedInPlace, MLKG.Skill),
        "schema:containedInPlace must point at a place (a state, country or region under "
        "place/...): fix the "
        "IRI or type the place",
        "schema:containedInPlace",
    ),
    Case(
        "state-bad-iri",
        "StateShape",
        MLKG.State,
        rename("state/arizona"),
        f"a state's IRI must be https://w3id.org/mlkg/place/<slug> {SLUG}",
    ),
    Case(
        "country-in-city",
        "CountryShape",
        MLKG.Country,
        link(SCHEMA.containedInPlace, MLKG.City),
        "a country can only be contained in a region (mlkg:Region), never in a city or state",
        "schema:containedInPlace",
    ),
    Case(
        "region-bad-iri",
        "RegionShape",
        MLKG.Region,
        rename("region/silicon-valley"),
        "a region's IRI must be https://w3id.org/mlkg/place/<slug> (such as place/silicon-valley)",
    ),
    # --- figures
    Case(
        "salary-min-above-max",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        both(
            set_value(SCHEMA.minValue, Literal("160000", datatype=XSD.decimal)),
            set_value(SCHEMA.maxValue, Literal("150000", datatype=XSD.decimal)),
        ),
        "the range's minimum 160000 is above its maximum 150000: swap schema:minValue and "
        "schema:maxValue or "
        "correct them",
        having=(SCHEMA.minValue, SCHEMA.maxValue),
    ),
    Case(
        "salary-value-and-range",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        add_value(SCHEMA.value, Literal("100000", datatype=XSD.decimal)),
        "a salary figure needs either schema:value (one amount) or both schema:minValue and "
        "schema:maxValue "
        "(a range), not both and not neither",
        having=(SCHEMA.minValue, SCHEMA.maxValue),
    ),
    Case(
        "salary-min-only",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        drop(SCHEMA.maxValue),
        "a salary figure needs either schema:value (one amount) or both schema:minValue and "
        "schema:maxValue "
        "(a range), not both and not neither",
        having=(SCHEMA.minValue, SCHEMA.maxValue),
    ),
    Case(
        "salary-value-integer",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        set_value(SCHEMA.value, Literal(108020)),
        "schema:value must be a single xsd:decimal amount of at least 0 ($108,020 is 108020.0)",
        "schema:value",
        having=(SCHEMA.value,),
    ),
    Case(
        "salary-currency-lowercase",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        set_value(SCHEMA.currency, Literal("usd")),
        "needs exactly one schema:currency, a three-letter ISO 4217 code as a plain string, such "
        'as "USD"',
        "schema:currency",
    ),
    Case(
        "salary-no-role",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        drop(MLKG.forRole),
        "a salary figure needs exactly one mlkg:forRole, the role (role/...) the pay is for",
        "mlkg:forRole",
    ),
    Case(
        "salary-city-scope-no-place",
        "SalaryFigureShape",
        MLKG.SalaryFigure,
        both(set_value(MLKG.scope, MLKG.CityScope), drop(MLKG.location)),
        "a salary figure scoped to an experience level needs mlkg:experienceLevel, and one scoped "
        "to a city "
        "or state needs mlkg:location: add the missing link",
    ),
    Case(
        "tuition-integer",
        "TuitionAmountShape",
        MLKG.TuitionAmount,
        set_value(SCHEMA.value, Literal(9695)),
        "a tuition amount needs exactly one schema:value, an xsd:decimal of at least 0 ($9,695 is "
        "9695.0)",
        "schema:value",
    ),
    Case(
        "tuition-orphan",
        "TuitionAmountShape",
        MLKG.TuitionAmount,
        both(unlink_inverse(MLKG.inStateTuition), unlink_inverse(MLKG.outOfStateTuition)),
        "a tuition amount belongs to a university: link it with mlkg:inStateTuition or "
        "mlkg:outOfStateTuition "
        "from the university",
        None,
    ),
    Case(
        "growth-years-reversed",
        "GrowthStatisticShape",
        MLKG.GrowthStatistic,
        both(
            set_value(MLKG.startYear, Literal("2027", datatype=XSD.gYear)),
            set_value(MLKG.endYear, Literal("2023", datatype=XSD.gYear)),
        ),
        "the period starts (2027) after it ends (2023): swap mlkg:startYear and mlkg:endYear or "
        "correct them",
        having=(MLKG.startYear, MLKG.endYear),
    ),
    Case(
        "growth-percent-string",
        "GrowthStatisticShape",
        MLKG.GrowthStatistic,
        set_value(MLKG.percentChange, Literal("40%")),
        "mlkg:percentChange must be a single xsd:decimal percentage of at least -100 (40% is "
        "40.0; growth may "
        "exceed 100); leave it out where the document gives no figure",
        "mlkg:percentChange",
    ),
    Case(
        "experience-bad-iri",
        "ExperienceLevelShape",
        MLKG.ExperienceLevel,
        rename("level/entry"),
        "an experience level's IRI must be https://w3id.org/mlkg/experience-level/<slug> (such as "
        "experience-level/entry-level)",
    ),
    # --- career paths
    Case(
        "path-duplicate-positions",
        "CareerPathShape",
        MLKG.CareerPath,
        duplicate_step_position,
        "two steps of this career path share position 1: give each step its own schema:position "
        "(1, 2, 3 ...)",
    ),
    Case(
        "path-step-wrong-class",
        "CareerPathShape",
        MLKG.CareerPath,
        link(MLKG.hasStep, MLKG.Role),
        "a career path needs at least one mlkg:hasStep, each a career-path step "
        "(career-path/<slug>/step-N)",
        "mlkg:hasStep",
    ),
    Case(
        "step-position-zero",
        "CareerPathStepShape",
        MLKG.CareerPathStep,
        set_value(SCHEMA.position, Literal(0)),
        "a career-path step needs exactly one schema:position, a whole number from 1",
        "schema:position",
    ),
    Case(
        "step-position-not-iri",
        "CareerPathStepShape",
        MLKG.CareerPathStep,
        set_value(SCHEMA.position, Literal(7)),
        "the step's IRI does not end in step-7, its schema:position, or is not under its path <",
        prefix=True,
    ),
    Case(
        "step-orphan",
        "CareerPathStepShape",
        MLKG.CareerPathStep,
        unlink_inverse(MLKG.hasStep),
        "a career-path step must belong to exactly one career path: add <career-path/...> "
        "mlkg:hasStep <this step>",
    ),
]


@functools.cache
def _own_shapes() -> Graph:
    """ontology/shapes.ttl alone (the other shapes files have their own tests)."""
    return parse_turtle(ROOT / "ontology" / "shapes.ttl")


def _node_shape_members(shapes: Graph, name: str) -> set[str]:
    """The shape and its property shapes, as validation reports them."""
    node = MLKG[name]
    members = {node, *shapes.objects(node, SH.property)}
    nm = shapes.namespace_manager
    return {m.n3(nm) if isinstance(m, URIRef) else str(m) for m in members}


def _focus_violations(violations: list[Violation], focus: str) -> list[Violation]:
    return [v for v in violations if v.focus == focus or v.focus.startswith(focus)]


@functools.cache
def _conforming_example(cls: URIRef, having: tuple[URIRef, ...]) -> URIRef:
    """The first real instance of `cls` with `having` that conforms (checked once), to be broken.

    Instances with data errors are passed over here: `mlkg validate` on the real data reports them
    (tests/test_cli_foundation.py), and a shape is tested on data that is right but for one thing.
    """
    real = real_graphs()
    examples = instances(real.data, cls, having)
    assert examples, f"the real data has no {cls} with {having} to break"
    problems: list[str] = []
    for focus in examples[:5]:
        before = validate_graph(extract(real.data, focus), _own_shapes(), real.ontology)
        found = [v.render() for v in _focus_violations(before, str(focus))]
        if not found:
            return focus
        problems += found
    raise AssertionError(f"no real {cls} conforms, so none can be broken on purpose: {problems}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_real_data_is_rejected(case: Case) -> None:
    real = real_graphs()
    focus = _conforming_example(case.cls, case.having)
    small = extract(real.data, focus)
    expected_focus = case.mutate(small, focus) or str(focus)
    expand_spans(small)
    after = validate_graph(small, _own_shapes(), real.ontology)
    found = _focus_violations(after, expected_focus)
    matching = [
        v
        for v in found
        if (v.message.startswith(case.message) if case.prefix else v.message == case.message)
    ]
    assert matching, f"expected {case.message!r} at {expected_focus}; got:\n" + "\n".join(
        v.render() for v in after
    )
    if case.path is not None:
        assert case.path in {v.path for v in matching}
    members = _node_shape_members(_own_shapes(), case.shape)
    assert any(v.shape in members for v in matching), {v.shape for v in matching}


@pytest.fixture(scope="module")
def own_shapes() -> Graph:
    return _own_shapes()


def test_every_node_shape_has_a_broken_example(own_shapes: Graph) -> None:
    ours = {
        str(s).removeprefix(str(MLKG))
        for s in own_shapes.subjects(RDF.type, SH.NodeShape)
        if isinstance(s, URIRef) and str(s).startswith(str(MLKG))
    }
    assert len(ours) >= 50
    assert ours - {c.shape for c in CASES} == set()


CLASSES = [
    "Role",
    "JobTitle",
    "Skill",
    "SkillGroup",
    "ProgrammingLanguage",
    "Tool",
    "TechnologyCategory",
    "Responsibility",
    "DegreeLevel",
    "FieldOfStudy",
    "DegreeProgram",
    "University",
    "SchoolList",
    "Certification",
    "Course",
    "Exam",
    "Language",
    "PriceOffer",
    "Company",
    "LearningPlatform",
    "ProfessionalAssociation",
    "GovernmentAgency",
    "StatisticalDataset",
    "Book",
    "Podcast",
    "VideoChannel",
    "Website",
    "Journal",
    "Industry",
    "ApplicationArea",
    "City",
    "State",
    "Country",
    "Region",
    "SalaryFigure",
    "TuitionAmount",
    "GrowthStatistic",
    "ExperienceLevel",
    "CareerPath",
    "CareerPathStep",
    "WorkArrangement",
    "SourceDocument",
]


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_has_its_shape(name: str) -> None:
    shapes = real_graphs().shapes
    assert (MLKG[f"{name}Shape"], SH.targetClass, MLKG[name]) in shapes


def test_shapes_for_people_spans_and_statements() -> None:
    shapes = real_graphs().shapes
    assert (MLKG.PersonShape, SH.targetClass, SCHEMA.Person) in shapes
    assert (MLKG.SpecificResourceShape, SH.targetClass, OA.SpecificResource) in shapes
    assert (MLKG.TextPositionSelectorShape, SH.targetClass, OA.TextPositionSelector) in shapes
    assert (MLKG.StatementShape, SH.targetClass, RDF.Statement) in shapes


def test_every_shape_and_constraint_has_a_message(own_shapes: Graph) -> None:
    shapes = own_shapes
    ours = [
        s
        for s in set(shapes.subjects(RDF.type, SH.NodeShape))
        | set(shapes.subjects(RDF.type, SH.PropertyShape))
    ]
    ours += list(shapes.objects(None, SH.property)) + list(shapes.objects(None, SH.sparql))
    missing = sorted(str(s) for s in set(ours) if (s, SH.message, None) not in shapes)
    assert missing == []
    for message in shapes.objects(None, SH.message):
        assert len(str(message)) > 25, (
            message
        )  # says what is wrong and what to do, not just "invalid"


def test_sparql_queries_declare_every_prefix_they_use(own_shapes: Graph) -> None:
    shapes = own_shapes
    queries = [(c, shapes.value(c, SH.select)) for c in set(shapes.objects(None, SH.sparql))]
    queries += [(t, shapes.value(t, SH.select)) for t in set(shapes.objects(None, SH.target))]
    assert len(queries) >= 15
    for node, text in queries:
        holder = shapes.value(node, SH.prefixes)
        assert holder is not None, text
        declared = {str(shapes.value(d, SH.prefix)) for d in shapes.objects(holder, SH.declare)}
        used = set(re.findall(r"\b([a-z]+):[A-Za-z]", str(text)))
        assert used <= declared, (used - declared, text)


def test_a_shared_label_rule_is_reported_once() -> None:
    """A programming language is reached by three shapes (entity, skill, language): one report
    only."""
    real = real_graphs()
    focus = instances(real.data, MLKG.ProgrammingLanguage)[0]
    small = extract(real.data, focus)
    small.remove((focus, RDFS.label, None))
    found = [
        v
        for v in validate_graph(small, _own_shapes(), real.ontology)
        if v.focus == str(focus) and v.message == LABEL_MIN
    ]
    assert len(found) == 1


def test_validate_graph_leaves_the_data_alone() -> None:
    real = real_graphs()
    small = extract(real.data, instances(real.data, MLKG.University)[0])
    before = len(small)
    validate_graph(small, _own_shapes(), real.ontology)
    assert len(small) == before


def test_violation_render_names_file_focus_path_and_message() -> None:
    v = Violation(
        focus="https://w3id.org/mlkg/role/x",
        path="rdfs:label",
        message="has no rdfs:label",
        value="42",
        file="data/doc-002",
    )
    assert (
        v.render()
        == "data/doc-002: <https://w3id.org/mlkg/role/x> rdfs:label: has no rdfs:label (value: 42)"
    )
    assert (
        Violation(focus="[statement <a> <b> <c>]", path=None, message="m").render()
        == "[statement <a> <b> <c>]: m"
    )


def test_violations_name_the_file_of_their_focus() -> None:
    real = real_graphs()
    focus = instances(real.data, MLKG.University)[0]
    small = extract(real.data, focus)
    small.set((focus, MLKG.admissionRate, Literal("145.0", datatype=XSD.decimal)))
    found = validate_graph(small, _own_shapes(), real.ontology, origin={focus: "data/doc-001a"})
    assert {v.file for v in found if v.focus == str(focus)} == {"data/doc-001a"}


def test_statement_focus_is_described_by_its_triple() -> None:
    real = real_graphs()
    focus = instances(real.data, MLKG.CareerPath)[0]
    small = extract(real.data, focus)
    statement_drop_evidence(small, focus)
    found = [
        v
        for v in validate_graph(small, _own_shapes(), real.ontology)
        if v.focus.startswith("[statement")
    ]
    assert found and all(f"<{focus}>" in v.focus for v in found)
    assert not any(
        v.focus.startswith("n") and len(v.focus) > 30 for v in found
    )  # no bare blank-node ids


def test_span_violations_share_the_violation_shape() -> None:
    node = URIRef(BASE + "role/x")
    span = URIRef(f"{SOURCE}{D2}/c0-5")
    [v] = span_violations(
        [SpanProblem(node, span, "span text does not state 'x'")], {node: "data/doc-002"}
    )
    assert (v.file, v.focus, v.path, v.value) == (
        "data/doc-002",
        str(node),
        "mlkg:evidence",
        str(span),
    )
