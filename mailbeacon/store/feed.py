"""The activity feed as people and programs read it: newest first per user, or in log order for fan-out.

Rows of `feed` say whose an event is; the event itself is joined by primary key,
so a page costs an index range scan and `limit` lookups, whatever the log's size.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, func, select

from mailbeacon.store.schema import events, feed, messages


@dataclass(frozen=True, slots=True)
class FeedItem:
    id: int
    """The event's id: the feed's cursor."""
    type: str
    occurred_at: float
    user_id: int | None
    message_id: int | None
    subject: str | None
    recipient: str | None
    link_idx: int | None
    url: str | None
    ip: str
    user_agent: str
    cls: str | None
    reasons: tuple[str, ...]
    client: str | None
    first: bool | None
    notice: str | None
    """first_open, open, click, forward; None for events that never notify (machine, sender)."""
    gap: float | None
    """Seconds since the delivery's previous human open."""


@dataclass(frozen=True, slots=True)
class FeedFilter:
    user_id: int | None = None
    """None: everyone's (an admin's view)."""
    message_id: int | None = None
    recipient: str | None = None
    type: str | None = None
    """open or click."""
    human: bool | None = None
    """True: only what counts as a person (notice set); False: only machine and sender events."""


def feed_query() -> Select[tuple[object, ...]]:
    return select(
        events.c.id, events.c.type, events.c.occurred_at, feed.c.user_id, feed.c.message_id,
        # the recipient's own subject where the copy had one (a campaign's, rendered: issue #13)
        func.coalesce(feed.c.subject, messages.c.subject).label("subject"),
        feed.c.recipient, events.c.link_idx, events.c.url, events.c.ip, events.c.user_agent,
        events.c.class_.label("cls"), events.c.reasons, events.c.client, events.c.first, feed.c.notice, feed.c.gap,
    ).select_from(
        feed.join(events, events.c.id == feed.c.event_id).outerjoin(messages, messages.c.id == feed.c.message_id)
    )


def feed_items(conn: Connection, query: Select[tuple[object, ...]]) -> list[FeedItem]:
    return [
        FeedItem(
            id=r.id, type=r.type, occurred_at=r.occurred_at, user_id=r.user_id, message_id=r.message_id,
            subject=r.subject, recipient=r.recipient, link_idx=r.link_idx, url=r.url, ip=r.ip,
            user_agent=r.user_agent, cls=r.cls, reasons=tuple(json.loads(r.reasons)) if r.reasons else (),
            client=r.client, first=r.first, notice=r.notice, gap=r.gap,
        )
        for r in conn.execute(query)
    ]


def select_feed(conn: Connection, where: FeedFilter, before: int | None, limit: int) -> list[FeedItem]:
    """Newest first, events with id < `before` (None: from the newest)."""
    return feed_items(conn, filtered(feed_query(), where, before).order_by(feed.c.event_id.desc()).limit(limit))


def filtered(query: Select[tuple[object, ...]], where: FeedFilter, before: int | None) -> Select[tuple[object, ...]]:
    """`query` (a `feed_query()`) narrowed to what `where` and the cursor `before` let through."""
    if before is not None:
        query = query.where(feed.c.event_id < before)
    if where.user_id is not None:
        query = query.where(feed.c.user_id == where.user_id)
    if where.message_id is not None:
        query = query.where(feed.c.message_id == where.message_id)
    if where.recipient is not None:
        query = query.where(feed.c.recipient == where.recipient)
    if where.type is not None:
        query = query.where(events.c.type == where.type)
    if where.human is True:
        query = query.where(feed.c.notice.is_not(None))
    elif where.human is False:
        query = query.where(feed.c.notice.is_(None))
    return query


def select_feed_after(
    conn: Connection, after: int, up_to: int, limit: int, user_ids: Sequence[int] | None = None
) -> list[FeedItem]:
    """In log order, events with after < id <= up_to: what a live stream or the webhook fan-out has not seen."""
    query = (
        feed_query()
        .where(feed.c.event_id > after, feed.c.event_id <= up_to)
        .order_by(feed.c.event_id)
        .limit(limit)
    )
    if user_ids is not None:
        query = query.where(feed.c.user_id.in_(list(user_ids)))
    return feed_items(conn, query)
