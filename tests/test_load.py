"""The bounded load test (CI size): 1,500 requests of the realistic mix from 16 concurrent clients
against the real production server on 127.0.0.1 — every request must succeed."""

from __future__ import annotations

from mlkg.loadtest import MIX, Plan, percentile, run


def test_fifteen_hundred_mixed_requests_from_sixteen_clients_all_succeed(live_server: str) -> None:
    report = run(live_server, requests=1500, clients=16, time_limit=60)
    assert len(report.samples) == 1500, "not every request was sent within 60 s"
    assert report.failures == [], report.failures[:5]
    kinds = report.kinds()
    assert set(MIX) <= set(kinds)
    for kind in MIX:
        row = kinds[kind]
        assert row["requests"] > 0 and row["failed"] == 0
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert kinds["all"]["requests"] == 1500
    text = report.markdown()
    assert "0 failed" in text and "| entity |" in text and "p99 ms" in text
    assert report.as_json()["failed"] == 0


def test_the_plan_is_discovered_from_the_server(live_server: str) -> None:
    plan = Plan.discover(live_server)
    assert plan.entities and all(iri.startswith("https://w3id.org/mlkg/") for iri in plan.entities)
    assert "job_titles" in plan.canned
    assert plan.words


def test_a_failed_request_is_counted_and_reported(live_server: str) -> None:

    from mlkg.loadtest import Client, Report, Sample

    client = Client(live_server)
    try:
        status, _ = client.get("/skill/no-such-skill-at-all", "text/html")
    finally:
        client.close()
    report = Report(url=live_server, clients=1, seconds=1.0,
                    samples=[Sample("entity", "/skill/no-such-skill-at-all", status, 0.01),
                             Sample("entity", "/skill/x", 200, 0.02)])
    assert status == 404 and len(report.failures) == 1
    assert report.kinds()["entity"]["failed"] == 1
    assert percentile([5.0], 99) == 5.0
