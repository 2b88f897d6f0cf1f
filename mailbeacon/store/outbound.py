"""The outbound queue: copies accepted for sending, held until the upstream takes or refuses them.

A message and all its copies are written in one transaction, so an accepted
message is either wholly queued or not at all; the copies may come from an
iterator, each written as it comes, so memory stays flat in their number.
Workers claim rows with a lease; a worker that dies leaves its rows to be
claimed again when the lease ends (at-least-once, as SMTP itself is). On
PostgreSQL workers of many nodes claim at once: each skips the rows another
is claiming (FOR UPDATE SKIP LOCKED) instead of waiting its turn (issue #17).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from mailbeacon.store.campaign_control import hold_copies, withdraw_copies
from mailbeacon.store.messages import check_delivery_keys, insert_message_row
from mailbeacon.store.schema import campaigns, deliveries, links, messages, outbound
from mailbeacon.store.suppressions import GAVE_UP, HARD_REPLY, SOFT_BOUNCES, record_bounces
from mailbeacon.store.suppressions import normalise_address as normalise_address


@dataclass(frozen=True, slots=True)
class Copy:
    """One copy of a message for the upstream, and what it tracks."""

    delivery_key: bytes
    recipient: str
    """Who opens and clicks are attributed to (all recipients, comma-separated, for a shared copy)."""
    rcpt_to: tuple[str, ...]
    body: bytes
    opens_tracked: bool
    clicks_tracked: bool
    untracked_reason: str | None = None
    shared: bool = False
    listed: bool = True
    """False: Bcc'd or the sender herself, not in To or Cc: not listed among her contacts."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A claimed copy, ready to hand to the upstream."""

    id: int
    delivery_key: bytes
    mail_from: str
    rcpt_to: list[str]
    body: bytes
    attempts: int
    """Failed attempts so far."""
    queued_at: float
    mailbox_id: int | None = None
    """The sender's connected mailbox that sends it (issue #14); None: the server's upstream."""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery_key: bytes
    message_id: int
    recipient: str
    opens_tracked: bool | None
    clicks_tracked: bool | None
    untracked_reason: str | None
    shared: bool
    status: str | None
    accepted_at: float | None
    upstream_reply: str | None
    attempts: int
    last_error: str | None


def insert_outgoing(
    conn: Connection,
    *,
    user_id: int | None,
    sender: str | None,
    subject: str | None,
    message_id_header: str | None,
    source: str,
    submitted_from: str | None,
    mail_from: str,
    copies: Iterable[Copy],
    link_rows: Sequence[tuple[int, str]],
    now: float,
    mailbox_id: int | None = None,
) -> int:
    message_id = insert_message_row(
        conn, user_id=user_id, sender=sender, subject=subject, message_id_header=message_id_header, source=source,
        submitted_from=submitted_from, now=now,
    )
    for copy in copies:  # one at a time: a relay message may have many large copies (issue #12, item 9)
        check_delivery_keys((copy.delivery_key,))  # a bad one rolls back the whole message
        delivery_id = conn.execute(
            insert(deliveries)
            .values(
                delivery_key=copy.delivery_key,
                message_id=message_id,
                recipient=copy.recipient,
                created_at=now,
                opens_tracked=copy.opens_tracked,
                clicks_tracked=copy.clicks_tracked,
                untracked_reason=copy.untracked_reason,
                shared=copy.shared,
                listed=copy.listed,
                status="queued",
            )
            .returning(deliveries.c.id)
        ).scalar_one()
        conn.execute(
            insert(outbound).values(
                delivery_id=delivery_id,
                mail_from=mail_from,
                rcpt_to=json.dumps(list(copy.rcpt_to)),
                body=copy.body,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                mailbox_id=mailbox_id,
            )
        )
    if link_rows:
        conn.execute(insert(links), [{"message_id": message_id, "idx": idx, "url": url} for idx, url in link_rows])
    return message_id


