"""The leases one process holds or wants (issue #17): `tend()` takes and renews them, jobs ask `holds()`.

`holds()` answers from memory by the local monotonic clock, and says no a margin before the
lease could expire in the database, so a job that asks before each step stops before another
node can have taken over. A step that outlasts its lease anyway is refused by what guards its
write (the readers' and campaigns' compare-and-set cursors), never done twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable

from mailbeacon.store.facade.base import StoreUnavailable
from mailbeacon.store.facade.leases import LeaseQueries
from mailbeacon.store.leases import Lease

log = logging.getLogger(__name__)


def _boot_id() -> str:
    """This boot of the machine (Linux), so a pid is compared only with the pids of the same boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as found:
            return found.read().strip().replace("-", "")[:12] or "unknown"
    except OSError:
        return "unknown"


BOOT = _boot_id()

LEASE_TTL = 15.0
"""Seconds a lease lasts unrenewed: how long a dead node's jobs wait before another node takes them."""
STANDBY = 0.5
"""Seconds between two looks of a job whose lease another node holds (it asks `holds()`, in memory)."""
TRUSTED = 0.8
"""The share of the lease, counted from before the request that took it, that `holds()` believes in."""


class Tenures:
    """Leases of one process, named for their jobs; thread-safe."""

    def __init__(
        self, store: LeaseQueries, node: str, ttl: float = LEASE_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.node = node
        self.instance = f"{BOOT}-{os.getpid()}-{secrets.token_hex(4)}"
        """This process, among the node's: which boot of the machine, which process, and a nonce."""
        self.ttl = ttl
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._wanted: set[str] = set()
        self._held: dict[str, tuple[Lease, float]] = {}
        """name -> (the lease, the local time until which it is believed held)."""
        self._renew_at: dict[str, float] = {}
        """name -> the local time a held lease is next renewed: a third of the ttl after it was last."""

    @property
    def every(self) -> float:
        """How often `tend()` should run: three renewals a lease at least, and standby nodes look every 2 s."""
        return min(self.ttl / 3, 2.0)

    def want(self, name: str) -> None:
        """From now on `tend()` takes the lease whenever it is free, and renews it while held."""
        with self._lock:
            self._wanted.add(name)

    def holds(self, name: str) -> bool:
        with self._lock:
            held = self._held.get(name)
            return held is not None and self._clock() < held[1]

    def held(self) -> list[str]:
        with self._lock:
            now = self._clock()
            return sorted(name for name, (_, until) in self._held.items() if now < until)

    def acquire(self, name: str) -> bool:
        """Want it and try to take it now; whether this process holds it."""
        self.want(name)
        return self._hold(name)

    def tend(self) -> None:
        """Renew what is held (every third of the ttl), take what is wanted and free; a store that does not
        answer keeps what is believed held until its margin runs out."""
        with self._lock:
            now = self._clock()
            wanted = sorted(name for name in self._wanted if now >= self._renew_at.get(name, now))
        for name in wanted:
            self._hold(name)

    def release(self, name: str, forget: bool = False) -> None:
        """Stop wanting it and let another node take it now (`forget`: delete it, its job is over)."""
        with self._lock:
            self._wanted.discard(name)
            self._renew_at.pop(name, None)
            held = self._held.pop(name, None)
        if held is None:
            return
        try:
            if forget:
                self._store.forget_lease(held[0])
            else:
                self._store.release_lease(held[0])
        except StoreUnavailable as exc:  # it expires by itself
            log.warning("lease %s not released (another node takes it when it expires): %s", name, exc)

    def release_all(self) -> None:
        with self._lock:
            names = sorted(self._wanted | set(self._held))
        for name in names:
            self.release(name)

    def is_dead(self, lease: Lease) -> bool:
        """Whether the lease's holder is this node's previous process, ended (killed, crashed): a restarted node
        then goes on at once instead of waiting out the lease. Names of nodes must differ for this, as for all."""
        boot, _, rest = lease.instance.partition("-")
        pid = rest.partition("-")[0]
        if lease.holder != self.node or boot != BOOT or not pid.isdigit() or lease.instance == self.instance:
            return False
        return not os.path.exists(f"/proc/{pid}") if os.path.isdir("/proc/self") else False

    def _hold(self, name: str) -> bool:
        started = self._clock()
        with self._lock:
            held = self._held.get(name)
        try:
            lease = self._store.renew_lease(held[0], self.ttl) if held is not None else None
            if lease is None:  # not held, or lost meanwhile (this process stalled): free again, maybe
                lease = self._store.acquire_lease(name, self.node, self.instance, self.ttl, self.is_dead)
        except StoreUnavailable as exc:
            log.info("lease %s: cannot reach the store now: %s", name, exc)  # the jobs say it louder
            return self.holds(name)
        with self._lock:
            if lease is None:
                self._renew_at.pop(name, None)
                if self._held.pop(name, None) is not None:
                    log.warning("lease %s: lost to another node", name)
                return False
            if held is None or held[0].epoch != lease.epoch:
                log.info("lease %s: taken by node %s (epoch %d)", name, self.node, lease.epoch)
            self._held[name] = (lease, started + self.ttl * TRUSTED)
            self._renew_at[name] = started + self.ttl / 3
        return True
