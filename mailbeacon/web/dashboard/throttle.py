"""Slows password guessing: after a few failed logins an address (or a client) waits a while.

Kept in memory per server process, so it costs no write on the login path; with
several workers each keeps its own count, which multiplies the allowance by their number.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """At most `per_email` failures per address and `per_client` per client IP within `window` seconds.

    >>> clock = [0.0]
    >>> throttle = LoginThrottle(per_email=2, per_client=10, window=60, clock=lambda: clock[0])
    >>> throttle.failed("a@example.com", "192.0.2.1"); throttle.failed("a@example.com", "192.0.2.1")
    >>> throttle.wait("A@example.com", "192.0.2.9"), throttle.wait("b@example.com", "192.0.2.1")
    (60.0, 0.0)
    >>> clock[0] = 61; throttle.wait("a@example.com", "192.0.2.1")
    0.0
    """

    def __init__(
        self, per_email: int = 5, per_client: int = 30, window: float = 900.0,
        clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000,
    ) -> None:
        self._limits = {"email": per_email, "client": per_client}
        self._window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def wait(self, email: str, client: str) -> float:
        """Seconds until this address and client may try again; 0 when they may now."""
        now = self._clock()
        longest = 0.0
        for key in (("email", email.strip().lower()), ("client", client)):
            times = self._recent(key, now)
            if times is not None and len(times) >= self._limits[key[0]]:
                longest = max(longest, times[0] + self._window - now)
        return longest

    def failed(self, email: str, client: str) -> None:
        now = self._clock()
        if len(self._failures) >= self._max_keys:
            self._prune(now)
        for key in (("email", email.strip().lower()), ("client", client)):
            self._failures.setdefault(key, deque(maxlen=max(self._limits.values()))).append(now)

    def succeeded(self, email: str) -> None:
        self._failures.pop(("email", email.strip().lower()), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        while times and times[0] <= now - self._window:
            times.popleft()
        return times

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) >= self._max_keys:  # under a flood, forget the oldest keys
            del self._failures[next(iter(self._failures))]
