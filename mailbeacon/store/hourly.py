"""Judged events counted per message, hour, type, class and client: `hourly_activity`.

The classify reader adds to these counters in the transaction that writes its verdicts
(`store/activity.py save_batch`), so they are exactly the feed's rows counted, without
reading them: a campaign of 300,000 events draws its timeline and clients from a few
hundred rows. A verdict revised later (an open judged a machine's after all) moves its
event from the old class's row to the new one. Like the other counters they stay when the
privacy job deletes old events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from mailbeacon.store.schema import events, feed, hourly_activity

HOUR = 3600
_Key = tuple[int, int, str, str, str]
"""(message id, hour, type, class, client or "")."""


@dataclass(frozen=True, slots=True)
class Judged:
    """An event the classify reader judged in this step."""

    message_id: int | None
    occurred_at: float
    type: str
    cls: str
    client: str | None


@dataclass(frozen=True, slots=True)
class HourCount:
    hour: int
    """Unix seconds // 3600."""
    type: str
    cls: str
    client: str | None
    events: int


def count_verdicts(conn: Connection, judged: Sequence[Judged], revised: Sequence[tuple[int, str]]) -> None:
    """Add a step's verdicts to the counters; `revised` holds (event id, new class). Call it after the
    judged events' classes are written and before the revised ones are: a revision's old class is
    read from the events table."""
    deltas: dict[_Key, int] = {}

    def add(key: _Key, n: int) -> None:
        deltas[key] = deltas.get(key, 0) + n

    for j in judged:
        if j.message_id is not None:
            add((j.message_id, int(j.occurred_at // HOUR), j.type, j.cls, j.client or ""), 1)
    if revised:
        rows = conn.execute(
            select(events.c.id, events.c.occurred_at, events.c.type, events.c.class_, events.c.client, feed.c.message_id)
            .select_from(events.join(feed, feed.c.event_id == events.c.id))
            .where(events.c.id.in_(sorted({event_id for event_id, _ in revised})))
        ).all()
        found = {r.id: r for r in rows}
        now = {r.id: r.class_ for r in rows}
        for event_id, cls in revised:  # in order: an event revised twice in one step moves twice
            r = found.get(event_id)
            if r is None or r.message_id is None or now[r.id] == cls:
                continue
            hour, client = int(r.occurred_at // HOUR), r.client or ""
            if now[r.id] is not None:
                add((r.message_id, hour, r.type, now[r.id], client), -1)
            add((r.message_id, hour, r.type, cls, client), 1)
            now[r.id] = cls
    rows_to_add = [
        {"message_id": m, "hour": h, "type": t, "class_": c, "client": client, "events": n}
        for (m, h, t, c, client), n in sorted(deltas.items())
        if n
    ]
    if not rows_to_add:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(hourly_activity)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["message_id", "hour", "type", "class", "client"],
            set_={"events": hourly_activity.c.events + statement.excluded.events},
        ),
        rows_to_add,
    )


def select_hours(conn: Connection, message_id: int) -> list[HourCount]:
    """The message's counters, in hour order (its primary key's order)."""
    rows = conn.execute(
        select(hourly_activity.c.hour, hourly_activity.c.type, hourly_activity.c.class_, hourly_activity.c.client,
               hourly_activity.c.events)
        .where(hourly_activity.c.message_id == message_id, hourly_activity.c.events != 0)
        .order_by(hourly_activity.c.hour)
    ).all()
    return [HourCount(r.hour, r.type, r.class_, r.client or None, r.events) for r in rows]
