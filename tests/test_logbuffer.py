"""The batched log writer of `mlkg serve` and its direct access lines (mlkg._logbuffer)."""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import time

import pytest

from mlkg._logbuffer import LOG_FORMAT, AccessLog, BufferedHandler


@pytest.fixture()
def buffered():
    """The root logger writing through a BufferedHandler into a string, as `mlkg serve` sets it."""
    stream = io.StringIO()
    handler = BufferedHandler(stream, interval=0.05)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    yield stream, handler
    handler.flush()
    root.handlers[:], root.level = saved[0], saved[1]


def test_lines_are_written_in_batches_in_order(buffered) -> None:
    stream, handler = buffered
    log = logging.getLogger("mlkg.test")
    for n in range(5):
        log.info("line %d", n)
    assert stream.getvalue() == ""  # held back until the writer's next turn
    deadline = time.monotonic() + 5
    while stream.getvalue().count("\n") < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["0", "1", "2", "3", "4"]
    assert all(f" {os.getpid()} INFO mlkg.test: line " in line for line in lines)


def test_a_warning_is_written_at_once_after_what_was_held(buffered) -> None:
    stream, _ = buffered
    log = logging.getLogger("mlkg.test")
    log.info("first")
    log.warning("second")
    assert [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()] == ["first", "second"]


def test_no_line_is_lost_when_many_threads_log(buffered) -> None:
    stream, handler = buffered
    log = logging.getLogger("mlkg.test")

    def emit(t: int) -> None:
        for n in range(500):
            log.info("t%d n%d", t, n)

    threads = [threading.Thread(target=emit, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4000 and len(set(lines)) == 4000


def test_direct_access_lines_are_what_logging_writes(buffered) -> None:
    stream, handler = buffered
    logging.getLogger().handlers[:] = [handler]  # pytest adds its own capture handlers per test
    access = AccessLog("mlkg.access.test", LOG_FORMAT)
    access("GET", "/sparql?query=ASK+%7B%7D", 200, 1.25)
    assert access._direct is handler  # written without a LogRecord
    logging.getLogger("mlkg.access.test").info("%s %s %s %.1fms", "GET", "/x", 404, 0.04)
    handler.flush()
    direct, logged = stream.getvalue().splitlines()
    shape = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} %d INFO mlkg\.access\.test: " % os.getpid()
    assert re.fullmatch(shape + r"GET /sparql\?query=ASK\+%7B%7D 200 1\.2ms", direct)
    assert re.fullmatch(shape + r"GET /x 404 0\.0ms", logged)


def test_access_lines_go_through_logging_under_any_other_configuration() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("mlkg.access.other")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        access = AccessLog("mlkg.access.other", LOG_FORMAT)
        access("POST", "/sparql", 400, 3.0)
        assert access._direct is None and stream.getvalue() == "POST /sparql 400 3.0ms\n"
    finally:
        logger.removeHandler(handler)


def test_a_forked_child_writes_its_own_lines_even_if_the_parent_was_writing() -> None:
    """A fork while the parent's writer holds its lock must not leave the child's log stuck."""
    read_end, write_end = os.pipe()
    handler = BufferedHandler(os.fdopen(os.dup(write_end), "w"), interval=0.05)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("mlkg.test.fork")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("from the parent, before the fork")
        with handler._write_lock:  # as if the writer thread were writing when the fork happens
            pid = os.fork()
            if pid == 0:  # the child: log, write at once, exit
                try:
                    logger.warning("from the child")
                finally:
                    os._exit(0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the child's log stayed stuck on the parent's lock")
        assert os.waitstatus_to_exitcode(status) == 0
        handler.flush()
        os.close(write_end)
        written = os.read(read_end, 65536).decode().splitlines()
        assert written.count("from the child") == 1
        assert written.count("from the parent, before the fork") == 1  # written once, by the parent
    finally:
        logger.removeHandler(handler)
        os.close(read_end)
