"""The Sent-folder queue (issue #14): one untracked copy per message, appended once the upstream accepts.

The row is written with the message, in its transaction, so a message is never queued
without it. It waits until one of the message's copies is sent, is then claimed with a
lease like an outbound copy, and ends appended, found (already in the folder: an APPEND
whose answer was lost), dropped (nothing was sent) or failed (gave up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Exists, and_, exists, insert, or_, select, update

from mailbeacon.store.schema import deliveries, sent_copies

FINAL = ("appended", "found", "dropped", "failed")


@dataclass(frozen=True, slots=True)
class NewSentCopy:
    """Handed to `queue_message` for a sender whose mailbox gets a Sent copy."""

    mailbox_id: int
    message_id_header: str
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class DueSentCopy:
    id: int
    message_id: int
    mailbox_id: int
    message_id_header: str
    body: bytes = field(repr=False)
    attempts: int
    created_at: float


@dataclass(frozen=True, slots=True)
class SentCopyRow:
    """What became of a message's Sent copy."""

    message_id: int
    mailbox_id: int | None
    status: str
    attempts: int
    last_error: str | None
    folder: str | None
    appended_at: float | None


def insert_sent_copy(conn: Connection, message_id: int, copy: NewSentCopy, now: float) -> None:
    conn.execute(
        insert(sent_copies).values(
            message_id=message_id, mailbox_id=copy.mailbox_id, message_id_header=copy.message_id_header,
            body=copy.body, status="waiting", attempts=0, next_attempt_at=now, created_at=now,
        )
    )


def _has_delivery(*statuses: str) -> Exists:
    return exists().where(deliveries.c.message_id == sent_copies.c.message_id, deliveries.c.status.in_(statuses))


def has_waiting(conn: Connection) -> bool:
    """Whether any Sent copy waits: the idle worker asks this in a read, not a write, every second."""
    return conn.execute(select(sent_copies.c.id).where(sent_copies.c.status == "waiting").limit(1)).first() is not None


def claim_sent_copies(conn: Connection, now: float, limit: int, lease: float) -> list[DueSentCopy]:
    """Waiting copies of messages the upstream has taken at least one copy of, held for `lease` seconds.

    Copies of messages nobody was sent (every copy bounced) are dropped on the way."""
    waiting = sent_copies.c.status == "waiting"
    conn.execute(
        update(sent_copies)
        .where(waiting, ~_has_delivery("queued", "sent"))
        .values(status="dropped", body=None, lease_until=None, last_error="no copy was sent: every recipient bounced")
    )
    rows = conn.execute(
        select(sent_copies)
        .where(
            waiting,
            sent_copies.c.mailbox_id.is_not(None),
            sent_copies.c.next_attempt_at <= now,
            or_(sent_copies.c.lease_until.is_(None), sent_copies.c.lease_until < now),
            _has_delivery("sent"),
        )
        .order_by(sent_copies.c.next_attempt_at, sent_copies.c.id)
        .limit(limit)
    ).all()
    if rows:
        conn.execute(
            update(sent_copies).where(sent_copies.c.id.in_([r.id for r in rows])).values(lease_until=now + lease)
        )
    return [
        DueSentCopy(r.id, r.message_id, r.mailbox_id, r.message_id_header, bytes(r.body), r.attempts, r.created_at)
        for r in rows
    ]


def finish_sent_copy(
    conn: Connection, copy_id: int, status: str, now: float, folder: str | None = None, error: str | None = None,
) -> bool:
    """appended, found, dropped or failed; False if it was finished already (by a worker whose lease ran out)."""
    assert status in FINAL
    done = conn.execute(
        update(sent_copies)
        .where(sent_copies.c.id == copy_id, sent_copies.c.status == "waiting")
        .values(
            status=status, body=None, lease_until=None, folder=folder, last_error=error,
            appended_at=now if status in ("appended", "found") else None,
        )
    )
    return bool(done.rowcount)


def postpone_sent_copy(conn: Connection, copy_id: int, next_attempt_at: float, error: str) -> None:
    conn.execute(
        update(sent_copies)
        .where(and_(sent_copies.c.id == copy_id, sent_copies.c.status == "waiting"))
        .values(attempts=sent_copies.c.attempts + 1, next_attempt_at=next_attempt_at, lease_until=None,
                last_error=error)
    )


def select_sent_copy(conn: Connection, message_id: int) -> SentCopyRow | None:
    row = conn.execute(select(sent_copies).where(sent_copies.c.message_id == message_id)).first()
    if row is None:
        return None
    return SentCopyRow(row.message_id, row.mailbox_id, row.status, row.attempts, row.last_error, row.folder,
                       row.appended_at)
