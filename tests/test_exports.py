"""Dumps: lossless round trips in all six formats, streaming, the CLI and the HTTP routes."""

from __future__ import annotations

import gzip
import inspect
import io
import multiprocessing
import os
import shutil
import stat
import threading
import time
import tracemalloc

import pyoxigraph as ox
import pytest
from exports_helpers import (
    FIXTURE,
    build_store,
    default_graph,
    fixture_build,
    named_graphs,
    open_read_only,
    rdflib_dataset_graphs,
    rdflib_graph,
    real_build,
)
from rdflib import BNode, Dataset, Graph
from rdflib.compare import isomorphic

from mlkg import exports, filecache, jsonld, void
from mlkg.build import current_store, load_meta
from mlkg.cli import cli
from mlkg.errors import ParameterError, StoreError

RDFLIB_FORMATS = {
    "ttl": "turtle",
    "jsonld": "json-ld",
    "nt": "nt",
    "rdf": "xml",
    "trig": "trig",
    "nq": "nquads",
}
OX_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "jsonld": ox.RdfFormat.JSON_LD,
    "nt": ox.RdfFormat.N_TRIPLES,
    "rdf": ox.RdfFormat.RDF_XML,
    "trig": ox.RdfFormat.TRIG,
    "nq": ox.RdfFormat.N_QUADS,
}
SUFFIXES = [e.suffix for e in exports.EXPORTS]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    settings, meta = fixture_build(str(tmp_path_factory.getbasetemp() / "exports-var"))
    store = open_read_only(settings)
    return settings, meta, store


@pytest.fixture(scope="module")
def about(fixture):
    settings, meta, store = fixture
    return exports.description(settings, store, meta)


@pytest.fixture(scope="module")
def app(fixture):
    from mlkg.web import create_app

    return create_app({"TESTING": True, "SETTINGS": fixture[0]})


@pytest.fixture()
def client(app):
    return app.test_client()


def dump(store, suffix, description=()) -> bytes:
    out = io.BytesIO()
    exports.write_export(store, exports.export_for(suffix), out, description=description)
    return out.getvalue()


def parse_ox(body: bytes, suffix: str) -> list[ox.Quad]:
    return list(ox.parse(body, OX_FORMATS[suffix]))


# ---------------------------------------------------------------- the table


def test_the_six_formats_are_offered_with_their_media_types():
    assert {e.suffix: e.media_type for e in exports.EXPORTS} == {
        "ttl": "text/turtle",
        "jsonld": "application/ld+json",
        "nt": "application/n-triples",
        "rdf": "application/rdf+xml",
        "trig": "application/trig",
        "nq": "application/n-quads",
    }
    assert {e.suffix for e in exports.EXPORTS if e.dataset} == {"trig", "nq"}


def test_unknown_format_names_the_formats_on_offer():
    with pytest.raises(ParameterError) as info:
        exports.export_for("xlsx")
    assert "'xlsx'" in info.value.detail and "ttl" in info.value.detail and info.value.status == 400


# ---------------------------------------------------------------- no loss (exact terms: pyoxigraph)


@pytest.mark.parametrize("suffix", ["ttl", "jsonld", "nt", "rdf"])
def test_graph_dump_gives_back_exactly_the_default_graph_and_the_description(
    fixture, about, suffix
):
    _, _, store = fixture
    parsed = {q.triple for q in parse_ox(dump(store, suffix, about), suffix)}
    assert parsed == default_graph(store) | set(about)


@pytest.mark.parametrize("suffix", ["trig", "nq"])
def test_dataset_dump_keeps_each_file_in_its_named_graph(fixture, about, suffix):
    _, _, store = fixture
    quads = parse_ox(dump(store, suffix, about), suffix)
    graphs: dict[str, set] = {}
    for q in quads:
        graphs.setdefault(
            "" if q.graph_name == ox.DefaultGraph() else q.graph_name.value, set()
        ).add(q.triple)
    assert graphs.pop("") == set(about)
    assert graphs == named_graphs(store)
    assert set().union(*graphs.values()) == default_graph(
        store
    )  # the union is the other dumps' graph


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_dump_without_description_is_the_store_alone(fixture, suffix):
    _, _, store = fixture
    quads = parse_ox(dump(store, suffix), suffix)
    if exports.export_for(suffix).dataset:
        assert {(q.graph_name.value, q.triple) for q in quads} == {
            (g, t) for g, ts in named_graphs(store).items() for t in ts
        }
    else:
        assert {q.triple for q in quads} == default_graph(store)