def claim_due(conn: Connection, now: float, limit: int, lease: float) -> list[Queued]:
    """Up to `limit` due copies, leased until now + `lease`. Due copies of a paused campaign are held
    and a cancelled one's withdrawn instead (issue #13: one its sender retried, or a lease ran out)."""
    for _ in range(3):  # each round takes every due copy of the stopped campaigns it met out of the way
        rows = conn.execute(
            select(
                outbound.c.id,
                deliveries.c.delivery_key,
                deliveries.c.message_id,
                outbound.c.mail_from,
                outbound.c.rcpt_to,
                outbound.c.body,
                outbound.c.attempts,
                outbound.c.created_at,
                outbound.c.mailbox_id,
                campaigns.c.status.label("campaign_status"),
                campaigns.c.paused_at,
            )
            .select_from(outbound)
            .join(deliveries, deliveries.c.id == outbound.c.delivery_id)
            .outerjoin(campaigns, campaigns.c.message_id == deliveries.c.message_id)  # unique: one lookup a row
            .where(outbound.c.next_attempt_at <= now)
            .where(or_(outbound.c.lease_until.is_(None), outbound.c.lease_until < now))
            .order_by(outbound.c.next_attempt_at, outbound.c.id)
            .limit(limit)
            .with_for_update(of=outbound, skip_locked=True)  # nothing on SQLite, whose writers are serial anyway
        ).all()
        stopped = {
            r.message_id: r.campaign_status for r in rows if r.campaign_status == "cancelled" or r.paused_at is not None
        }
        if not stopped:
            break
        for message_id, status in stopped.items():
            (withdraw_copies if status == "cancelled" else hold_copies)(conn, message_id, now)
    rows = [r for r in rows if r.message_id not in stopped]  # more stopped campaigns than rounds: the next claim
    if rows:
        conn.execute(update(outbound).where(outbound.c.id.in_([r.id for r in rows])).values(lease_until=now + lease))
    return [
        Queued(r.id, bytes(r.delivery_key), r.mail_from, json.loads(r.rcpt_to), bytes(r.body), r.attempts, r.created_at,
               r.mailbox_id)
        for r in rows
    ]


def release_claims(conn: Connection, outbound_ids: Sequence[int]) -> None:
    """Hand claimed copies back unsent: any worker may claim them now."""
    conn.execute(update(outbound).where(outbound.c.id.in_(list(outbound_ids))).values(lease_until=None))


def finish(conn: Connection, outbound_id: int, status: str, reply: str, accepted_at: float | None) -> bool:
    """Record the outcome on the delivery and drop the queue row; False if another worker finished it first."""
    delivery_id = conn.execute(select(outbound.c.delivery_id).where(outbound.c.id == outbound_id)).scalar_one_or_none()
    if delivery_id is None:
        return False
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status=status, accepted_at=accepted_at, upstream_reply=reply)
    )
    conn.execute(delete(outbound).where(outbound.c.id == outbound_id))
    _suppress_bounced(conn, [(delivery_id, DeliveryOutcome(outbound_id, status, reply, accepted_at))], SOFT_BOUNCES)
    return True


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of one claimed copy: sent or bounced (its queue row goes), or retry at `next_attempt_at`."""

    outbound_id: int
    status: str
    """sent, bounced or retry."""
    reply: str
    accepted_at: float | None = None
    next_attempt_at: float | None = None


def record_outcomes(conn: Connection, outcomes: Sequence[DeliveryOutcome], soft_limit: int = SOFT_BOUNCES) -> int:
    """`finish` and `postpone` for many copies in a few statements; how many were still queued. Bounces and
    deliveries update the suppression list in the same transaction (issue #15)."""
    final = [o for o in outcomes if o.status != "retry"]
    recorded = 0
    if final:
        found = {  # not .tuples(): deprecated in SQLAlchemy 2.1
            row.id: row.delivery_id
            for row in conn.execute(
                select(outbound.c.id, outbound.c.delivery_id).where(outbound.c.id.in_([o.outbound_id for o in final]))
            )
        }
        done = [o for o in final if o.outbound_id in found]  # a copy another worker finished first is left alone
        if done:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == bindparam("did"))
                .values(status=bindparam("new_status"), accepted_at=bindparam("at"), upstream_reply=bindparam("reply")),
                [{"did": found[o.outbound_id], "new_status": o.status, "at": o.accepted_at, "reply": o.reply} for o in done],
            )
            conn.execute(delete(outbound).where(outbound.c.id.in_([o.outbound_id for o in done])))
            _suppress_bounced(conn, [(found[o.outbound_id], o) for o in done], soft_limit)
        recorded += len(done)
    retries = [o for o in outcomes if o.status == "retry"]
    if retries:
        conn.execute(
            update(outbound)
            .where(outbound.c.id == bindparam("oid"))
            .values(attempts=outbound.c.attempts + 1, next_attempt_at=bindparam("due"), lease_until=None,
                    last_error=bindparam("error")),
            [{"oid": o.outbound_id, "due": o.next_attempt_at, "error": o.reply} for o in retries],
        )
        recorded += len(retries)
    return recorded


