"""Webhook endpoints, their outbox and the delivery log.

The fan-out writes one outbox row per (endpoint, event) in the transaction that
moves its cursor, so a crash loses no event and doubles none. Workers claim due
rows with a lease, as the mail queue does: a worker that dies leaves its rows to
be claimed again when the lease ends. Delivery is at-least-once; receivers drop
duplicates by the webhook-id, which every attempt of a row repeats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from mailbeacon.store.activity import position_of
from mailbeacon.store.feed import FeedItem, select_feed_after
from mailbeacon.store.schema import pipeline_cursors, users, webhook_attempts, webhook_outbox, webhooks

READER = "webhooks"
"""The fan-out's cursor in pipeline_cursors: the last event id it has queued everything for."""
JUDGED_BY = "classify"
"""The reader whose cursor says how far the feed is written."""

PENDING, DELIVERED, FAILED, DISABLED = "pending", "delivered", "failed", "disabled"
RESPONSE_KEPT = 100
"""Characters of a receiver's status line kept in the delivery log (never its body: issue #12)."""
ERROR_KEPT = 1024
"""Characters of an attempt's error kept in the delivery log."""


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint: where one user's events go, and which of them."""

    id: int
    user_id: int
    url: str
    secret: str
    """whsec_ + base64 of the HMAC key (Standard Webhooks)."""
    event_filter: tuple[str, ...]
    """Kinds such as open, click, open.human; empty: every event."""
    enabled: bool
    disabled_reason: str | None
    all_users: bool
    """Everyone's events, not only the owner's; the fan-out honours it only while the owner is an admin."""
    created_at: float


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    attempted_at: float
    status_code: int | None
    """None when no answer came (refused, timed out)."""
    error: str | None
    duration: float
    response: str | None
    """The answer's status line, e.g. '200 OK' (never its body); None when no answer came."""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One outbox row: a message to one endpoint, and what happened to it."""

    id: int
    message_id: str
    """The webhook-id header: the same on every attempt and redelivery."""
    webhook_id: int
    event_id: int | None
    """None for a test message."""
    payload: str
    status: str
    """pending, delivered, failed (the retry window ended), disabled (the endpoint was turned off)."""
    attempts: int
    """Failed attempts since it was queued (or redelivered): what the backoff counts."""
    next_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None
    log: tuple[WebhookAttempt, ...] = ()
    """Every attempt, newest first."""


@dataclass(frozen=True, slots=True)
class DueWebhook:
    """A claimed outbox row with what sending it needs."""

    id: int
    message_id: str
    webhook_id: int
    url: str
    secret: str
    payload: str
    attempts: int
    retry_until: float | None
    """None until an attempt failed."""


@dataclass(frozen=True, slots=True)
class NewWebhookMessage:
    webhook_id: int
    event_id: int | None
    message_id: str
    payload: str


@dataclass(frozen=True, slots=True)
class FanOutStep:
    moved: bool
    """The cursor moved: there may be more to do at once."""
    queued: int
    raced: bool = False
    """Another process took this step; step again."""


FanOut = Callable[[Sequence[FeedItem], Sequence[Webhook]], list[NewWebhookMessage]]
"""What to queue for these feed items, given the enabled endpoints."""


def _webhook(r: Any, all_users: bool | None = None) -> Webhook:
    return Webhook(
        id=r.id, user_id=r.user_id, url=r.url, secret=r.secret, event_filter=tuple(json.loads(r.event_filter)),
        enabled=bool(r.enabled), disabled_reason=r.disabled_reason,
        all_users=bool(r.all_users if all_users is None else all_users), created_at=r.created_at,
    )


def insert_webhook(
    conn: Connection, user_id: int, url: str, secret: str, event_filter: Sequence[str], all_users: bool, now: float
) -> Webhook:
    webhook_id = conn.execute(
        insert(webhooks)
        .values(user_id=user_id, url=url, secret=secret, event_filter=json.dumps(list(event_filter)), enabled=True,
                disabled_reason=None, all_users=all_users, created_at=now)
        .returning(webhooks.c.id)
    ).scalar_one()
    found = select_webhook(conn, webhook_id)
    assert found is not None
    return found


def select_webhook(conn: Connection, webhook_id: int) -> Webhook | None:
    row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
    return None if row is None else _webhook(row)


def select_webhooks(conn: Connection, user_id: int) -> list[Webhook]:
    rows = conn.execute(select(webhooks).where(webhooks.c.user_id == user_id).order_by(webhooks.c.id))
    return [_webhook(r) for r in rows]


def update_webhook(
    conn: Connection,
    webhook_id: int,
    *,
    url: str | None = None,
    event_filter: Sequence[str] | None = None,
    enabled: bool | None = None,
    all_users: bool | None = None,
) -> Webhook | None:
    """Change what is given; turning an endpoint off leaves its pending messages disabled (redeliverable)."""
    values: dict[str, object] = {}
    if url is not None:
        values["url"] = url
    if event_filter is not None:
        values["event_filter"] = json.dumps(list(event_filter))
    if all_users is not None:
        values["all_users"] = all_users
    if enabled is True:
        values.update(enabled=True, disabled_reason=None)
    if values:
        conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))
    if enabled is False:
        disable_webhook(conn, webhook_id, "turned off by its owner")
    return select_webhook(conn, webhook_id)


def disable_webhook(conn: Connection, webhook_id: int, reason: str) -> None:
    conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(enabled=False, disabled_reason=reason))
    conn.execute(
        update(webhook_outbox)
        .where(webhook_outbox.c.webhook_id == webhook_id, webhook_outbox.c.status == PENDING)
        .values(status=DISABLED, next_attempt_at=None, lease_until=None)
    )


def delete_webhook(conn: Connection, webhook_id: int) -> bool:
    """The endpoint with its outbox and delivery log."""
    rows = select(webhook_outbox.c.id).where(webhook_outbox.c.webhook_id == webhook_id).scalar_subquery()
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.outbox_id.in_(rows)))
    conn.execute(delete(webhook_outbox).where(webhook_outbox.c.webhook_id == webhook_id))
    return bool(conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id)).rowcount)


def _outbox_row(m: NewWebhookMessage, now: float) -> dict[str, object]:
    return {
        "message_id": m.message_id, "webhook_id": m.webhook_id, "event_id": m.event_id, "payload": m.payload,
        "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now,
    }


def insert_webhook_messages(conn: Connection, messages: Sequence[NewWebhookMessage], now: float) -> None:
    if messages:
        conn.execute(insert(webhook_outbox), [_outbox_row(m, now) for m in messages])


def insert_webhook_message(conn: Connection, message: NewWebhookMessage, now: float) -> int:
    return int(
        conn.execute(insert(webhook_outbox).values(**_outbox_row(message, now)).returning(webhook_outbox.c.id))
        .scalar_one()
    )


def load_fan_out(conn: Connection, limit: int) -> tuple[int, int, list[FeedItem], list[Webhook]]:
    """(cursor, where the cursor may move, feed items after the cursor, enabled endpoints).

    Nothing is read from the feed while no endpoint is enabled: the cursor then
    simply moves to the end of what the classify reader has judged.
    """
    position = position_of(conn, READER)
    judged = position_of(conn, JUDGED_BY)
    if judged <= position:  # caught up, or the classify reader starts again (reclassify)
        return position, position, [], []
    rows = conn.execute(
        select(webhooks, (webhooks.c.all_users & users.c.is_admin).label("everyone"))
        .join(users, users.c.id == webhooks.c.user_id)
        .where(webhooks.c.enabled)
        .order_by(webhooks.c.id)
    ).all()
    endpoints = [_webhook(r, all_users=bool(r.everyone)) for r in rows]
    if not endpoints:
        return position, judged, [], []
    items = select_feed_after(conn, position, judged, limit)
    return position, items[-1].id if len(items) == limit else judged, items, endpoints


def save_fan_out(
    conn: Connection, expected: int, position: int, messages: Sequence[NewWebhookMessage], now: float
) -> bool:
    """Queue the messages and move the cursor, unless another process moved it since `expected`."""
    if position_of(conn, READER) != expected:
        return False
    insert_webhook_messages(conn, messages, now)
    moved = conn.execute(
        update(pipeline_cursors).where(pipeline_cursors.c.name == READER).values(position=position, updated_at=now)
    )
    if not moved.rowcount:
        conn.execute(insert(pipeline_cursors).values(name=READER, position=position, updated_at=now))
    return True


def claim_due_webhooks(conn: Connection, now: float, limit: int, lease: float) -> list[DueWebhook]:
    o = webhook_outbox.c
    rows = conn.execute(
        select(o.id, o.message_id, o.webhook_id, webhooks.c.url, webhooks.c.secret, o.payload, o.attempts,
               o.retry_until)
        .join(webhooks, webhooks.c.id == o.webhook_id)
        .where(o.status == PENDING, o.next_attempt_at <= now, webhooks.c.enabled)
        .where(or_(o.lease_until.is_(None), o.lease_until < now))
        .order_by(o.next_attempt_at, o.id)
        .limit(limit)
    ).all()
    if rows:
        conn.execute(update(webhook_outbox).where(o.id.in_([r.id for r in rows])).values(lease_until=now + lease))
    return [DueWebhook(r.id, r.message_id, r.webhook_id, r.url, r.secret, r.payload, r.attempts, r.retry_until)
            for r in rows]


def record_attempt(
    conn: Connection,
    outbox_id: int,
    attempt: WebhookAttempt,
    status: str,
    next_attempt_at: float | None,
    retry_until: float | None,
    disable_reason: str | None,
) -> bool:
    """Log the attempt and give the row its new status; False if the row is gone or no longer pending."""
    row = conn.execute(
        select(webhook_outbox.c.status, webhook_outbox.c.webhook_id).where(webhook_outbox.c.id == outbox_id)
    ).first()
    if row is None:
        return False  # its endpoint was deleted meanwhile
    conn.execute(
        insert(webhook_attempts).values(
            outbox_id=outbox_id, attempted_at=attempt.attempted_at, status_code=attempt.status_code,
            error=_kept(attempt.error, ERROR_KEPT), duration=attempt.duration,
            response=_kept(attempt.response, RESPONSE_KEPT),
        )
    )
    if row.status != PENDING:
        return False
    values: dict[str, object] = {
        "status": status, "lease_until": None, "next_attempt_at": next_attempt_at,
        "last_status": attempt.status_code, "last_error": _kept(attempt.error, ERROR_KEPT),
    }
    if status == DELIVERED:
        values["delivered_at"] = attempt.attempted_at
    else:
        values["attempts"] = webhook_outbox.c.attempts + 1
    if retry_until is not None:
        values["retry_until"] = retry_until
    conn.execute(update(webhook_outbox).where(webhook_outbox.c.id == outbox_id).values(**values))
    if disable_reason is not None:
        disable_webhook(conn, row.webhook_id, disable_reason)
    return True


def release_leases(conn: Connection, outbox_ids: Sequence[int]) -> None:
    """A stopping worker hands its claimed rows back, so the next start need not wait out the lease."""
    if outbox_ids:
        conn.execute(update(webhook_outbox).where(webhook_outbox.c.id.in_(list(outbox_ids))).values(lease_until=None))


def requeue(conn: Connection, outbox_id: int, now: float) -> bool:
    """Send again now with the same id and body; the retry window starts again."""
    result = conn.execute(
        update(webhook_outbox)
        .where(webhook_outbox.c.id == outbox_id)
        .values(status=PENDING, next_attempt_at=now, attempts=0, retry_until=None, delivered_at=None)
    )
    return bool(result.rowcount)


def next_webhook_due(conn: Connection) -> float | None:
    o = webhook_outbox.c
    value = conn.execute(
        select(o.next_attempt_at)
        .join(webhooks, webhooks.c.id == o.webhook_id)
        .where(o.status == PENDING, webhooks.c.enabled)
        .order_by(o.next_attempt_at)
        .limit(1)
    ).scalar()
    return None if value is None else float(value)


def select_webhook_deliveries(
    conn: Connection, webhook_id: int, before: int | None, limit: int
) -> list[WebhookDelivery]:
    """Newest first, outbox ids below `before`, each with its attempts."""
    query = (
        select(webhook_outbox).where(webhook_outbox.c.webhook_id == webhook_id)
        .order_by(webhook_outbox.c.id.desc()).limit(limit)
    )
    if before is not None:
        query = query.where(webhook_outbox.c.id < before)
    return _with_log(conn, conn.execute(query).all())


def select_webhook_delivery(conn: Connection, outbox_id: int) -> WebhookDelivery | None:
    found = _with_log(conn, conn.execute(select(webhook_outbox).where(webhook_outbox.c.id == outbox_id)).all())
    return found[0] if found else None


def _with_log(conn: Connection, rows: Sequence[Any]) -> list[WebhookDelivery]:
    logs: dict[int, list[WebhookAttempt]] = {r.id: [] for r in rows}
    if logs:
        for a in conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.outbox_id.in_(list(logs)))
            .order_by(webhook_attempts.c.id.desc())
        ):
            logs[a.outbox_id].append(WebhookAttempt(a.attempted_at, a.status_code, a.error, a.duration, a.response))
    return [
        WebhookDelivery(
            id=r.id, message_id=r.message_id, webhook_id=r.webhook_id, event_id=r.event_id, payload=r.payload,
            status=r.status, attempts=r.attempts, next_attempt_at=r.next_attempt_at, last_status=r.last_status,
            last_error=r.last_error, created_at=r.created_at, delivered_at=r.delivered_at, log=tuple(logs[r.id]),
        )
        for r in rows
    ]


def _kept(text: str | None, most: int) -> str | None:
    return None if text is None else text[:most]