# ---------------------------------------------------------------- no loss (a second parser: rdflib)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_rdflib_reads_every_dump_as_the_built_graph(fixture, about, suffix):
    _, _, store = fixture
    body = dump(store, suffix, about)
    if exports.export_for(suffix).dataset:
        parsed = rdflib_dataset_graphs(Dataset().parse(data=body, format=RDFLIB_FORMATS[suffix]))
        assert isomorphic(parsed.pop(""), rdflib_graph(about))
        expected = named_graphs(store)
        assert set(parsed) == set(expected)
        for name, triples in expected.items():
            assert isomorphic(parsed[name], rdflib_graph(triples)), name
    else:
        parsed = Graph().parse(data=body, format=RDFLIB_FORMATS[suffix])
        assert isomorphic(parsed, rdflib_graph(default_graph(store) | set(about)))


def test_fixture_values_survive_by_name(fixture, about):
    """The cases the round trips must cover are really in the fixture store (and come back)."""
    _, _, store = fixture
    triples = {q.triple for q in parse_ox(dump(store, "jsonld", about), "jsonld")}
    literals = {t.object for t in triples if isinstance(t.object, ox.Literal)}
    assert ox.Literal("Aurélien Géron", language="en") in literals
    assert ox.Literal("オーレリアン・ジェロン", language="ja") in literals
    assert any(
        lit.value == "ingénieur en apprentissage automatique" and lit.language.lower() == "fr-ca"
        for lit in literals
    )
    assert ox.Literal("abc", datatype=ox.NamedNode("https://example.org/custom#type")) in literals
    assert ox.Literal("") in literals and ox.Literal("42") in literals
    assert any("\n" in lit.value and "\\" in lit.value and '"' in lit.value for lit in literals)
    datatypes = {lit.datatype.value.rsplit("#", 1)[-1] for lit in literals if not lit.language}
    assert {
        "decimal",
        "integer",
        "gYear",
        "duration",
        "boolean",
        "double",
        "date",
        "dateTime",
        "string",
    } <= datatypes  # (the store keeps xsd:nonNegativeInteger as xsd:integer; see docs/exports.md)


# ---------------------------------------------------------------- blank nodes and lexical forms
# A pyoxigraph Store normalises some literals as it stores them ("007"^^xsd:integer becomes "7",
# xsd:nonNegativeInteger becomes xsd:integer), and the built store has no blank nodes (skolemized).
# So the writers are also checked on quads parsed straight from the fixture file, which keep both.

NAMED = ox.NamedNode("https://w3id.org/mlkg/graph/x/people")


@pytest.fixture(scope="module")
def raw_quads() -> list[ox.Quad]:
    """The fixture file as parsed (blank nodes, lexical forms untouched), in two graphs."""
    parsed = list(ox.parse((FIXTURE / "people.ttl").read_bytes(), ox.RdfFormat.TURTLE))
    quads = [ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph()) for q in parsed]
    quads += [ox.Quad(q.subject, q.predicate, q.object, NAMED) for q in parsed]
    assert any(isinstance(q.subject, ox.BlankNode) for q in quads)
    return quads


@pytest.fixture(scope="module")
def blank_store(raw_quads):
    """A store holding the same quads (blank nodes kept; lexical forms normalised by the store)."""
    store = ox.Store()
    store.extend(raw_quads)
    return store


def canonical(quads) -> set[str]:
    """Quads with blank nodes canonically relabelled (RDFC-1.0), as comparable strings."""
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return {str(q) for q in dataset}


