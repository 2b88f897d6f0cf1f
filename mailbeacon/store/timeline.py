"""When a message's opens and clicks happened, and whose they were: what its timeline chart is drawn from.

Only three small columns a row, read through `ix_feed_message_event`, so a chart
of a large campaign costs one index range and no User-Agent strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from mailbeacon.store.schema import events, feed


@dataclass(frozen=True, slots=True)
class ActivityTime:
    occurred_at: float
    type: str
    """open or click."""
    cls: str | None
    """The pipeline's class: human, proxied, suspect_forward, machine, sender."""


def select_message_times(conn: Connection, message_id: int, limit: int) -> list[ActivityTime]:
    """The message's first `limit` judged events, in log order."""
    rows = conn.execute(
        select(events.c.occurred_at, events.c.type, events.c.class_)
        .select_from(feed.join(events, events.c.id == feed.c.event_id))
        .where(feed.c.message_id == message_id)
        .order_by(feed.c.event_id)
        .limit(limit)
    )
    return [ActivityTime(r.occurred_at, r.type, r.class_) for r in rows]
