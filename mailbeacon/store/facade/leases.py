"""Leases of the jobs that run on one node at a time (issue #17): taking, renewing, releasing them."""

from __future__ import annotations

from collections.abc import Callable

from mailbeacon.store.leases import (
    Lease,
    acquire,
    database_now,
    forget,
    may_take,
    offer,
    release,
    renew,
    select_lease,
    select_leases,
)
from mailbeacon.store.facade.base import StoreBase


class LeaseQueries(StoreBase):
    def acquire_lease(
        self, name: str, holder: str, instance: str, ttl: float, is_dead: Callable[[Lease], bool] = lambda lease: False
    ) -> Lease | None:
        """The lease for `ttl` seconds (taken, or renewed if this process holds it); None while another does,
        unless `is_dead` says that process has died (this node's own, before a restart).

        Asking is a read while someone else holds it: standby nodes poll without taking the write lock."""
        with self._translated(f"take the lease {name}"):
            with self._read() as conn:
                found = select_lease(conn, name)
                replacing = found.instance if found is not None and is_dead(found) else None
                if replacing is None and not may_take(found, holder, instance, database_now(conn)):
                    return None
            with self._write() as conn:
                return acquire(conn, name, holder, instance, ttl, replacing)

    def renew_lease(self, lease: Lease, ttl: float) -> Lease | None:
        """The lease, held `ttl` seconds from now; None if another process took it meanwhile."""
        with self._translated(f"renew the lease {lease.name}"), self._write() as conn:
            return renew(conn, lease, ttl)

    def release_lease(self, lease: Lease) -> bool:
        """Let another node take it now (a node stopping cleanly); False if it had changed hands."""
        with self._translated(f"release the lease {lease.name}"), self._write() as conn:
            return release(conn, lease)

    def forget_lease(self, lease: Lease) -> bool:
        """Delete it: its job is over for good."""
        with self._translated(f"forget the lease {lease.name}"), self._write() as conn:
            return forget(conn, lease)

    def offer_lease(self, name: str, holder: str) -> bool:
        """Make the lease takeable by any node now (False while a process holds it): hands a job to the workers."""
        with self._translated(f"offer the lease {name}"), self._write() as conn:
            return offer(conn, name, holder)

    def leases(self, prefix: str = "") -> tuple[float, list[Lease]]:
        """The database's time and every lease whose name starts with `prefix`, by name."""
        with self._translated("read leases"), self._read() as conn:
            return database_now(conn), select_leases(conn, prefix)
