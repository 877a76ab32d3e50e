"""The worker's message framing (`mlkg._worker`) matches `multiprocessing.connection.Connection`'s,
which the pool uses at its end of the socket pair."""

from __future__ import annotations

import socket
import struct
import threading
from multiprocessing.connection import Connection

import pytest

from mlkg._worker import recv_frame, send_frame


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    conn = Connection(ours.detach())
    try:
        yield conn, theirs
    finally:
        conn.close()
        theirs.close()


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 3 * 1024 * 1024])
def test_a_frame_sent_by_the_worker_is_read_by_a_connection(pair, size: int) -> None:
    conn, theirs = pair
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    sender = threading.Thread(target=send_frame, args=(theirs.fileno(), data))
    sender.start()  # a large frame fills the socket buffer: read while it is written
    assert conn.recv_bytes() == data
    sender.join()


@pytest.mark.parametrize("size", [0, 7, 3 * 1024 * 1024])
def test_a_frame_sent_by_a_connection_is_read_by_the_worker(pair, size: int) -> None:
    conn, theirs = pair
    data = b"q" * size
    sender = threading.Thread(target=conn.send_bytes, args=(data,))
    sender.start()
    assert recv_frame(theirs.fileno()) == data
    sender.join()


def test_the_long_header_is_read() -> None:
    """A message over 2 GiB is sent with the length -1 and then an 8-byte length."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("!i", -1) + struct.pack("!Q", 5) + b"hello")
        assert recv_frame(b.fileno()) == b"hello"


def test_a_closed_connection_is_end_of_file(pair) -> None:
    conn, theirs = pair
    conn.send_bytes(b"abc")  # a whole message, then the pool goes away
    conn.close()
    assert recv_frame(theirs.fileno()) == b"abc"
    with pytest.raises(EOFError):
        recv_frame(theirs.fileno())


def test_a_message_cut_short_is_end_of_file() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(struct.pack("!i", 10) + b"abc")
        a.close()
        with pytest.raises(EOFError):
            recv_frame(b.fileno())
