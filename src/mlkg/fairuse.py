"""Fair use: per-client limits on concurrent requests and on server time per minute.

In the spirit of public SPARQL services (Wikidata's: 5 parallel queries, 60 s of query time per
minute per client), a client that has too many requests in flight, or has used up its budget of
server time in the last minute, is refused with 429 and a Retry-After saying when to come back.
Clients are told apart by their address (REMOTE_ADDR; proxy headers are not trusted). Loopback
clients are exempt unless asked otherwise. Counters are kept per server process.

`CLIENT` names the client of the request a thread serves, for every client, exempt or not: the
query worker pool (`mlkg.workers`) keeps one client from holding every worker while another waits.

This module is Flask-free; `mlkg.web.hardening` applies it to every request as WSGI middleware.
"""

from __future__ import annotations

import ipaddress
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache


#: The client (address) of the request this thread serves; None for an in-process call.
CLIENT: ContextVar[str | None] = ContextVar("mlkg_client", default=None)


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be 0 (no limit) or more, not {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    """The limits per client; 0 switches a limit off."""

    concurrent: int = 5
    seconds_per_minute: float = 60.0
    exempt_loopback: bool = True
    window: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """Limits from MLKG_FAIR_CONCURRENT, MLKG_FAIR_SECONDS and MLKG_FAIR_LOCALHOST (1: limit
        loopback clients too).

        >>> Limits.from_env({"MLKG_FAIR_CONCURRENT": "2", "MLKG_FAIR_LOCALHOST": "1"})
        Limits(concurrent=2, seconds_per_minute=60.0, exempt_loopback=False, window=60.0)
        """
        env = os.environ if env is None else env
        return cls(
            concurrent=int(_env_number(env, "MLKG_FAIR_CONCURRENT", cls.concurrent)),
            seconds_per_minute=_env_number(env, "MLKG_FAIR_SECONDS", cls.seconds_per_minute),
            exempt_loopback=env.get("MLKG_FAIR_LOCALHOST", "0").strip().lower() not in ("1", "true", "yes"),
        )

    @property
    def active(self) -> bool:
        """True when any limit is on."""
        return self.concurrent > 0 or self.seconds_per_minute > 0


@lru_cache(maxsize=4096)
def _is_loopback(client: str) -> bool:
    """True for a loopback address (parsing one costs more than the rest of a small request)."""
    try:
        return ipaddress.ip_address(client.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class Refused(Exception):
    """A client is over a limit: `reason` says which, `retry_after` in whole seconds."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class _Client:
    __slots__ = ("inflight", "spent", "used")

    def __init__(self) -> None:
        self.inflight = 0
        self.spent: deque[tuple[float, float]] = deque()  # (finished at, seconds)
        self.used = 0.0


class FairUse:
    """Counts each client's requests in flight and server time in the last `window` seconds."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def exempt(self, client: str) -> bool:
        """True for a client no limit applies to (loopback, when exempt)."""
        if not self.limits.active:
            return True
        if not self.limits.exempt_loopback:
            return False
        return _is_loopback(client)

    def _expire(self, state: _Client, now: float) -> None:
        horizon = now - self.limits.window
        while state.spent and state.spent[0][0] <= horizon:
            state.used -= state.spent.popleft()[1]
        if not state.spent:
            state.used = 0.0

    def enter(self, client: str) -> None:
        """Count a request of `client` in; `leave` must follow.

        :raises Refused: when the client is over a limit (nothing is counted then).
        """
        limits = self.limits
        now = self.clock()
        with self._lock:
            state = self._clients.get(client)
            if state is None:
                if len(self._clients) > 10_000:
                    self._forget_idle(now)
                state = self._clients[client] = _Client()
            self._expire(state, now)
            if limits.concurrent and state.inflight >= limits.concurrent:
                self.refused += 1
                raise Refused(
                    f"you already have {state.inflight} requests in progress; at most "
                    f"{limits.concurrent} at a time per client", 1)
            budget = limits.seconds_per_minute
            if budget and state.used >= budget:
                excess, wait = state.used - budget, limits.window
                for finished, seconds in state.spent:  # the oldest spending ages out first
                    excess -= seconds
                    wait = finished + limits.window - now
                    if excess < 0:
                        break
                self.refused += 1
                raise Refused(
                    f"your requests used {state.used:.1f} s of server time in the last "
                    f"{limits.window:g} s; the limit is {budget:g} s per client",
                    max(1, math.ceil(wait)))
            state.inflight += 1

    def leave(self, client: str, seconds: float) -> None:
        """Count a request of `client` out, charging `seconds` of server time."""
        now = self.clock()
        with self._lock:
            state = self._clients.get(client)
            if state is None:
                return
            state.inflight = max(0, state.inflight - 1)
            if self.limits.seconds_per_minute:
                state.spent.append((now, seconds))
                state.used += seconds

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, s in self._clients.items() if not s.inflight]:
            state = self._clients[key]
            self._expire(state, now)
            if not state.spent:
                del self._clients[key]
