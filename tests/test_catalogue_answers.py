"""Every canned query run against the real graph, asserting the answer worked out from the source
documents (/work/shared/seeds/*.txt), including the questions whose honest answer is "not
stated"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlkg.backends import EmbeddedBackend
from mlkg.build import current_store
from mlkg.catalogue_run import run_canned
from mlkg.queries import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://w3id.org/mlkg/"
DEF = BASE + "def/"
AWS_NAME = "AWS Certified Machine Learning \u2013 Specialty"
DOC0, DOC1, DOC2 = (
    "000_2e7917045f463258.txt",
    "001_0b6844ca2443a5b9.txt",
    "002_c3e35048ae458ff3.txt",
)


@pytest.fixture(scope="module")
def ask(real_store):
    """ask(name, **args) -> the answer's rows as plain values (every page)."""
    catalogue = load_catalogue(real_store.queries_dir)
    backend = EmbeddedBackend(current_store(real_store))

    def run(name: str, **args: str) -> list[dict]:
        rows, page = [], 1
        while True:
            answer = run_canned(backend, catalogue.get(name), args, page=page)
            rows += answer.plain_rows()
            if not answer.has_next:
                return rows
            page += 1

    return run


def _set(rows: list[dict], key: str) -> set:
    return {r[key] for r in rows}


