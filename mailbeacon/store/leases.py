"""Leases: a job that must run on one node at a time runs on the node that holds its lease.

The holder renews the lease well before it expires; a node that dies stops renewing, and once
its lease has expired any other node may take it (issue #17). Times come from the database's
clock, so nodes whose clocks disagree still agree on who holds what. Every change of hands
raises `epoch`, a fencing token: a renewal or a release by a former holder changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, extract, func, select, update

from mailbeacon.store.backend import insert_ignoring_duplicates
from mailbeacon.store.schema import leases

OFFERED = ""
"""The instance of a lease offered to any node (a campaign a web-only node took): nobody's yet."""


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    """The node's name."""
    instance: str
    """Which process of the node."""
    epoch: int
    acquired_at: float
    renewed_at: float
    expires_at: float

    def is_held(self, now: float) -> bool:
        return self.expires_at > now


def database_now(conn: Connection) -> float:
    """Seconds since the epoch by the database's clock (the same one for every node)."""
    if conn.dialect.name == "postgresql":
        return float(conn.execute(select(extract("epoch", func.clock_timestamp()))).scalar_one())
    return float(conn.exec_driver_sql("SELECT (julianday('now') - 2440587.5) * 86400.0").scalar_one())


def select_lease(conn: Connection, name: str) -> Lease | None:
    row = conn.execute(select(leases).where(leases.c.name == name)).first()
    return None if row is None else _lease(row)


def select_leases(conn: Connection, prefix: str = "") -> list[Lease]:
    query = select(leases).order_by(leases.c.name)
    if prefix:
        query = query.where(leases.c.name.startswith(prefix, autoescape=True))
    return [_lease(row) for row in conn.execute(query)]


def may_take(lease: Lease | None, holder: str, instance: str, now: float) -> bool:
    """Whether `acquire` could succeed: nobody holds it, it expired, or it is this process's own."""
    return lease is None or not lease.is_held(now) or (lease.holder, lease.instance) == (holder, instance)


def acquire(
    conn: Connection, name: str, holder: str, instance: str, ttl: float, replacing: str | None = None
) -> Lease | None:
    """The lease for `ttl` seconds, taken or renewed; None while another process holds it, unless that is
    the process `replacing` (this node's previous one, known dead)."""
    now = database_now(conn)
    found = select_lease(conn, name)
    if found is None:
        taken = Lease(name, holder, instance, 1, now, now, now + ttl)
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT through SQLAlchemy
        inserted = conn.execute(
            insert_ignoring_duplicates(conn, leases, "name").values(**_values(taken)).returning(leases.c.name)
        ).first()
        return taken if inserted is not None else None  # another node inserted it first
    if (found.holder, found.instance) == (holder, instance):
        return renew(conn, found, ttl)
    if found.is_held(now) and found.instance != replacing:
        return None
    taken = Lease(name, holder, instance, found.epoch + 1, now, now, now + ttl)
    moved = conn.execute(
        update(leases).where(leases.c.name == name, leases.c.epoch == found.epoch).values(**_values(taken))
    )
    return taken if moved.rowcount else None  # another node took it between the read and the write


def renew(conn: Connection, lease: Lease, ttl: float) -> Lease | None:
    """The lease held `ttl` seconds from now; None if it changed hands meanwhile."""
    now = database_now(conn)
    kept = conn.execute(update(leases).where(*_unchanged(lease)).values(renewed_at=now, expires_at=now + ttl))
    if not kept.rowcount:
        return None
    return Lease(lease.name, lease.holder, lease.instance, lease.epoch, lease.acquired_at, now, now + ttl)


def release(conn: Connection, lease: Lease) -> bool:
    """Expire it now, so another node takes it at once; False if it changed hands already."""
    now = database_now(conn)
    return bool(conn.execute(update(leases).where(*_unchanged(lease)).values(expires_at=now)).rowcount)


def forget(conn: Connection, lease: Lease) -> bool:
    """Delete it: the job is over for good (a campaign fully queued); False if it changed hands."""
    return bool(conn.execute(delete(leases).where(*_unchanged(lease))).rowcount)


def offer(conn: Connection, name: str, holder: str) -> bool:
    """Make it takeable by any node now (`holder` is who offered it); False while a process holds it."""
    now = database_now(conn)
    found = select_lease(conn, name)
    if found is None:
        offered = Lease(name, holder, OFFERED, 0, now, now, now)
        conn.execute(insert_ignoring_duplicates(conn, leases, "name").values(**_values(offered)))
        return True
    return not found.is_held(now)


def _unchanged(lease: Lease) -> tuple[ColumnElement[bool], ...]:
    """The lease's row, as long as it has not changed hands since `lease` was read."""
    held = leases.c
    return (held.name == lease.name, held.holder == lease.holder, held.instance == lease.instance,
            held.epoch == lease.epoch)


def _values(lease: Lease) -> dict[str, object]:
    return {"name": lease.name, "holder": lease.holder, "instance": lease.instance, "epoch": lease.epoch,
            "acquired_at": lease.acquired_at, "renewed_at": lease.renewed_at, "expires_at": lease.expires_at}


def _lease(row: Row[Any]) -> Lease:
    return Lease(row.name, row.holder, row.instance, int(row.epoch), float(row.acquired_at), float(row.renewed_at),
                 float(row.expires_at))