def write(quads: list[ox.Quad], suffix: str) -> bytes:
    export, out = exports.export_for(suffix), io.BytesIO()
    if export.dataset:
        exports.write_quads([q for q in quads if q.graph_name != ox.DefaultGraph()], export, out)
    else:
        exports.write_triples(
            [q.triple for q in quads if q.graph_name == ox.DefaultGraph()], export, out
        )
    return out.getvalue()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_writers_keep_blank_nodes_and_lexical_forms_exactly(raw_quads, suffix):
    """Exact terms ("007"^^xsd:integer, xsd:nonNegativeInteger, ...), blank nodes relabelled."""
    parsed = parse_ox(write(raw_quads, suffix), suffix)
    if exports.export_for(suffix).dataset:
        expected = [q for q in raw_quads if q.graph_name != ox.DefaultGraph()]
    else:
        expected = [q for q in raw_quads if q.graph_name == ox.DefaultGraph()]
    assert canonical(parsed) == canonical(expected)
    xsd = "http://www.w3.org/2001/XMLSchema#"
    for lexical, datatype in (
        ("007", "integer"),
        ("1", "boolean"),
        ("120", "nonNegativeInteger"),
        ("090000", "decimal"),
        ("12345678901234567890", "integer"),
    ):
        assert any(
            q.object == ox.Literal(lexical, datatype=ox.NamedNode(xsd + datatype)) for q in parsed
        ), lexical
    assert any(isinstance(q.subject, ox.BlankNode) for q in parsed)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_blank_nodes_round_trip_through_rdflib(blank_store, suffix):
    body = dump(blank_store, suffix)
    if exports.export_for(suffix).dataset:
        parsed = rdflib_dataset_graphs(Dataset().parse(data=body, format=RDFLIB_FORMATS[suffix]))
        expected = named_graphs(blank_store)
        assert set(parsed) == set(expected)
        for name, triples in expected.items():
            assert isomorphic(parsed[name], rdflib_graph(triples))
    else:
        parsed = Graph().parse(data=body, format=RDFLIB_FORMATS[suffix])
        assert isomorphic(parsed, rdflib_graph(default_graph(blank_store)))
        assert any(isinstance(s, BNode) for s in parsed.subjects())


# ---------------------------------------------------------------- bounded memory


