"""Keep-alive connections spread evenly over the server processes: a process that holds more than
its share tells clients to reconnect (`Connection: close` on its next answers).

A keep-alive connection stays with the process that accepted it, and which process accepts a new
connection is the kernel's choice (`mlkg.serve.listeners`: by a hash of the client's address and
port), so four clients land 2/2 only three times in eight. Measured at 1M triples with 4 clients,
the connections landed 4/0, 3/1 or 2/2 from one start to the next (before this middleware, from
the one socket the processes shared then), and point look-ups ran at 4,100, 5,476 and 6,844
requests/s — with few clients, one process did the work while the other idled. So at most every
`interval` seconds a process counts the established connections to its port, its own and all
(`mlkg._procs.tcp_connections`; less often where counting costs much CPU, as on a machine with very
many connections), and answers its next `own - ceil(all / processes)` requests with
`Connection: close`. Each such answer is whole; the client sends its next request over a new
connection, which lands on any process with even odds, and the counting goes on until no process
holds more than its share: each count costs at most that many reconnections. When the
connections are even, nothing is ever closed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from mlkg._procs import tcp_connections

#: How often (seconds) a process counts connections, at most (only while it is answering requests).
INTERVAL = 0.5


class Reconnect:
    """WSGI middleware: `Connection: close` on answers of a process over its connection share."""

    def __init__(
        self,
        wsgi_app,
        processes: int,
        *,
        interval: float = INTERVAL,
        count: Callable[[int], tuple[int, int]] = tcp_connections,
    ) -> None:
        if processes < 2:
            raise ValueError(f"spreading connections needs 2 or more processes, not {processes}")
        self.wsgi_app, self.processes = wsgi_app, processes
        self.interval, self.count = interval, count
        self.asked = 0  # answers that told their client to reconnect
        self._excess = 0  # answers still to send with Connection: close
        self._next_count = 0.0
        self._lock = threading.Lock()

    def _take_one(self) -> bool:
        """Whether this answer is one of the excess to close (decided under the lock, answered
        outside it)."""
        with self._lock:
            if self._excess <= 0:
                return False
            self._excess -= 1
            self.asked += 1
            return True

    def __call__(self, environ, start_response):
        now = time.monotonic()
        if now >= self._next_count and self._lock.acquire(blocking=False):
            try:  # one thread counts; the others go on
                cpu = time.thread_time()
                port = environ.get("SERVER_PORT") or ""
                own, everyone = self.count(int(port)) if port.isdigit() else (0, 0)
                self._excess = max(0, own - math.ceil(everyone / self.processes))
                # the count walks the kernel's table of every connection of the machine: where
                # that takes long, count less often, never more than ~1 % of a thread's time.
                # Its cost is this thread's CPU time, not the time it took: the thread waits for the
                # GIL and the cores (here 5.6-6.2 ms of CPU took 8-13 ms with four busy clients),
                # and timed by the clock a loaded machine counted seconds apart — a CI run had one
                # process keep all four connections for the last 2 s of a 10 s load
                took = time.thread_time() - cpu
                self._next_count = now + max(self.interval, 100 * took)
            finally:
                self._lock.release()
        if self._excess <= 0 or not self._take_one():
            return self.wsgi_app(environ, start_response)

        def closing(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "connection"]
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return self.wsgi_app(environ, closing)
