"""mlkg.web.reconnect: a server process over its share of the connections asks that many clients to
reconnect, once per count; one at or under its share asks none."""

from __future__ import annotations

import itertools
import time

import pytest

from mlkg.web.reconnect import Reconnect


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "keep-alive")])
    return [b"ok"]


def _answers(middleware: Reconnect, n: int) -> list[list[tuple[str, str]]]:
    seen = []
    for _ in range(n):
        got = {}

        def start_response(status, headers, exc_info=None, got=got):
            got["headers"] = headers

        assert b"".join(middleware({"SERVER_PORT": "8080"}, start_response)) == b"ok"
        seen.append(got["headers"])
    return seen


def test_a_process_over_its_share_asks_that_many_clients_to_reconnect() -> None:
    counts = []

    def count(port: int) -> tuple[int, int]:
        counts.append(port)
        return 4, 4  # all four connections here, two processes: two too many

    answers = _answers(Reconnect(_app, 2, interval=60, count=count), 5)
    closing = [("Connection", "close") in headers for headers in answers]
    assert closing == [True, True, False, False, False]
    assert all(sum(k == "Connection" for k, _ in headers) == 1 for headers in answers)
    assert counts == [8080]  # counted once in the interval, not per request


def test_a_process_at_or_under_its_share_asks_none() -> None:
    for own, everyone in ((2, 4), (1, 4), (3, 5), (0, 0)):
        middleware = Reconnect(_app, 2, interval=0, count=lambda port, c=(own, everyone): c)
        answers = _answers(middleware, 3)
        assert not any(("Connection", "close") in headers for headers in answers)
        assert middleware.asked == 0


def test_the_count_is_taken_again_after_the_interval() -> None:
    seen = iter([(3, 3), (1, 3)])
    middleware = Reconnect(_app, 3, interval=0.01, count=lambda port: next(seen))
    first = _answers(middleware, 1)
    time.sleep(0.02)
    second = _answers(middleware, 1)
    assert [("Connection", "close") in h for h in first + second] == [True, False]
    assert middleware.asked == 1


def _burn(seconds: float) -> None:
    """Use `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_slow_count_is_taken_less_often() -> None:
    """Counting that costs much CPU (very many connections on the machine) waits 100 times as long."""
    calls = []

    def slow(port: int) -> tuple[int, int]:
        calls.append(port)
        _burn(0.005)
        return 1, 2

    middleware = Reconnect(_app, 2, interval=0.001, count=slow)
    _answers(middleware, 1)
    time.sleep(0.05)  # past the interval, not past 100 x 5 ms
    _answers(middleware, 3)
    assert len(calls) == 1


def test_a_count_that_waited_is_not_taken_less_often() -> None:
    """A count that took long only because its thread waited (for the GIL, for a core: a loaded
    server) costs next to nothing and is taken again after the interval — the wait is not its cost."""
    calls = []

    def waited(port: int) -> tuple[int, int]:
        calls.append(port)
        time.sleep(0.02)  # 100 x 20 ms would put the next count 2 s off
        return 4, 4

    middleware = Reconnect(_app, 2, interval=0.05, count=waited)
    _answers(middleware, 1)
    time.sleep(0.1)
    _answers(middleware, 1)
    assert len(calls) == 2


def test_one_process_has_nothing_to_spread() -> None:
    with pytest.raises(ValueError, match="2 or more processes"):
        Reconnect(_app, 1)


def test_clients_that_land_here_again_are_told_again_at_the_next_count() -> None:
    """Still over its share at the next count (a reconnected client landed here again, as it does
    half the time): the process asks again one interval later — never more than its excess per
    count, whatever the number of answers in between."""
    counts: list[float] = []
    seen = iter([(4, 4), (3, 4), (3, 4), (2, 4), (2, 4)])

    def count(port: int) -> tuple[int, int]:
        counts.append(time.monotonic())
        return next(seen)

    middleware = Reconnect(_app, 2, interval=0.05, count=count)
    closed: list[int] = []
    deadline = time.monotonic() + 5
    while len(counts) < 5 and time.monotonic() < deadline:
        before = len(counts)
        answers = _answers(middleware, 1)
        if len(counts) > before:
            closed.append(0)
        closed[-1] += ("Connection", "close") in answers[0]
        time.sleep(0.002)
    gaps = [b - a for a, b in itertools.pairwise(counts)]
    # the middleware times the interval from just before it calls count, so two calls can be a
    # few microseconds under 0.05 s apart (CI saw 0.049997): 1 ms of slack
    assert len(gaps) == 4 and all(0.049 <= gap < 0.1 for gap in gaps), gaps
    assert closed == [2, 1, 1, 0, 0]
    assert middleware.asked == 4


def test_the_app_runs_outside_the_lock() -> None:
    """A slow answer never holds up the others' bookkeeping: the app is called with the lock free,
    whether its answer closes the connection or not."""
    held: list[bool] = []

    def app(environ, start_response):
        held.append(middleware._lock.locked())
        return _app(environ, start_response)

    middleware = Reconnect(app, 2, interval=60, count=lambda port: (3, 4))
    answers = _answers(middleware, 3)
    assert [("Connection", "close") in headers for headers in answers] == [True, False, False]
    assert held == [False, False, False]


def test_a_server_port_that_is_not_a_number_counts_nothing() -> None:
    calls = []
    middleware = Reconnect(_app, 2, interval=0, count=lambda port: calls.append(port) or (4, 4))
    for port in ("", "http"):
        got: dict = {}

        def start_response(status, headers, exc_info=None, got=got):
            got["h"] = headers

        body = middleware({"SERVER_PORT": port}, start_response)
        assert b"".join(body) == b"ok" and ("Connection", "close") not in got["h"]
    assert calls == []
