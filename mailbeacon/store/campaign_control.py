"""Pause, resume and cancel of a campaign (issue #13, item 6), and what they do to its queued copies.

Pausing stops the queueing between two batches (a batch's compare-and-set write needs
`paused_at` empty) and holds the copies already queued but not handed to a sender: their
`next_attempt_at` moves HELD seconds on, so no claim finds them due and the outbound queue's
index order (and so the worker's idle wait) is unchanged. Resuming moves them back, later by
the length of the pause, so a rate's spacing is kept. Cancelling withdraws them: their rows
leave the outbound queue and their deliveries say `withdrawn` (never sent). A copy a sender
holds already goes out (or is retried, then held or withdrawn by the claim that finds it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, delete, exists, func, or_, select, update

from mailbeacon.store.schema import campaigns, deliveries, outbound

HELD = 1e12
"""Seconds (about 31,700 years) a held copy's next attempt moves on: never due, and a double keeps
the original time to a tenth of a millisecond."""
WITHDRAWN = "withdrawn: the campaign was cancelled before this copy was sent"
"""The upstream_reply of a withdrawn copy: what the report and the message's page show."""
LIVE = ("sending", "queued")
"""The statuses a campaign can be paused, resumed or cancelled in."""


def pause(conn: Connection, campaign_id: int, now: float) -> bool:
    """Pause a sending or queued campaign and hold its queued copies; False if it is paused already or over."""
    moved = conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(LIVE), campaigns.c.paused_at.is_(None))
        .values(paused_at=now)
    ).rowcount
    if moved != 1:
        return False
    hold_copies(conn, _message_of(conn, campaign_id), now)
    return True


def resume(conn: Connection, campaign_id: int, now: float) -> bool:
    """Lift the pause: held copies are due again, each as late as the pause was long; False if not paused."""
    paused_at = conn.execute(
        select(campaigns.c.paused_at).where(campaigns.c.id == campaign_id, campaigns.c.status.in_(LIVE))
    ).scalar_one_or_none()
    if paused_at is None:
        return False
    conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(paused_at=None))
    conn.execute(
        update(outbound)
        .where(outbound.c.next_attempt_at >= HELD, outbound.c.delivery_id.in_(_queued_of(_message_of(conn, campaign_id))))
        .values(next_attempt_at=outbound.c.next_attempt_at - HELD + max(0.0, now - float(paused_at)))
    )
    return True


def cancel(conn: Connection, campaign_id: int, now: float) -> bool:
    """Stop a sending, queued or paused campaign for good and withdraw its queued copies; False if it is over."""
    moved = conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(LIVE))
        .values(status="cancelled", paused_at=None, finished_at=now)
    ).rowcount
    if moved != 1:
        return False
    withdraw_copies(conn, _message_of(conn, campaign_id), now)
    return True


def hold_copies(conn: Connection, message_id: int, now: float) -> None:
    """Hold the message's queued copies that no sender holds (a lease that ran out holds none)."""
    conn.execute(
        update(outbound)
        .where(
            outbound.c.next_attempt_at < HELD, _unleased(now), outbound.c.delivery_id.in_(_queued_of(message_id))
        )
        .values(next_attempt_at=outbound.c.next_attempt_at + HELD)
    )


def withdraw_copies(conn: Connection, message_id: int, now: float) -> None:
    """Take the message's queued copies that no sender holds out of the queue; their deliveries say withdrawn."""
    waiting = exists().where(outbound.c.delivery_id == deliveries.c.id, _unleased(now))
    conn.execute(
        update(deliveries)
        .where(deliveries.c.message_id == message_id, deliveries.c.status == "queued", waiting)
        .values(status="withdrawn", upstream_reply=WITHDRAWN)
    )
    withdrawn = select(deliveries.c.id).where(deliveries.c.message_id == message_id, deliveries.c.status == "withdrawn")
    conn.execute(delete(outbound).where(outbound.c.delivery_id.in_(withdrawn)))


def last_due(conn: Connection, campaign_id: int) -> float | None:
    """When the campaign's last queued copy (not held) may leave; None if none waits. A resumed send
    paces its next copies after it."""
    message_id = _message_of(conn, campaign_id)
    due = func.max(outbound.c.next_attempt_at)
    found = conn.execute(
        select(due).where(outbound.c.next_attempt_at < HELD, outbound.c.delivery_id.in_(_queued_of(message_id)))
    ).scalar_one_or_none()
    return None if found is None else float(found)


def _unleased(now: float) -> ColumnElement[bool]:
    return or_(outbound.c.lease_until.is_(None), outbound.c.lease_until < now)


def _queued_of(message_id: int) -> Select[Any]:
    """The message's queued deliveries (an index range of ix_deliveries_message_status)."""
    return select(deliveries.c.id).where(deliveries.c.message_id == message_id, deliveries.c.status == "queued")


def _message_of(conn: Connection, campaign_id: int) -> int:
    return int(conn.execute(select(campaigns.c.message_id).where(campaigns.c.id == campaign_id)).scalar_one())