def test_jsonld_writer_streams_in_bounded_memory():
    """Python-side memory of the JSON-LD writer does not grow with the number of triples."""

    def triples(n):
        label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
        for i in range(n):
            yield ox.Triple(
                ox.NamedNode(f"https://w3id.org/mlkg/x/{i}"),
                label,
                ox.Literal(f"thing {i} é", language="en"),
            )

    class Sink(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            return len(b)

    peaks = []
    for n in (2_000, 40_000):
        tracemalloc.start()
        jsonld.write_jsonld(triples(n), Sink())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 3 + 200_000, peaks  # 20 times the triples, far less memory


def test_export_streams_from_the_store_lazily(fixture):
    """The writer pulls triples from the store as it goes (generators, never a list)."""
    _, _, store = fixture
    assert inspect.isgenerator(exports.graph_triples(store))
    assert inspect.isgenerator(exports.named_graph_quads(store))


# ---------------------------------------------------------------- the CLI


def test_cli_exports_to_stdout(fixture, cli_runner):
    settings, _, store = fixture
    result = cli_runner.invoke(
        cli,
        ["export", "--format", "nt", "--no-description"],
        env={"MLKG_VAR": str(settings.var_dir)},
    )
    assert result.exit_code == 0, result.output
    assert {
        q.triple for q in ox.parse(result.stdout_bytes, ox.RdfFormat.N_TRIPLES)
    } == default_graph(store)


def test_cli_exports_to_a_file_with_the_format_from_its_suffix(fixture, cli_runner, tmp_path):
    settings, _, store = fixture
    target = tmp_path / "graph.trig"
    result = cli_runner.invoke(
        cli, ["export", "-o", str(target)], env={"MLKG_VAR": str(settings.var_dir)}
    )
    assert result.exit_code == 0, result.output
    quads = list(ox.parse(target.read_bytes(), ox.RdfFormat.TRIG))
    assert {q.graph_name.value for q in quads if q.graph_name != ox.DefaultGraph()} == set(
        named_graphs(store)
    )
    assert not list(tmp_path.glob(".*part"))


def test_cli_output_dash_is_stdout_and_an_empty_path_is_refused(fixture, cli_runner, tmp_path,
                                                                 monkeypatch):
    """Before, `-o -` wrote a file named '-' in the working folder and `-o ''` ended in a traceback."""
    settings, _, store = fixture
    monkeypatch.chdir(tmp_path)
    env = {"MLKG_VAR": str(settings.var_dir)}
    result = cli_runner.invoke(cli, ["export", "--format", "nt", "--no-description", "-o", "-"], env=env)
    assert result.exit_code == 0, result.output
    assert {q.triple for q in ox.parse(result.stdout_bytes, ox.RdfFormat.N_TRIPLES)} == default_graph(store)
    assert not list(tmp_path.iterdir())
    empty = cli_runner.invoke(cli, ["export", "-o", ""], env=env)
    assert empty.exit_code == 2 and "names no file" in empty.output
    assert "Traceback" not in empty.output and not list(tmp_path.iterdir())


def test_cli_writes_into_a_pipe_or_device_rather_than_replacing_it(fixture, cli_runner, tmp_path):
    """`-o` a named pipe (or /dev/stdout, or >(gzip >f) in a shell) was replaced by a regular file
    renamed over it: the reader got nothing, and as root `-o /dev/null` would replace the device."""
    settings, _, store = fixture
    fifo = tmp_path / "dump.nt"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    keep_open = os.open(fifo, os.O_WRONLY)  # so the reader sees no end before the export's
    os.set_blocking(reader, True)
    got = bytearray()

    def read() -> None:
        while chunk := os.read(reader, 1 << 16):
            got.extend(chunk)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        result = cli_runner.invoke(
            cli,
            ["export", "--format", "nt", "--no-description", "-o", str(fifo)],
            env={"MLKG_VAR": str(settings.var_dir)},
        )
    finally:
        os.close(keep_open)
        thread.join(10)
        os.close(reader)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert {q.triple for q in ox.parse(bytes(got), ox.RdfFormat.N_TRIPLES)} == default_graph(store)
    assert not list(tmp_path.glob(".*part"))


def test_cli_rejects_an_unknown_format(fixture, cli_runner):
    result = cli_runner.invoke(
        cli, ["export", "--format", "xlsx"], env={"MLKG_VAR": str(fixture[0].var_dir)}
    )
    assert result.exit_code == 1
    assert "unknown export format 'xlsx'" in result.output and "Traceback" not in result.output


def test_cli_without_a_store_says_to_build(cli_runner, tmp_path):
    result = cli_runner.invoke(cli, ["export"], env={"MLKG_VAR": str(tmp_path / "empty")})
    assert result.exit_code == 1 and "mlkg build" in result.output


# ---------------------------------------------------------------- HTTP


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_http_dump_has_media_type_disposition_and_validators(client, fixture, about, suffix):
    settings, meta, store = fixture
    response = client.get(f"/export.{suffix}")
    assert response.status_code == 200
    export = exports.export_for(suffix)
    assert response.mimetype == export.media_type
    assert (
        response.headers["Content-Disposition"] == f"attachment; filename=mlkg-{meta.id}.{suffix}"
    )
    assert (
        response.headers["ETag"] == f'"{exports.etag(settings, meta, export)}"'
        and meta.id in response.headers["ETag"]
    )
    assert response.last_modified.timestamp() == int(meta.built_at)
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.data == dump(store, suffix, about)


def test_http_dump_answers_304_to_a_matching_etag(client):
    first = client.get("/export.ttl")
    again = client.get("/export.ttl", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/export.ttl", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_http_dump_is_gzipped_when_asked(client, fixture):
    plain = client.get("/export.nt")  # run first, this may follow the writer (and its gzip copy)
    packed = _written(client, fixture, "/export.nt", **{"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert (
        client.get(
            "/export.nt",
            headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
        ).status_code
        == 304
    )


def _written(client, fixture, path: str, **headers: str):
    """The whole dump at `path` once its file is written (the first request may follow the writer,
    and an answer followed as it is written takes no Range)."""
    settings, meta, _ = fixture
    export = exports.export_for(path.rsplit(".", 1)[1])
    whole = client.get(path, headers=headers)
    compressed = "gzip" in headers.get("Accept-Encoding", "")
    deadline = time.monotonic() + 30
    while not exports.dump_path(settings, meta, export, compressed=compressed).exists():
        assert time.monotonic() < deadline, "the dump was never written"
        time.sleep(0.05)
    return client.get(path, headers=headers) if compressed else whole


@pytest.mark.parametrize(
    "header",
    ["bytes=0-1,5-9", "bytes=abc", "items=0-5", "bytes=5-1", "bytes", "bytes=-0", "bytes=0-1,",
     "bytes=--1", "bytes=0-1, 3-4, 10-"],
)
def test_http_a_range_that_cannot_be_served_is_ignored_not_refused(client, fixture, header):
    """RFC 9110 section 14.2: several ranges, another unit or a malformed Range may be ignored
    (and must be for an unknown unit): the whole dump, 200. Werkzeug answered 416."""
    whole = _written(client, fixture, "/export.nt")
    response = client.get("/export.nt", headers={"Range": header})
    assert response.status_code == 200, response.data[:200]
    assert response.data == whole.data and "Content-Range" not in response.headers


def test_http_one_byte_range_of_a_dump_is_served(client, fixture):
    data = _written(client, fixture, "/export.nt").data
    size = len(data)
    for header, start, end in [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, size - 1),
        ("bytes=-5", size - 5, size - 1),
        (f"bytes=5-{size * 2}", 5, size - 1),
        (f"bytes=-{size * 2}", 0, size - 1),  # a suffix longer than the dump: all of it
    ]:
        response = client.get("/export.nt", headers={"Range": header})
        assert response.status_code == 206, header
        assert response.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert response.data == data[start : end + 1]
    etag = client.get("/export.nt").headers["ETag"]
    same = client.get("/export.nt", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.data == data[:10]
    changed = client.get("/export.nt", headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert changed.status_code == 200 and changed.data == data


def test_http_one_byte_range_of_a_gzip_dump_is_served(client, fixture):
    packed = _written(client, fixture, "/export.nt", **{"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    part = client.get("/export.nt", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.headers["Content-Encoding"] == "gzip"
    assert part.data == packed.data[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(packed.data)}"


def test_http_a_range_past_the_end_is_416_with_the_length(client, fixture):
    size = len(_written(client, fixture, "/export.nt").data)
    for header in (f"bytes={size}-", f"bytes={size * 3}-{size * 4}"):
        response = client.get("/export.nt", headers={"Range": header})
        assert response.status_code == 416 and response.mimetype == "application/problem+json"
        assert response.headers["Content-Range"] == f"bytes */{size}"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_take_ranges_by_the_same_rules(client):
    """The rule is the app's (`mlkg.web.ranges`): every file it sends follows it."""
    import doctest

    from mlkg.web import ranges

    assert doctest.testmod(ranges).failed == 0
    whole = client.get("/static/mlkg.css").data
    ignored = client.get("/static/mlkg.css", headers={"Range": "bytes=0-1,5-9"})
    assert ignored.status_code == 200 and ignored.data == whole
    part = client.get("/static/mlkg.css", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.data == whole[:4]


def test_http_head_gives_headers_only(client):
    response = client.head("/export.rdf")
    assert response.status_code == 200 and response.data == b"" and response.headers["ETag"]


def test_http_unknown_dump_is_a_404_problem(client):
    response = client.get("/export.xlsx", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "/export.ttl" in response.json["detail"]


def test_http_format_name_redirects_to_the_suffix(client):
    response = client.get("/export.turtle")
    assert response.status_code == 301 and response.headers["Location"].endswith("/export.ttl")


@pytest.mark.parametrize("path", ["/export.TTL", "/export.Turtle"])
def test_http_suffix_in_capitals_redirects_to_the_dump(client, path):
    """Was a 404 naming /export.ttl among the dumps (while /queries/schools.CSV answers)."""
    response = client.get(path)
    assert response.status_code == 301 and response.headers["Location"].endswith("/export.ttl")


def test_cli_reads_a_suffix_in_capitals(fixture, cli_runner, tmp_path):
    """`-o GRAPH.TTL` was "unknown export format 'TTL'"."""
    settings, _, store = fixture
    target = tmp_path / "GRAPH.TTL"
    env = {"MLKG_VAR": str(settings.var_dir)}
    result = cli_runner.invoke(cli, ["export", "--no-description", "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert {q.triple for q in ox.parse(target.read_bytes(), ox.RdfFormat.TURTLE)} == default_graph(store)


def test_http_export_page_lists_the_dumps_and_negotiates(client):
    page = client.get("/export", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for suffix in SUFFIXES:
        assert f'href="/export.{suffix}"'.encode() in page.data
    assert b'href="/ontology"' in page.data  # the nav link of every page
    redirect = client.get("/export", headers={"Accept": "application/n-quads"})
    assert redirect.status_code == 303 and redirect.headers["Location"].endswith("/export.nq")


def test_http_context_is_the_file_in_the_repository(client):
    response = client.get("/context.jsonld")
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    assert response.data == jsonld.CONTEXT_PATH.read_bytes()
    assert (
        client.get(
            "/context.jsonld", headers={"If-None-Match": response.headers["ETag"]}
        ).status_code
        == 304
    )


def test_http_dumps_follow_a_rebuild(tmp_path):
    """ETag and content are tied to the store in service: a new build changes both at once."""
    from mlkg.web import create_app

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.ttl").write_text(
        '<https://w3id.org/mlkg/x> <http://www.w3.org/2000/01/rdf-schema#label> "one"@en .\n'
    )
    settings, first = build_store(tmp_path / "var", (data,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    before = client.get("/export.nt")
    (data / "a.ttl").write_text(
        '<https://w3id.org/mlkg/x> <http://www.w3.org/2000/01/rdf-schema#label> "two"@en .\n'
    )
    _, second = build_store(tmp_path / "var", (data,))
    after = client.get("/export.nt")
    assert first.id != second.id
    assert before.headers["ETag"] != after.headers["ETag"] and second.id in after.headers["ETag"]
    assert b'"two"@en' in after.data and b'"one"@en' not in after.data
    assert (
        client.get("/export.nt", headers={"If-None-Match": before.headers["ETag"]}).status_code
        == 200
    )


def test_http_without_a_store_is_a_503_problem(tmp_path):
    from mlkg.web import create_app

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.ttl").write_text(
        '<https://w3id.org/mlkg/x> <http://www.w3.org/2000/01/rdf-schema#label> "x"@en .\n'
    )
    settings, _ = build_store(tmp_path / "var", (data,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    settings.store_link.unlink()  # the store taken out of service after start-up
    response = client.get("/export.ttl", headers={"Accept": "application/json"})
    assert response.status_code == 503 and "mlkg build" in response.json["detail"]


def test_cached_dumps_of_old_stores_are_pruned(fixture, tmp_path):
    settings, meta, _ = fixture
    stale = settings.var_dir / "exports" / "0000000000000000"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "mlkg-old.ttl").write_text("old")
    for cached in (settings.var_dir / "exports" / meta.id).glob("*.nq*"):
        cached.unlink()  # pruning happens when a dump is written
    path = exports.cached_export(settings, current_store(settings), meta, exports.export_for("nq"))
    assert path.exists() and not stale.exists()


def test_description_is_in_every_http_dump(client, fixture, about):
    dataset = void.dataset_iri(fixture[0])
    for suffix in SUFFIXES:
        body = client.get(f"/export.{suffix}").data
        subjects = {q.subject.value for q in parse_ox(body, suffix)}
        assert str(dataset) in subjects, suffix


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_real_data_round_trips_in_every_format(tmp_path_factory, suffix):
    """The curators' data as it stands (built without validation), exact terms, graph by graph."""
    settings, meta = real_build(str(tmp_path_factory.getbasetemp() / "real-var"))
    store = open_read_only(settings)
    about = exports.description(settings, store, meta)
    quads = parse_ox(dump(store, suffix, about), suffix)
    if exports.export_for(suffix).dataset:
        graphs: dict[str, set] = {}
        for q in quads:
            graphs.setdefault(
                "" if q.graph_name == ox.DefaultGraph() else q.graph_name.value, set()
            ).add(q.triple)
        assert graphs.pop("") == set(about) and graphs == named_graphs(store)
    else:
        assert {q.triple for q in quads} == default_graph(store) | set(about)
    assert any(
        isinstance(q.object, ox.Literal) and q.object.value == "Aurélien Géron" for q in quads
    )


def _dump_in_a_process(settings) -> None:
    store_dir = current_store(settings)
    exports.cached_export(settings, store_dir, load_meta(store_dir), exports.export_for("nt"))


def test_two_processes_asking_at_once_write_a_dump_once(tmp_path, monkeypatch):
    """`mlkg serve`'s server processes share the cache folder: the second waits for the first's file."""
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    counter = tmp_path / "writes"
    original = filecache.run_elsewhere

    def slow_counted_write(target, args, **kwargs):
        with counter.open("a") as out:
            out.write("x")
        time.sleep(0.5)  # long enough for the other process to arrive while this one writes
        return original(target, args, **kwargs)

    monkeypatch.setattr(filecache, "run_elsewhere", slow_counted_write)
    forked = multiprocessing.get_context("fork")
    procs = [forked.Process(target=_dump_in_a_process, args=(settings,)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert counter.read_text() == "x"
    written = list((settings.var_dir / "exports" / meta.id).glob("mlkg-*.nt"))
    assert len(written) == 1 and written[0].stat().st_size > 0


def test_a_dump_is_written_by_another_process(tmp_path, monkeypatch):
    """Serializing a large graph holds the interpreter lock for seconds: not in a server process."""
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    store_dir = current_store(settings)

    def not_here(*args, **kwargs):
        raise AssertionError("the dump was serialized in the calling process")

    monkeypatch.setattr(exports, "write_export", not_here)
    ttl = exports.export_for("ttl")
    path = exports.cached_export(settings, store_dir, meta, ttl, compressed=True)
    with gzip.open(path) as packed:
        body = packed.read()
    expected = io.BytesIO()
    monkeypatch.undo()
    store = ox.Store.read_only(str(store_dir))
    about = exports.description(settings, store, meta)
    exports.write_export(store, ttl, expected, description=about)
    assert body == expected.getvalue() == path.with_suffix("").read_bytes()


def test_a_dump_that_cannot_be_written_says_why_and_leaves_nothing(tmp_path):
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    missing = tmp_path / "no-such-store"
    with pytest.raises(StoreError) as info:
        exports.cached_export(settings, missing, meta, exports.export_for("nt"))
    detail = str(info.value)
    assert "cannot write the nt dump under" in detail and "cannot open the store at" in detail
    assert str(missing) in detail
    folder = settings.var_dir / "exports" / meta.id
    assert [f.name for f in folder.iterdir() if not f.name.endswith(".lock")] == []


def _being_written(settings, meta, suffix: str):
    """A dump of `suffix` that this process is writing (as filecache.write_atomically names it)."""
    path = exports.dump_path(settings, meta, exports.export_for(suffix))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.1.tmp")
    tmp.write_bytes(b"<http://ex/a> <http://ex/b> <http://ex/c> .\n")
    return path, tmp


def _background_writers_done() -> None:
    deadline = time.monotonic() + 30
    while exports._writing and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_dump_being_written_is_sent_as_it_is_written(tmp_path):
    from mlkg.web import create_app

    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    path, tmp = _being_written(settings, meta, "nt")
    with filecache.exclusive(path):  # our writer holds the lock: the server's own one waits
        response = client.get("/export.nt", headers={"Accept-Encoding": "gzip"}, buffered=False)
        chunks = iter(response.response)
        first = next(chunks)  # sent before the file is complete
        assert first == tmp.read_bytes()
        with tmp.open("ab") as out:
            out.write(b"<http://ex/d> <http://ex/e> <http://ex/f> .\n")
        os.replace(tmp, path)
        rest = b"".join(chunks)
    _background_writers_done()
    assert first + rest == path.read_bytes() and rest.endswith(b"<http://ex/f> .\n")
    assert response.status_code == 200 and "Content-Length" not in response.headers
    assert "Content-Encoding" not in response.headers  # gzip is not written yet: sent plain
    assert response.headers["ETag"] == f'"{exports.etag(settings, meta, exports.export_for("nt"))}"'
    assert response.headers["Content-Disposition"] == f"attachment; filename=mlkg-{meta.id}.nt"


def test_a_dump_whose_writer_gives_up_is_cut_short_not_passed_off_as_whole(tmp_path):
    from mlkg.web import create_app

    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    path, tmp = _being_written(settings, meta, "ttl")
    with filecache.exclusive(path):
        response = client.get("/export.ttl", buffered=False)
        chunks = iter(response.response)
        next(chunks)
        tmp.unlink()  # the writer failed: its temporary file is removed, no dump appears
        with pytest.raises(StoreError, match="the download is incomplete"):
            b"".join(chunks)
    _background_writers_done()


def test_following_a_dump_nobody_writes_says_so(tmp_path):
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    path = exports.dump_path(settings, meta, exports.export_for("nq"))
    with pytest.raises(StoreError, match="nq dump is not being written"):
        exports.follow(path, wait=0.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    assert exports.follow(path, wait=0.1) is None  # complete: served as a file


def test_the_description_is_computed_once_per_build_and_read_from_its_file_after(
    tmp_path, monkeypatch
):
    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    store = ox.Store.read_only(str(current_store(settings)))
    monkeypatch.setattr(exports, "_descriptions", {})
    first = exports.description(settings, store, meta)
    written = list((settings.var_dir / "cache" / meta.id).glob("void-*.nt"))
    assert len(written) == 1

    def not_again(*args, **kwargs):
        raise AssertionError("described twice")

    monkeypatch.setattr(void, "describe", not_again)
    monkeypatch.setattr(exports, "_descriptions", {})  # as in another process
    assert exports.description(settings, store, meta) == first and len(first) > 10


def test_a_server_process_has_the_description_written_by_a_child_process(tmp_path, monkeypatch):
    """/.well-known/void with no description file yet: a child process computes and writes it
    (reading the whole graph took seconds at 1M triples in the server process, and over a damaged
    block would never end); the server process only reads the file."""
    from mlkg.web import create_app

    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    monkeypatch.setattr(exports, "_descriptions", {})

    def not_here(*args, **kwargs):
        raise AssertionError("the description was computed in the server process")

    monkeypatch.setattr(void, "describe", not_here)  # this process only: not the child's
    response = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and b"void:triples" in response.data
    assert len(list((settings.var_dir / "cache" / meta.id).glob("void-*.nt"))) == 1


def test_a_description_that_cannot_be_written_is_a_503_not_computed_in_the_server(
    tmp_path, monkeypatch
):
    from mlkg.web import create_app

    settings, _ = build_store(tmp_path / "var", (FIXTURE,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    monkeypatch.setattr(exports, "_descriptions", {})
    shutil.rmtree(settings.var_dir / "cache", ignore_errors=True)
    (settings.var_dir / "cache").write_text("a file where the cache folder would be")
    response = client.get("/.well-known/void", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert "cannot write the dataset description under" in response.json["detail"]


def test_a_dump_that_cannot_be_written_is_a_503_that_says_why(tmp_path):
    from mlkg.web import create_app

    settings, _ = build_store(tmp_path / "var", (FIXTURE,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    (settings.var_dir / "exports").write_text("a file where the dumps folder would be")
    response = client.get("/export.rdf", headers={"Accept": "application/json"})
    _background_writers_done()
    assert response.status_code == 503
    assert "cannot write the rdf dump under" in response.json["detail"]


def test_the_real_server_sends_a_dump_as_it_is_written(tmp_path):
    """granian passes the body on chunk by chunk: the first bytes arrive before the file is whole."""
    import requests
    from _live import LiveServer

    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    path, tmp = _being_written(settings, meta, "ttl")
    # the lock is held by this test, so the server's own writers wait behind "our" writer
    with filecache.exclusive(path), LiveServer(settings.var_dir) as server:
        response = requests.get(f"{server.url}/export.ttl", stream=True, timeout=20)
        chunks = response.iter_content(chunk_size=None)
        first = next(chunks)
        assert response.status_code == 200 and first == tmp.read_bytes()
        assert response.headers.get("Transfer-Encoding") == "chunked"
        with tmp.open("ab") as out:
            out.write(b"<http://ex/d> <http://ex/e> <http://ex/f> .\n")
        os.replace(tmp, path)
        body = first + b"".join(chunks)
    assert body == path.read_bytes() and body.endswith(b"<http://ex/f> .\n")


def test_a_dump_whose_gzip_copy_is_missing_is_sent_plain_while_the_copy_is_written(tmp_path):
    from mlkg.web import create_app

    settings, meta = build_store(tmp_path / "var", (FIXTURE,))
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    nt = exports.export_for("nt")
    exports.cached_export(settings, current_store(settings), meta, nt)  # plain only
    packed = exports.dump_path(settings, meta, nt, compressed=True)
    assert not packed.exists()
    response = client.get("/export.nt", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers
    assert response.data == exports.dump_path(settings, meta, nt).read_bytes()
    _background_writers_done()
    assert gzip.decompress(packed.read_bytes()) == response.data
    again = client.get("/export.nt", headers={"Accept-Encoding": "gzip"})
    assert again.headers["Content-Encoding"] == "gzip"
