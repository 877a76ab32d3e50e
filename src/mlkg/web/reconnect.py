"""Keep-alive connections spread evenly over the server processes: a process that holds more than
its share tells clients to reconnect (`Connection: close` on its next answers).

`mlkg serve`'s processes accept from one listening socket, and a keep-alive connection stays with
the process that accepted it. Clients that connect at once are often all accepted by one process:
measured at 1M triples with 4 clients, the four connections landed 4/0, 3/1 or 2/2 from one start
to the next, and point look-ups ran at 4,100, 5,476 and 6,844 requests/s — with few clients, one
process did the work while the other idled. So at most every `interval` seconds a process counts
the established connections to its port, its own and all (`mlkg._procs.tcp_connections`; less
often where counting takes long, as on a machine with very many connections), and
answers its next `own - ceil(all / processes)` requests with `Connection: close`. Each such answer
is whole; the client sends its next request over a new connection, which either process may
accept (under load, more often the less busy one), and the counting goes on until no process
holds more than its share. When the connections are even, nothing is ever closed; when the clients
it sheds keep coming back (with little load the process that just closed tends to win the accept
too), a process counts less and less often, so it does not keep closing connections for nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from mlkg._procs import tcp_connections

#: How often (seconds) a process counts connections, at most (only while it is answering requests).
INTERVAL = 0.5
#: The most intervals a process waits between counts while the clients it sheds keep coming back.
MAX_BACKOFF = 32


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
        self._excess_before = 0  # the excess at the count before
        self._backoff = 1  # intervals to the next count
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
                port = environ.get("SERVER_PORT") or ""
                own, everyone = self.count(int(port)) if port.isdigit() else (0, 0)
                excess = max(0, own - math.ceil(everyone / self.processes))
                # clients told to reconnect that came back here (this process won the accepts
                # again: nobody was busier) are told again later and later, up to 32 intervals
                if excess and self._excess_before and excess >= self._excess_before:
                    self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                elif not excess:
                    self._backoff = 1
                self._excess = self._excess_before = excess
                # the count walks the kernel's table of every connection of the machine: where
                # that takes long, count less often, never more than ~1 % of a thread's time
                took = time.monotonic() - now
                self._next_count = now + max(self.interval * self._backoff, 100 * took)
            finally:
                self._lock.release()
        if self._excess <= 0 or not self._take_one():
            return self.wsgi_app(environ, start_response)

        def closing(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "connection"]
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return self.wsgi_app(environ, closing)
