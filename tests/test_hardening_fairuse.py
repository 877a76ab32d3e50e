"""Fair use: per-client limits on requests in flight and server time per minute, answered with 429
and Retry-After; loopback exempt unless asked; configured from the environment."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
from _live import LiveServer, build_from_files

from mlkg.config import Settings
from mlkg.fairuse import FairUse, Limits, Refused

CSP_NEEDLE = "frame-ancestors 'none'"


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
