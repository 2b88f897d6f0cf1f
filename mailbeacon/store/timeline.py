"""When a message's opens and clicks happened, and whose they were: what its timeline chart is drawn from.

Read from the hourly counters (`hourly_activity`, kept by the classify reader): one row per
hour, type, class and client with events, so a chart of a large campaign costs a few hundred
rows, not one per event. A chart's smallest bucket is an hour, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from mailbeacon.store.hourly import HOUR, select_hours


@dataclass(frozen=True, slots=True)
class ActivityTime:
    occurred_at: float
    """When (for counted rows: the start of their hour)."""
    type: str
    """open or click."""
    cls: str | None
    """The pipeline's class: human, proxied, suspect_forward, machine, sender."""
    count: int = 1
    """How many events this stands for."""


def select_message_times(conn: Connection, message_id: int, limit: int) -> list[ActivityTime]:
    """The message's judged events per hour, type and class, oldest first (at most `limit` rows)."""
    counted: dict[tuple[int, str, str], int] = {}
    for row in select_hours(conn, message_id):
        key = (row.hour, row.type, row.cls)
        counted[key] = counted.get(key, 0) + row.events
    return [ActivityTime(float(hour * HOUR), kind, cls, n) for (hour, kind, cls), n in sorted(counted.items())][:limit]
