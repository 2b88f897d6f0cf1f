"""The privacy job's steps: truncate old IP addresses, delete events past the retention.

Each step is one bounded transaction (a thousand rows by default), so the hot path
never waits long for the write lock, and a crash between steps loses nothing:
truncation keeps its cursor in `pipeline_cursors`; deletion always starts at
the oldest event. Both walk the log in id order, which is arrival order, and
touch only events every reader has derived from: counters, feed and webhooks
were built from the full event, and they stay (they are aggregates). A reader
that has stopped holds deletion back rather than lose events it never read.
The classifier's memory of a delivery forgets old addresses with their events.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from mailbeacon.store.activity import position_of
from mailbeacon.store.schema import delivery_activity, events, feed, pipeline_cursors

CURSOR = "privacy_ip"
"""The last event id whose IP the truncation has dealt with (a row of pipeline_cursors)."""
JUDGED_BY = "classify"
"""The classifier needs the full address; nothing is truncated before it has judged the event."""
RECENT = 3600.0
"""Seconds an event keeps its full address whatever the setting: the classifier compares a
delivery's next events with its last ones (for at most ten minutes), from its memory."""

_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")

Forget = Callable[[dict[str, Any], float], dict[str, Any]]
"""forget(memory, before): a delivery's classifier memory without the full addresses of events before `before`."""


@dataclass(frozen=True, slots=True)
class PrivacyRun:
    truncated: int = 0
    """Events whose IP was cut to its network."""
    deleted: int = 0
    """Events deleted (with their feed rows) for being older than the retention."""


def truncate_ip(address: str) -> str:
    """The network an address is on, as an address: IPv4 /24, IPv6 /48; anything else becomes "".

    >>> truncate_ip("198.51.100.7"), truncate_ip("2001:db8:1234:5678::1"), truncate_ip("::ffff:192.0.2.9")
    ('198.51.100.0', '2001:db8:1234::', '192.0.2.0')
    >>> truncate_ip("198.51.100.0"), truncate_ip("bob's laptop"), truncate_ip("198.51.100.07"), truncate_ip("1.2.3.256")
    ('198.51.100.0', '', '', '')
    """
    if _IPV4.fullmatch(address):  # the usual case, without ipaddress's cost (it was most of a step's time)
        return address[: address.rindex(".")] + ".0"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""  # not an address (a proxy's odd header): nothing of it is worth keeping
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def truncate_step(
    conn: Connection, cutoff: float, limit: int, now: float, forget: Forget | None = None
) -> tuple[int, bool]:
    """Truncate the IPs of up to `limit` events after the cursor that happened before `cutoff`.

    Their deliveries' classifier memories forget those addresses too (`forget`).
    Returns (events changed, done): done once it reaches an event that is not old
    enough, or one the classifier has not judged yet.
    """
    cutoff = min(cutoff, now - RECENT)
    after = position_of(conn, CURSOR)
    judged = position_of(conn, JUDGED_BY)
    rows = conn.execute(
        select(events.c.id, events.c.occurred_at, events.c.ip, events.c.delivery_key)
        .where(events.c.id > after, events.c.id <= judged)
        .order_by(events.c.id)
        .limit(limit)
    ).all()
    changes = []
    deliveries: set[bytes] = set()
    last = after
    done = len(rows) < limit
    for row in rows:
        if row.occurred_at >= cutoff:
            done = True
            break
        last = row.id
        cut = truncate_ip(row.ip)
        if cut != row.ip:
            changes.append({"b_id": row.id, "b_ip": cut})
            deliveries.add(row.delivery_key)
    if changes:
        conn.execute(update(events).where(events.c.id == bindparam("b_id")).values(ip=bindparam("b_ip")), changes)
    if forget is not None and deliveries:
        _forget_in_memories(conn, sorted(deliveries), cutoff, forget)
    if last != after:
        _move_cursor(conn, last, now)
    return len(changes), done


def delete_step(conn: Connection, cutoff: float, limit: int) -> tuple[int, bool]:
    """Delete the oldest events, up to `limit`, that happened before `cutoff` and that every reader has read.

    Returns (events deleted, done).
    """
    readers = select(func.min(pipeline_cursors.c.position)).where(pipeline_cursors.c.name != CURSOR)
    read_by_all = int(conn.execute(readers).scalar() or 0)
    rows = conn.execute(
        select(events.c.id, events.c.occurred_at).where(events.c.id <= read_by_all).order_by(events.c.id).limit(limit)
    ).all()
    old = 0
    for row in rows:
        if row.occurred_at >= cutoff:
            break
        old += 1
    if old:
        # The oldest rows, contiguous in id order: a range delete needs no list of ids.
        last = rows[old - 1].id
        conn.execute(delete(feed).where(feed.c.event_id <= last))
        conn.execute(delete(events).where(events.c.id <= last))
    return old, old < limit


def _forget_in_memories(conn: Connection, keys: list[bytes], before: float, forget: Forget) -> None:
    """The classifier's memory of a delivery holds its last events' addresses: they age like the events."""
    key, memory = delivery_activity.c.delivery_key, delivery_activity.c.memory
    for start in range(0, len(keys), 500):
        changed = []
        for row in conn.execute(select(key, memory).where(key.in_(keys[start : start + 500]))):
            before_json = json.loads(row.memory)
            after_json = forget(before_json, before)
            if after_json != before_json:
                changed.append({"b_key": row.delivery_key, "b_memory": json.dumps(after_json, separators=(",", ":"))})
        if changed:
            conn.execute(
                update(delivery_activity).where(key == bindparam("b_key")).values(memory=bindparam("b_memory")),
                changed,
            )


def _move_cursor(conn: Connection, position: int, now: float) -> None:
    cursor = pipeline_cursors.c
    moved = conn.execute(update(pipeline_cursors).where(cursor.name == CURSOR).values(position=position, updated_at=now))
    if not moved.rowcount:
        conn.execute(pipeline_cursors.insert().values(name=CURSOR, position=position, updated_at=now))
