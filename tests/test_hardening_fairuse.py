"""Fair use: per-client limits on requests in flight and server time per minute, answered with 429
and Retry-After; loopback exempt unless asked; configured from the environment."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from _live import LiveServer, build_from_files

from mlkg.config import Settings
from mlkg.fairuse import FairUse, Limits, Refused

CSP_NEEDLE = "frame-ancestors 'none'"
FIXTURE = Path(__file__).parent / "data" / "sparql" / "fixture.ttl"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_concurrent_requests_past_the_limit_are_refused_until_one_finishes() -> None:
    fair = FairUse(Limits(concurrent=2, seconds_per_minute=0, exempt_loopback=False))
    fair.enter("10.0.0.1")
    fair.enter("10.0.0.1")
    with pytest.raises(Refused, match="at most 2 at a time") as refused:
        fair.enter("10.0.0.1")
    assert refused.value.retry_after == 1
    fair.enter("10.0.0.2")  # another client is not affected
    fair.leave("10.0.0.1", 0.1)
    fair.enter("10.0.0.1")
    assert fair.refused == 1


def test_time_per_minute_is_a_sliding_budget_with_an_honest_retry_after() -> None:
    clock = Clock()
    fair = FairUse(Limits(concurrent=0, seconds_per_minute=10, exempt_loopback=False), clock=clock)
    for spent in (4.0, 4.0, 3.0):  # 11 s used by t = 1020
        fair.enter("c")
        clock.now += 10
        fair.leave("c", spent)
    with pytest.raises(Refused, match=r"used 11\.0 s of server time") as refused:
        fair.enter("c")
    # the first 4 s (finished at 1010) age out at 1070; now is 1030: 40 s to wait
    assert refused.value.retry_after == 40
    clock.now = 1070.5
    fair.enter("c")  # 7 s left in the window: under the budget again


def test_loopback_is_exempt_by_default_and_limits_come_from_the_environment() -> None:
    default = FairUse(Limits())
    assert default.exempt("127.0.0.1") and default.exempt("::1")
    assert not default.exempt("192.0.2.7")
    strict = FairUse(Limits.from_env({"MLKG_FAIR_LOCALHOST": "1", "MLKG_FAIR_CONCURRENT": "3",
                                      "MLKG_FAIR_SECONDS": "5"}))
    assert not strict.exempt("127.0.0.1")
    assert (strict.limits.concurrent, strict.limits.seconds_per_minute) == (3, 5.0)
    assert FairUse(Limits(concurrent=0, seconds_per_minute=0, exempt_loopback=False)).exempt("192.0.2.7")
    with pytest.raises(ValueError, match="MLKG_FAIR_SECONDS must be a number"):
        Limits.from_env({"MLKG_FAIR_SECONDS": "lots"})


@pytest.fixture(scope="module")
def fair_app(tmp_path_factory: pytest.TempPathFactory):
    """The app over a tiny store, with the limit on for every client (1 in flight, 0.05 s a minute)."""
    from mlkg.web import create_app

    var = tmp_path_factory.mktemp("fair") / "var"
    data = var.parent / "one.ttl"
    data.write_text('<https://w3id.org/mlkg/skill/one> <http://www.w3.org/2000/01/rdf-schema#label> "one" .\n',
                    encoding="utf-8")
    build_from_files(var, {"https://w3id.org/mlkg/graph/data/one": data})
    app = create_app({"TESTING": True,
                      "SETTINGS": Settings().with_overrides(var_dir=var, workers=1, sources_dir=var / "none"),
                      "FAIR_USE": Limits(concurrent=1, seconds_per_minute=0.05, exempt_loopback=False)})
    yield app
    app.extensions["mlkg"]["backend"].close()


def test_the_app_answers_429_with_retry_after_and_problem_json_once_the_budget_is_spent(fair_app) -> None:
    client = fair_app.test_client()
    fair = fair_app.extensions["mlkg"]["fair_use"]
    statuses = []
    for i in range(500):  # bounded: each (distinct, uncached) query costs ~1 ms, the budget is 50 ms
        reply = client.get("/sparql", query_string={"query": f"SELECT * {{ ?s ?p ?o }} LIMIT {i + 1}"},
                           environ_base={"REMOTE_ADDR": "198.51.100.9"})
        reply.get_data()  # the request counts out once its body has been read (or closed)
        statuses.append(reply.status_code)
        if reply.status_code == 429:
            break
    assert statuses[0] == 200 and statuses[-1] == 429
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert reply.mimetype == "application/problem+json"
    problem = reply.get_json()
    assert problem["status"] == 429 and "server time" in problem["detail"]
    assert CSP_NEEDLE in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    # another client, and /health, are still served
    other = client.get("/sparql", query_string={"query": "ASK {}"}, environ_base={"REMOTE_ADDR": "198.51.100.10"})
    assert other.status_code == 200
    assert client.get("/health", environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 200
    assert fair.refused >= 1


def test_a_live_server_limits_concurrent_queries_per_client(tmp_path: Path) -> None:
    """The real server with MLKG_FAIR_CONCURRENT=1 for loopback: of 6 slow queries sent at once by
    one client, some are refused with 429 + Retry-After, and the others answered."""
    var = tmp_path / "var"
    data = tmp_path / "many.ttl"
    data.write_text("".join(f"<https://w3id.org/mlkg/skill/s{i}> <http://ex/p> {i} .\n" for i in range(120)),
                    encoding="utf-8")
    build_from_files(var, {"https://w3id.org/mlkg/graph/data/many": data})
    slow = "SELECT (COUNT(*) AS ?n) { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z FILTER(?x + ?y > ?z) }"
    env = {"MLKG_FAIR_CONCURRENT": "1", "MLKG_FAIR_SECONDS": "0", "MLKG_FAIR_LOCALHOST": "1",
           "MLKG_ANSWER_CACHE_MB": "0"}
    with LiveServer(var, env=env, args=("--processes", "1", "--threads", "8", "--workers", "2")) as server:
        results: list[requests.Response] = []
        barrier = threading.Barrier(6)

        def ask() -> None:
            barrier.wait(timeout=10)
            results.append(requests.get(f"{server.url}/sparql", params={"query": slow}, timeout=30,
                                        headers={"Accept": "application/sparql-results+json"}))

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=40)
        codes = sorted(r.status_code for r in results)
        assert len(codes) == 6 and set(codes) <= {200, 429}, codes
        assert 200 in codes and 429 in codes, codes
        refused = next(r for r in results if r.status_code == 429)
        assert refused.headers["Retry-After"] == "1"
        assert "at most 1 at a time" in refused.json()["detail"]
        assert CSP_NEEDLE in refused.headers["Content-Security-Policy"]


def _get_from(address: str, url: str, query: str, out: list) -> None:
    """GET /sparql?query= over a connection from `address` (another loopback address is another
    client to the server), noting (status, headers, body, seconds)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30,
                                            source_address=(address, 0))
    started = time.monotonic()
    try:
        connection.request("GET", "/sparql?" + urlencode({"query": query}),
                            headers={"Accept": "application/sparql-results+json"})
        response = connection.getresponse()
        out.append((response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(),
                    time.monotonic() - started))
    finally:
        connection.close()


