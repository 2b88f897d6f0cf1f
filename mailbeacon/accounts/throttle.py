"""Slows password guessing, for the dashboard's login and the relay's AUTH alike (issue #12, items 7 and 14).

An attempt is counted when it begins, before its password is checked, so a burst of
concurrent guesses gets no more checks than the limit. Kept in memory per server
process: it costs no write on the login path; with several workers each keeps its own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from mailbeacon.errors import MailbeaconError

Key = tuple[str, ...]


class Throttled(MailbeaconError):
    """Too many failed attempts: try again in `wait` seconds. Nothing was counted or checked."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many failed attempts: try again in {wait:.0f} s")
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Limits:
    per_pair: int = 5
    """Failed (or unfinished) attempts of one client as one name within `window`."""
    per_client: int = 30
    """... of one client, whatever the names it tries."""
    per_name: int = 50
    """... at one name from all clients; past it, clients new to that name back off."""
    window: float = 900.0
    backoff_cap: float = 300.0
    """The longest wait of the backoff past `per_name` (it starts at 1 s and doubles with each failure)."""
    remember: float = 30 * 86400.0
    """How long a client that logged in as a name keeps being exempt from the others' failures at it."""


class Throttle:
    """Per (name, client) pair, per client and per name, counting attempts as they begin.

    A client that logged in as a name before is held only by its own pair's failures, so an
    attacker elsewhere cannot lock the owner out; a client new to the name backs off (1 s,
    2 s, 4 s ... up to `backoff_cap` after the latest failure) once the name has `per_name`
    failures: guessing slows down, and the owner is never locked out for long.

    >>> clock = [0.0]
    >>> throttle = Throttle(Limits(per_pair=2, per_client=10, window=60), clock=lambda: clock[0])
    >>> for _ in range(2):
    ...     with throttle.attempt("a@example.com", "192.0.2.1"):
    ...         pass  # the password was wrong: the attempt ends without succeeded()
    >>> throttle.attempt("A@example.com", "192.0.2.1")
    Traceback (most recent call last):
    mailbeacon.accounts.throttle.Throttled: too many failed attempts: try again in 60 s
    >>> with throttle.attempt("a@example.com", "192.0.2.9") as other:  # another client has its own budget
    ...     other.succeeded()
    >>> clock[0] = 61; throttle.attempt("a@example.com", "192.0.2.1").abandon()
    """

    def __init__(
        self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: dict[Key, deque[float]] = {}
        self._pending: Counter[Key] = Counter()
        self._known: dict[tuple[str, str], float] = {}
        """(name, client) -> until when that client is known to log in as that name."""

    def attempt(self, name: str, client: str) -> Attempt:
        """Count an attempt now; raises Throttled, counting nothing, when this one must wait.

        Use it as a context manager: an attempt that ends without `succeeded()` or `abandon()`
        counts as a failure, however it ends (a client that hangs up mid-check included)."""
        name = name.strip().lower()
        keys = (("pair", name, client), ("client", client), ("name", name))
        with self._lock:
            now = self._clock()
            if len(self._failures) >= self._max_keys:
                self._prune(now)
            wait = self._wait(name, client, keys, now)
            if wait > 0:
                raise Throttled(wait)
            for key in keys:
                self._pending[key] += 1
        return Attempt(self, name, client, keys)

    def _wait(self, name: str, client: str, keys: tuple[Key, Key, Key], now: float) -> float:
        pair, by_client, by_name = keys
        limits = self._limits
        wait = self._over(pair, limits.per_pair, now)
        if wait or self._known.get((name, client), 0.0) > now:
            return wait
        wait = self._over(by_client, limits.per_client, now)
        if wait:
            return wait
        failures = self._recent(by_name, now)
        over = len(failures) + self._pending[by_name] - limits.per_name
        if over < 0:
            return 0.0
        latest = failures[-1] if failures else now
        return max(0.0, latest + min(limits.backoff_cap, 2.0**over) - now)

    def _over(self, key: Key, limit: int, now: float) -> float:
        """Seconds until `key` is under `limit` again; 0 when it is now."""
        failures = self._recent(key, now)
        if len(failures) + self._pending[key] < limit:
            return 0.0
        if len(failures) >= limit:
            return failures[-limit] + self._limits.window - now
        return 1.0  # attempts under way hold the budget: try again when they are done

    def _recent(self, key: Key, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self._limits.window:
            failures.popleft()
        return failures

    def _end(self, name: str, client: str, keys: tuple[Key, ...], outcome: str) -> None:
        with self._lock:
            now = self._clock()
            for key in keys:
                self._pending[key] -= 1
                if self._pending[key] <= 0:
                    del self._pending[key]
                if outcome == "failed":
                    self._failures.setdefault(key, deque(maxlen=self._longest())).append(now)
            if outcome == "succeeded":
                self._failures.pop(keys[0], None)  # the pair starts afresh
                if len(self._known) >= self._max_keys:
                    self._known = {k: until for k, until in self._known.items() if until > now}
                    while len(self._known) >= self._max_keys:
                        del self._known[next(iter(self._known))]
                self._known[(name, client)] = now + self._limits.remember

    def _longest(self) -> int:
        limits = self._limits
        return max(limits.per_pair, limits.per_client) + limits.per_name + 64

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) >= self._max_keys:  # under a flood, forget the oldest keys
            del self._failures[next(iter(self._failures))]


class Attempt:
    """One counted attempt; ends once, as succeeded, failed or abandoned."""

    def __init__(self, throttle: Throttle, name: str, client: str, keys: tuple[Key, ...]) -> None:
        self._throttle = throttle
        self._name = name
        self._client = client
        self._keys = keys
        self._ended = False

    def succeeded(self) -> None:
        self._finish("succeeded")

    def failed(self) -> None:
        self._finish("failed")

    def abandon(self) -> None:
        """Nothing was checked (the store could not say): the attempt does not count."""
        self._finish("abandoned")

    def _finish(self, outcome: str) -> None:
        if not self._ended:
            self._ended = True
            self._throttle._end(self._name, self._client, self._keys, outcome)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._finish("failed")