def _source_text(settings, file_name: str) -> str:
    return (settings.sources_dir / file_name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- the listed questions


def test_aws_ml_specialty_passing_score_and_range(ask):
    rows = ask(
        "exam_facts", certification=BASE + "certification/aws-certified-machine-learning-specialty"
    )
    assert len(rows) == 1
    assert (rows[0]["passingScore"], rows[0]["minScore"], rows[0]["maxScore"]) == (750, 100, 1000)


def test_google_pmle_passing_score_is_not_stated(ask):
    rows = ask(
        "exam_facts",
        certification=BASE + "certification/google-professional-machine-learning-engineer",
    )
    assert len(rows) == 1, "the exam itself is described"
    exam = rows[0]
    assert exam["passingScore"] is None and exam["minScore"] is None and exam["maxScore"] is None
    assert (exam["minQuestions"], exam["maxQuestions"], exam["timeRequired"]) == (50, 60, "PT2H")
    assert exam["questionFormat"] == "multiple-choice"


def test_every_exam_is_listed_without_a_filter(ask):
    assert _set(ask("exam_facts"), "certificationLabel") == {
        AWS_NAME,
        "Google Professional Machine Learning Engineer certification",
    }


def test_who_wrote_pattern_recognition_and_machine_learning(ask):
    rows = ask("book_authors", title="Pattern Recognition and Machine Learning")
    assert [(r["title"], r["authors"]) for r in rows] == [
        ("Pattern Recognition and Machine Learning", "Christopher M. Bishop")
    ]


def test_book_authors_of_every_book(ask):
    books = {r["title"]: set(r["authors"].split(", ")) for r in ask("book_authors")}
    assert books == {
        "Deep Learning": {"Ian Goodfellow", "Yoshua Bengio", "Aaron Courville"},
        "Hands-On Machine Learning with Scikit-Learn, Keras, and TensorFlow": {"Aurélien Géron"},
        "Pattern Recognition and Machine Learning": {"Christopher M. Bishop"},
    }


def test_podcasts_and_their_hosts(ask):
    hosts: dict[str, set] = {}
    for row in ask("podcasts"):
        hosts.setdefault(row["name"], set())
        if row["hostName"]:
            hosts[row["name"]].add(row["hostName"])
        assert row["document"] == DOC1
    assert hosts == {
        "Linear Digressions": {"Katie Malone", "Ben Jaffe"},
        "The TWIML AI Podcast": set(),
    }


def test_listed_schools_in_california_with_out_of_state_tuition(ask):
    rows = ask("schools_in_state")  # California is the default
    assert {r["name"]: r["outOfStateTuition"] for r in rows} == {
        "University of California-Irvine": 41636,
        "University of Southern California": 63468,
    }
    assert [r["name"] for r in rows] == [
        "University of California-Irvine",
        "University of Southern California",
    ]


def test_listed_schools_in_another_state(ask):
    rows = ask("schools_in_state", state=BASE + "place/illinois")
    assert [(r["name"], r["city"], r["inStateTuition"]) for r in rows] == [
        ("University of Illinois Urbana-Champaign", "Champaign", 14542)
    ]


def test_certifications_under_250_paid_once(ask):
    rows = ask("certifications_under_price")
    offers = {(r["name"], r["price"]) for r in rows}
    assert offers == {
        ("Google Professional Machine Learning Engineer certification", 200),
        ("Harvard Data Science: Machine Learning", 109),
        ("Harvard Data Science: Machine Learning", 0),
    }
    google = next(r for r in rows if r["price"] == 200)
    assert google["plusTaxes"] is True and google["currency"] == "USD"
    assert [r["price"] for r in rows] == sorted(r["price"] for r in rows)


def test_monthly_offers_under_a_price(ask):
    rows = ask("certifications_under_price", billing=DEF + "Monthly", maxPrice="100")
    assert {(r["name"], r["price"]) for r in rows} == {
        ("IBM Machine Learning Professional Certificate", 49),
        ("Machine Learning by Stanford University", 49),
    }


def test_a_lower_threshold_leaves_fewer_certifications(ask):
    assert {r["price"] for r in ask("certifications_under_price", maxPrice="150")} == {0, 109}


def test_lowest_out_of_state_tuition(ask, real_store):
    rows = ask("lowest_out_of_state_tuition")
    assert {(r["name"], r["outOfStateTuition"]) for r in rows} == {
        ("Arizona State University Campus Immersion", 29952)
    }
    span = re.search(r"/c(\d+)-(\d+)$", rows[0]["span"])
    assert rows[0]["document"].endswith(DOC1.removesuffix(".txt"))
    assert "$29,952" in _source_text(real_store, DOC1)[int(span[1]) : int(span[2])]


def test_indeed_highest_and_lowest_location(ask):
    rows = ask("salary_extremes_by_publisher")  # Indeed is the default publisher
    assert [(r["rank"], r["location"], r["value"]) for r in rows] == [
        ("highest", "San Francisco", 134901),
        ("lowest", "Florida", 106295),
    ]


def test_a_publisher_without_place_figures_has_no_extremes(ask):
    assert ask("salary_extremes_by_publisher", publisher=BASE + "org/payscale") == []


def test_programming_languages_named_in_all_three_documents(ask):
    rows = ask("named_in_all_documents")
    assert _set(rows, "label") == {"Python", "Java"}
    assert all(r["documents"] == 3 for r in rows)


def test_skills_named_in_all_three_documents(ask):
    labels = _set(ask("named_in_all_documents", kind=DEF + "Skill"), "label")
    assert {"programming", "statistics", "data modeling", "machine learning algorithms"} <= labels
    assert "Python" not in labels  # a programming language is a skill only by subclass, not by type


def test_programming_languages_named_by_only_one_document(ask):
    rows = ask("named_in_one_document")
    assert {(r["label"], r["fileName"]) for r in rows} == {
        ("C", DOC0),
        ("JavaScript", DOC0),
        ("C#", DOC1),
    }
    only_doc1 = ask("named_in_one_document", document=BASE + "source/001_0b6844ca2443a5b9")
    assert _set(only_doc1, "label") == {"C#"}


def test_hotspot_cities_with_a_city_salary_in_another_document(ask):
    rows = ask("hotspots_with_city_salaries")
    assert {(r["label"], r["value"]) for r in rows} == {
        ("Boston", 126585),
        ("New York City", 127759),
        ("Seattle", 123937),
    }
    assert {(r["hotspotDocument"], r["salaryDocument"], r["publisher"]) for r in rows} == {
        (DOC1, DOC0, "Indeed")
    }


def test_fields_recommended_at_masters_level_by_more_than_one_document(ask):
    rows = ask("degree_fields_in_several_documents")
    assert _set(rows, "label") == {"computer science", "data science"}
    for row in rows:
        assert set(row["documentFiles"].split(", ")) == {DOC1, DOC2}


def test_fields_recommended_at_bachelors_level_by_more_than_one_document(ask):
    rows = ask("degree_fields_in_several_documents", level=BASE + "degree-level/bachelor")
    assert _set(rows, "label") == {"computer science", "data science"}


def test_masters_fields_of_a_single_document_appear_with_a_lower_threshold(ask):
    labels = _set(ask("degree_fields_in_several_documents", minDocuments="1"), "label")
    assert {
        "machine learning",
        "neural networks",
        "deep learning",
        "software engineering",
        "artificial intelligence",
        "computer science",
        "data science",
    } <= labels


def test_average_salary_in_austin_is_not_stated(ask):
    assert ask("average_salary_in_place") == []  # Austin is the default place
    assert ask("average_salary_in_place", place=BASE + "place/austin") == []


def test_average_salary_in_boston_is_stated(ask):
    rows = ask("average_salary_in_place", place=BASE + "place/boston")
    assert [(r["value"], r["publisher"], r["document"]) for r in rows] == [(126585, "Indeed", DOC0)]


def test_who_projects_40_percent_growth_and_where(ask):
    rows = ask("growth_statistics", percent="40")
    assert len(rows) == 1
    row = rows[0]
    assert (row["organization"], row["documents"]) == ("365 Data Science", DOC0)
    assert (row["startYear"], row["endYear"], row["projected"]) == ("2023", "2027", True)


def test_growth_statistics(ask):
    rows = {
        r["percentChange"]: r for r in ask("growth_statistics") if r["percentChange"] is not None
    }
    assert set(rows) == {40, 344}
    assert (rows[344]["organization"], rows[344]["documents"], rows[344]["projected"]) == (
        "Forbes",
        DOC2,
        False,
    )


@pytest.mark.parametrize(("value", "period"), [("108020", "Annual"), ("51.93", "Hourly")])
def test_where_the_median_wage_figures_come_from(ask, real_store, value, period):
    rows = ask("figure_source", value=value)
    assert {
        (r["publisher"], r["dataSource"], r["dataSourcePublisher"], r["document"]) for r in rows
    } == {
        ("CareerOneStop", "Occupational Employment and Wage Statistics wage estimates", "BLS", DOC1)
    }
    assert period.lower() in rows[0]["fact"]
    text = _source_text(real_store, DOC1)
    spans = [text[r["start"] : r["end"]] for r in rows]
    written = f"{float(value):,.2f}".removesuffix(".00")
    assert any(written in s for s in spans), spans
    assert any("Career One Stop" in s and "BLS" in s for s in spans), spans


def test_figure_source_by_default_is_the_annual_median(ask):
    assert {r["fact"] for r in ask("figure_source")} == {
        BASE + "salary/001-careeronestop-annual-median"
    }


def test_which_documents_mention_scala_and_in_what_role(ask):
    rows = ask("entity_mentions")  # Scala is the default entity
    assert _set(rows, "document") == {DOC1, DOC2}
    roles = {(r["document"], r["relation"].removeprefix(DEF), r["otherLabel"]) for r in rows}
    assert (DOC1, "usesTechnology", "machine learning engineer") in roles
    assert (DOC2, "usesTechnology", "machine learning engineer") in roles
    assert (
        DOC1,
        "technologyCategory",
        "object or component oriented development software",
    ) in roles


def test_entity_mentions_include_fact_nodes(ask):
    rows = ask("entity_mentions", entity=BASE + "place/boston")
    assert {r["otherLabel"] for r in rows if r["document"] == DOC0} >= {
        "Indeed average ML engineer salary, Boston"
    }
    assert DOC1 in _set(rows, "document")  # the hotspot


# ---------------------------------------------------------------- lists of one kind


def test_every_listed_school_with_its_figures(ask):
    rows = {r["name"]: r for r in ask("schools")}
    assert len(rows) == 6
    umd = rows["University of Maryland-College Park"]
    assert (umd["city"], umd["state"], umd["inStateTuition"], umd["outOfStateTuition"]) == (
        "College Park",
        "Maryland",
        9695,
        37931,
    )
    assert (umd["admissionRate"], umd["graduationRate"], umd["totalEnrollment"]) == (45, 89, 40792)
    asu = rows["Arizona State University Campus Immersion"]
    assert (asu["state"], asu["admissionRate"], asu["totalEnrollment"]) == ("Arizona", 90, 80065)


def test_schools_admitting_at_most_half(ask):
    rows = ask("schools_by_admission_rate")
    assert [(r["name"], r["admissionRate"]) for r in rows] == [
        ("University of Southern California", 12),
        ("University of California-Irvine", 21),
        ("University of Illinois Urbana-Champaign", 45),
        ("University of Maryland-College Park", 45),
    ]
    assert [r["name"] for r in ask("schools_by_admission_rate", maxRate="20")] == [
        "University of Southern California"
    ]


def test_certifications_with_price_and_exam(ask):
    rows = ask("certifications")
    by_offer = {(r["name"], r["price"]): r for r in rows}
    assert set(by_offer) == {
        (AWS_NAME, 300),
        ("Google Professional Machine Learning Engineer certification", 200),
        ("Harvard Data Science: Machine Learning", 0),
        ("Harvard Data Science: Machine Learning", 109),
        ("IBM Machine Learning Professional Certificate", 49),
        ("Machine Learning by Stanford University", 49),
    }
    aws = by_offer[(AWS_NAME, 300)]
    assert (aws["providerName"], aws["billing"], aws["passingScore"]) == ("Amazon", "one-off", 750)
    assert by_offer[("IBM Machine Learning Professional Certificate", 49)]["billing"] == "per month"
    assert (
        by_offer[("Google Professional Machine Learning Engineer certification", 200)]["validFor"]
        == "P2Y"
    )


def test_salary_figures_with_scope_and_publisher(ask):
    rows = ask("salary_figures")
    assert len(rows) == 16  # 12 in document 000, 3 in 001, 1 in 002
    national = {
        r["figure"].removeprefix(BASE + "salary/"): r for r in rows if r["scopeLabel"] == "national"
    }
    typical = national["d000-ml-engineer-us-typical-range"]
    assert (typical["minValue"], typical["maxValue"]) == (112832, 143180)
    assert set(typical["publishers"].split(", ")) == {
        "Payscale",
        "ZipRecruiter",
        "Salary.com",
        "Glassdoor",
    }
    median = national["001-careeronestop-annual-median"]
    assert (median["value"], median["statistic"], median["publishers"]) == (
        108020,
        "median",
        "CareerOneStop",
    )


def test_salary_figures_of_one_publisher_and_scope(ask):
    rows = ask("salary_figures", scope=DEF + "CityScope", publisher=BASE + "org/indeed")
    assert {(r["location"], r["value"]) for r in rows} == {
        ("Boston", 126585),
        ("Los Angeles", 121046),
        ("New York City", 127759),
        ("San Francisco", 134901),
        ("Seattle", 123937),
    }


def test_salaries_by_experience_level(ask):
    rows = ask("salaries_by_experience_level")
    assert [(r["level"], r["value"], r["minValue"], r["maxValue"]) for r in rows] == [
        ("entry level", 93867, None, None),
        ("junior level", 111914, None, None),
        ("mid level", 141720, None, None),
        ("senior", None, 147630, 150322),
    ]
    assert _set(rows, "publisher") == {"Payscale"}


def test_annual_salaries_above_a_threshold(ask):
    labels = {r["label"] for r in ask("salaries_above")}  # 120000 by default
    for city in ("San Francisco", "New York City", "Boston", "Seattle", "Los Angeles"):
        assert f"Indeed average ML engineer salary, {city}" in labels
    assert "Indeed average ML engineer salary, California" not in labels  # 119,732
    assert "Payscale average ML engineer salary, junior level" not in labels  # 111,914
    assert not any("hourly" in label for label in labels)
    high = ask("salaries_above", minSalary="140000")
    assert {r["value"] or r["maxValue"] for r in high} >= {141720, 150322, 143180}
    assert all((r["value"] or r["maxValue"]) >= 140000 for r in high)


def test_salaries_by_location_ranked(ask):
    rows = ask("salaries_by_location", publisher=BASE + "org/indeed")
    assert [r["location"] for r in rows] == [
        "San Francisco",
        "New York City",
        "Boston",
        "Seattle",
        "Los Angeles",
        "California",
        "Florida",
    ]


def test_learning_resources(ask):
    rows = ask("learning_resources")
    kinds: dict[str, set] = {}
    for row in rows:
        kinds.setdefault(row["kindLabel"], set()).add(row["name"])
    assert kinds["podcast"] == {"Linear Digressions", "The TWIML AI Podcast"}
    assert kinds["video channel"] == {"3Blue1Brown", "StatQuest with Josh Starmer"}
    assert kinds["journal"] == {"Journal of Machine Learning Research"}
    assert {"Kaggle", "Towards Data Science", "GitHub"} <= kinds["website"]
    stanford = next(r for r in rows if r["name"] == "Machine Learning by Stanford University")
    assert (stanford["people"], stanford["platform"]) == ("Andrew Ng", "Coursera")
    books = ask("learning_resources", kind=DEF + "Book")
    assert len(books) == 3 and _set(books, "kindLabel") == {"book"}


def test_recommended_organizations(ask):
    rows = ask("recommended_organizations")
    associations = {r["name"] for r in rows if r["kind"] == "professional association"}
    assert associations == {
        "IEEE Computational Intelligence Society",
        "Association for Computing Machinery",
        "Data Science Association",
    }


def test_industries_that_employ_ml_engineers(ask):
    rows = {r["label"]: r for r in ask("industries")}
    for both in ("finance", "healthcare", "retail", "technology"):
        assert rows[both]["documents"] == 2, both
    for only_002 in ("government", "transportation", "oil and gas"):
        assert rows[only_002]["documents"] == 1, only_002
    assert {"credit scoring", "fraud detection"} <= set(rows["finance"]["applications"].split("; "))


# ---------------------------------------------------------------- a role's profile


def test_role_profile_job_titles(ask):
    rows = ask("role_profile", aspect=DEF + "hasJobTitle")
    titles = {r["label"]: r["documents"] for r in rows}
    assert set(titles) == {
        "machine learning research scientist",
        "ML developer",
        "junior machine learning engineer",
        "senior machine learning engineer",
        "machine learning software engineer",
        "algorithm engineer",
        "deep learning engineer",
        "AI/ML engineer",
        "natural language processing engineer",
        "machine learning engineer",
        "data scientist",
        "AI engineer",
        "applied scientist",
    }
    assert titles["deep learning engineer"] == 2


def test_role_profile_covers_skills_responsibilities_and_degrees(ask):
    rows = ask("role_profile")
    aspects = {r["aspect"].removeprefix(DEF) for r in rows}
    assert {
        "requiresSkill",
        "usesTechnology",
        "hasResponsibility",
        "recommendedDegree",
        "hasJobTitle",
        "hotspot",
        "workArrangement",
        "recommendedCertification",
    } <= aspects
    hotspots = {r["label"] for r in rows if r["aspect"] == DEF + "hotspot"}
    assert hotspots == {"Silicon Valley", "New York City", "Seattle", "Austin", "Boston"}
    degrees = {r["label"] for r in rows if r["aspect"] == DEF + "recommendedDegree"}
    assert {"master's degree in machine learning", "doctorate in machine learning"} <= degrees


def test_job_titles_with_documents(ask):
    rows = {r["label"]: set(r["documents"].split(", ")) for r in ask("job_titles")}
    assert rows["deep learning engineer"] == {DOC0, DOC1}
    assert rows["ML developer"] == {DOC0}
    assert len(rows) == 13


def test_skills_named_by_all_three_documents_for_the_role(ask):
    rows = ask("role_skills_across_documents", minDocuments="3")
    assert {"programming", "statistics", "data modeling"} <= _set(rows, "label")
    assert all(r["documents"] == 3 for r in rows)
    every = ask("role_skills_across_documents")
    assert len(every) > len(rows) and "Bayesian statistics" in _set(every, "label")


def test_career_paths(ask):
    steps = ask("career_path")
    paths = {}
    for row in steps:
        paths.setdefault(row["path"].removeprefix(BASE + "career-path/"), []).append(row)
    assert [s["position"] for s in paths["002-guideline"]] == [1, 2, 3, 4]
    assert set(paths["002-guideline"][1]["roles"].split(", ")) == {
        "software engineer",
        "software programmer",
        "software developer",
        "data scientist",
        "computer scientist",
    }
    assert [s["position"] for s in paths["001-progression"]] == [1, 2]


def test_technologies_by_category(ask):
    rows = {r["label"]: r for r in ask("technologies_by_category")}
    assert rows["Scala"]["category"] == "object or component oriented development software"
    assert set(rows["Scala"]["documents"].split(", ")) == {DOC1, DOC2}
    assert rows["Amazon Redshift"]["category"] == "data base user interface and query software"
    assert rows["Microsoft PowerPoint"]["category"] == "presentation software"


def test_esco_concepts_for_the_role_skills(ask):
    """The alignments curated in data/esco-alignment.ttl (not stated by the documents)."""
    rows = {r["skillLabel"]: r for r in ask("esco_concepts_for_role_skills")}
    assert (rows["Python"]["match"], rows["Python"]["escoLabel"]) == (
        "exact",
        "Python (computer programming)",
    )
    assert (rows["C++"]["match"], rows["C++"]["esco"]) == (
        "exact",
        "http://data.europa.eu/esco/skill/b633eb55-8f1f-4ae6-ab4c-2022ffe2cb7f",
    )
    assert (
        rows["machine learning algorithms"]["match"],
        rows["machine learning algorithms"]["escoLabel"],
    ) == ("close", "machine learning")
    assert all(r["esco"].startswith("http://data.europa.eu/esco/skill/") for r in rows.values())


# ---------------------------------------------------------------- provenance and search


def test_which_document_states_the_aws_exam_facts(ask, real_store):
    rows = ask("evidence_for", subject=BASE + "exam/aws-certified-machine-learning-specialty")
    facts = {r["property"].removeprefix(DEF): r["object"] for r in rows}
    assert facts == {"passingScore": 750, "minScore": 100, "maxScore": 1000}
    text = _source_text(real_store, DOC0)
    for row in rows:
        assert row["document"] == DOC0
        assert (
            "750" in text[row["start"] : row["end"]] and "1,000" in text[row["start"] : row["end"]]
        )


def test_evidence_for_one_predicate_of_an_entity(ask, real_store):
    rows = ask(
        "evidence_for",
        subject=BASE + "university/oregon-state-university",
        predicate=DEF + "totalEnrollment",
    )
    assert [(r["object"], r["document"]) for r in rows] == [(34292, DOC1)]
    assert "34,292" in _source_text(real_store, DOC1)[rows[0]["start"] : rows[0]["end"]]


def test_search_by_name(ask):
    rows = ask("search", text="python")
    assert [(r["label"], r["documents"]) for r in rows] == [("Python", 3)]
    assert ask("search", text="no such thing anywhere") == []


def test_documents(ask):
    rows = ask("documents")
    assert [r["fileName"] for r in rows] == [DOC0, DOC1, DOC2]
    assert [r["characters"] for r in rows] == [9950, 20149, 2968]
    assert all(r["entities"] > 0 and r["statements"] > 0 for r in rows)


def test_every_canned_query_has_an_answer_test():
    source = Path(__file__).read_text(encoding="utf-8")
    asked = set(re.findall(r'ask\(\s*"([a-z0-9_]+)"', source))
    names = {p.stem for p in (ROOT / "queries").glob("*.rq")}
    assert len(names) >= 25
    assert names - asked == set(), "queries without an answer test"