def postpone(conn: Connection, outbound_id: int, next_attempt_at: float, error: str) -> None:
    conn.execute(
        update(outbound)
        .where(outbound.c.id == outbound_id)
        .values(
            attempts=outbound.c.attempts + 1, next_attempt_at=next_attempt_at, lease_until=None, last_error=error
        )
    )


def next_due(conn: Connection) -> float | None:
    """When the earliest queued copy may be tried (its lease included); None when the queue is empty."""
    # the later of the two: greatest() on PostgreSQL, two-argument max() on SQLite
    later = func.greatest if conn.dialect.name == "postgresql" else func.max
    due = later(outbound.c.next_attempt_at, func.coalesce(outbound.c.lease_until, 0.0))
    value = conn.execute(select(func.min(due))).scalar_one_or_none()
    return None if value is None else float(value)


def next_unleased(conn: Connection, now: float) -> float | None:
    """When the earliest copy no worker holds is due, through the next_attempt_at index (a campaign
    may have queued 100,000); None when there is none."""
    value = conn.execute(
        select(outbound.c.next_attempt_at)
        .where(or_(outbound.c.lease_until.is_(None), outbound.c.lease_until < now))
        .order_by(outbound.c.next_attempt_at)
        .limit(1)
    ).scalar_one_or_none()
    return None if value is None else float(value)


def select_deliveries(conn: Connection, message_id: int) -> list[DeliveryRow]:
    rows = conn.execute(
        select(deliveries, outbound.c.attempts, outbound.c.last_error)
        .outerjoin(outbound, outbound.c.delivery_id == deliveries.c.id)
        .where(deliveries.c.message_id == message_id)
        .order_by(deliveries.c.id)
    ).all()
    return [
        DeliveryRow(
            delivery_key=bytes(r.delivery_key),
            message_id=r.message_id,
            recipient=r.recipient,
            opens_tracked=r.opens_tracked,
            clicks_tracked=r.clicks_tracked,
            untracked_reason=r.untracked_reason,
            shared=r.shared,
            status=r.status,
            accepted_at=r.accepted_at,
            upstream_reply=r.upstream_reply,
            attempts=r.attempts or 0,
            last_error=r.last_error,
        )
        for r in rows
    ]




def select_delivery_senders(conn: Connection, keys: Sequence[bytes], chunk: int = 500) -> dict[bytes, int | None]:
    """The user whose message each known delivery key belongs to (None: a message of no user)."""
    found: dict[bytes, int | None] = {}
    for start in range(0, len(keys), chunk):  # bound the IN list: SQLite caps bound parameters
        rows = conn.execute(
            select(deliveries.c.delivery_key, messages.c.user_id)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.delivery_key.in_(list(keys[start : start + chunk])))
        ).all()
        found.update((bytes(r.delivery_key), r.user_id) for r in rows)
    return found


def _suppress_bounced(conn: Connection, done: Sequence[tuple[int, DeliveryOutcome]], soft_limit: int) -> None:
    """Hard bounces suppress their address, soft ones count towards it, a delivered copy ends a streak. A copy
    shared by several recipients tells nothing about one address; a refusal that is not the address's (an
    upstream without SMTPUTF8) is no bounce of it."""
    recipients = {
        row.id: row.recipient
        for row in conn.execute(
            select(deliveries.c.id, deliveries.c.recipient)
            .where(deliveries.c.id.in_([delivery_id for delivery_id, _ in done]), deliveries.c.shared.is_(False))
        )
    }
    hard, soft, delivered = [], [], []
    for delivery_id, outcome in done:
        address = recipients.get(delivery_id)
        if address is None:
            continue
        if outcome.status == "sent":
            delivered.append(address)
        elif outcome.reply.startswith(GAVE_UP):
            soft.append((address, outcome.reply, delivery_id))
        elif HARD_REPLY.search(outcome.reply):
            hard.append((address, outcome.reply, delivery_id))
    if hard or soft or delivered:
        record_bounces(conn, hard, soft, delivered, time.time(), soft_limit)
