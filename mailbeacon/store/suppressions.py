"""The suppression list: addresses the instance stops mailing (issue #15, item 3).

A hard bounce (a 5xx reply), a complaint, an unsubscribe, or `SOFT_BOUNCES` copies in a row
given up after temporary failures put an address here, in the transaction that records what
happened, so no later campaign batch can miss it. A delivered copy ends a soft streak.
Addresses are lower-cased, as everywhere in the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from mailbeacon.store.backend import insert_ignoring_duplicates
from mailbeacon.store.schema import soft_bounce_streaks, suppressions

SOFT_BOUNCES = 3
"""Copies in a row given up after temporary failures that suppress an address (`--suppress-after-soft`)."""
HARD_REPLY = re.compile(r"(?:^|: )5\d\d\b")
"""A permanent refusal of the address: the reply itself, or a recipient's part of it ("bob@x: 550 ...")."""
GAVE_UP = "gave up after "
"""How the outbound worker's reply begins when the retry window ended (outbound/worker.py)."""

REASONS = ("hard_bounce", "soft_bounces", "complaint", "unsubscribe", "manual")
BLOCKING = frozenset({"hard_bounce", "soft_bounces", "complaint", "manual"})
"""Reasons that also stop one-to-one mail (an unsubscribe is from campaigns only)."""


def normalise_address(address: str) -> str:
    return address.strip().lower()


@dataclass(frozen=True, slots=True)
class Suppression:
    address: str
    reason: str
    detail: str | None
    created_at: float
    delivery_id: int | None


def add(conn: Connection, address: str, reason: str, detail: str | None, now: float,
        delivery_id: int | None = None) -> bool:
    """False if the address was suppressed already (its first reason stays)."""
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    statement = insert_ignoring_duplicates(conn, suppressions, "address").values(
        address=normalise_address(address), reason=reason, detail=detail, created_at=now, delivery_id=delivery_id,
    ).returning(suppressions.c.address)  # rowcount of ON CONFLICT DO NOTHING is not told alike by both drivers
    return conn.execute(statement).first() is not None


def remove(conn: Connection, address: str) -> bool:
    address = normalise_address(address)
    conn.execute(delete(soft_bounce_streaks).where(soft_bounce_streaks.c.address == address))
    return bool(conn.execute(delete(suppressions).where(suppressions.c.address == address)).rowcount)


def remove_unsubscribe(conn: Connection, address: str) -> None:
    """A resubscribe takes back its unsubscribe's entry, and no bounce's or complaint's."""
    conn.execute(delete(suppressions).where(suppressions.c.address == normalise_address(address),
                                            suppressions.c.reason == "unsubscribe"))


def select_all(conn: Connection) -> list[Suppression]:
    rows = conn.execute(select(suppressions).order_by(suppressions.c.created_at.desc(), suppressions.c.address))
    return [Suppression(r.address, r.reason, r.detail, r.created_at, r.delivery_id) for r in rows]


def select_among(conn: Connection, addresses: Iterable[str], chunk: int = 500) -> dict[str, Suppression]:
    """The suppressed ones of `addresses`, by lower-cased address."""
    wanted = sorted({normalise_address(a) for a in addresses})
    found: dict[str, Suppression] = {}
    for start in range(0, len(wanted), chunk):
        rows = conn.execute(select(suppressions).where(suppressions.c.address.in_(wanted[start:start + chunk])))
        found.update({r.address: Suppression(r.address, r.reason, r.detail, r.created_at, r.delivery_id) for r in rows})
    return found


def record_bounces(conn: Connection, hard: Sequence[tuple[str, str, int]], soft: Sequence[tuple[str, str, int]],
                   delivered: Sequence[str], now: float, soft_limit: int) -> None:
    """What a batch of final outcomes means for the list: `hard` and `soft` are (address, reply,
    delivery id) of bounced copies, `delivered` the addresses of copies sent."""
    for address, reply, delivery_id in hard:
        add(conn, address, "hard_bounce", reply, now, delivery_id)
    if delivered:
        done = sorted({normalise_address(a) for a in delivered})
        conn.execute(delete(soft_bounce_streaks).where(soft_bounce_streaks.c.address.in_(done)))
    for address, reply, delivery_id in soft:
        address = normalise_address(address)
        bumped = conn.execute(
            update(soft_bounce_streaks).where(soft_bounce_streaks.c.address == address)
            .values(count=soft_bounce_streaks.c.count + 1, last_at=now)
        ).rowcount
        if not bumped:
            conn.execute(insert_ignoring_duplicates(conn, soft_bounce_streaks, "address")
                         .values(address=address, count=1, last_at=now))
        count = conn.execute(select(soft_bounce_streaks.c.count)
                             .where(soft_bounce_streaks.c.address == address)).scalar_one()
        if count >= soft_limit:
            add(conn, address, "soft_bounces", f"{count} copies in a row given up; the last: {reply}", now, delivery_id)