def test_a_live_server_makes_room_for_a_client_when_another_holds_every_worker(tmp_path: Path) -> None:
    """One client (127.0.0.2) keeps both query workers busy with cross joins; another (127.0.0.1)
    is answered within about a second, not after the time limit: the first client's oldest query is
    stopped with 429 saying why (loopback clients are exempt from the fair-use limits, not from this)."""
    var = tmp_path / "var"
    build_from_files(var, {"https://w3id.org/mlkg/graph/test/fixture": FIXTURE})
    cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    env = {"MLKG_QUERY_TIMEOUT": "6", "MLKG_ANSWER_CACHE_MB": "0"}
    with LiveServer(var, env=env, args=("--processes", "1", "--workers", "2")) as server:
        hogs: list = []
        threads = [threading.Thread(target=_get_from, args=("127.0.0.2", server.url, f"{cross} #{i}", hogs))
                   for i in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.8)  # both workers busy, a third query waiting
        other: list = []
        _get_from("127.0.0.1", server.url, "SELECT ?s WHERE { ?s ?p ?o . ?o ?q ?s } LIMIT 1", other)
        status, _, _, seconds = other[0]
        assert status == 200 and seconds < 3.0  # without the fair share: ~6 s, at the time limit
        for thread in threads:
            thread.join(timeout=30)
        stopped = [(headers, body) for status, headers, body, _ in hogs if status == 429]
        assert len(stopped) == 1 and sorted(s for s, *_ in hogs) == [429, 503, 503]
        headers, body = stopped[0]
        assert headers["retry-after"] == "1" and CSP_NEEDLE in headers["content-security-policy"]
        assert "to make room for another client" in json.loads(body)["detail"]
        assert "stopped a query of 127.0.0.2" in server.read_log()
