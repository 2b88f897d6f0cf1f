"""What the pipeline reads and writes: batches of the events log, and the counters derived from them.

A reader's step reads its cursor, the next events and everything already
derived for their deliveries (`load_batch`, no lock held); a pure `derive`
function works on that; `save_batch` then writes what changed and the new
cursor in one transaction, and only if the cursor is still where the step
began. A crash anywhere loses the step, never half of it, so nothing is lost
or counted twice, several processes can run the same reader, and the write
lock that the tracking hot path also needs is held only for the writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

from sqlalchemy import Connection, Table, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mailbeacon.store.hourly import Judged, count_verdicts
from mailbeacon.store.schema import (
    campaigns,
    delivery_activity,
    deliveries,
    events,
    feed,
    hourly_activity,
    link_activity,
    links,
    message_activity,
    messages,
    pipeline_cursors,
)


@dataclass(frozen=True, slots=True)
class LogEvent:
    id: int
    type: str
    delivery_key: bytes
    link_idx: int | None
    url: str | None
    occurred_at: float
    ip: str
    user_agent: str
    method: str


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """What the sending side knows of a delivery (nothing, for a delivery of another store)."""

    message_id: int | None = None
    user_id: int | None = None
    recipient: str | None = None
    accepted_at: float | None = None
    """When the upstream accepted the copy."""
    sent_at: float | None = None
    """When the copy was queued (or instrumented)."""
    submitted_from: str | None = None
    subject: str | None = None
    """The copy's own subject (a campaign's, rendered); None: the message's."""


@dataclass(slots=True)
class Counters:
    raw_opens: int = 0
    human_opens: int = 0
    machine_opens: int = 0
    raw_clicks: int = 0
    human_clicks: int = 0
    machine_clicks: int = 0


@dataclass(slots=True)
class DeliveryActivity(Counters):
    first_open_at: float | None = None
    last_open_at: float | None = None
    first_human_open_at: float | None = None
    inferred_open_at: float | None = None
    last_human_open_at: float | None = None
    memory: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class MessageActivity(Counters):
    unique_opens: int = 0
    unique_human_opens: int = 0
    unique_clicks: int = 0
    unique_human_clicks: int = 0
    inferred_opens: int = 0


@dataclass(slots=True)
class LinkActivity:
    raw_clicks: int = 0
    human_clicks: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    event_id: int
    cls: str
    reasons: tuple[str, ...]
    client: str | None
    first: bool | None
    revision: bool = False
    """Only class and reasons change (an earlier event judged again); client and first stay."""
    notice: str | None = None
    """What the feed tells a person: first_open, open, click, forward; None never notifies."""
    gap: float | None = None
    """Seconds since the delivery's previous human open (human opens only)."""


@dataclass(slots=True)
class Batch:
    """One step's input; `derive` changes the activity objects in place (and adds new ones)."""

    events: list[LogEvent]
    facts: dict[bytes, DeliveryFacts]
    deliveries: dict[bytes, DeliveryActivity]
    messages: dict[int, MessageActivity]
    links: dict[tuple[int, int], LinkActivity]


Derive = Callable[[Batch], Sequence[Verdict]]
_COUNTERS = [f.name for f in fields(Counters)]


def load_batch(conn: Connection, reader: str, limit: int) -> tuple[int, Batch | None]:
    """The reader's cursor and what it needs for its next step (None when it has caught up)."""
    position = position_of(conn, reader)
    rows = conn.execute(
        select(
            events.c.id, events.c.type, events.c.delivery_key, events.c.link_idx, events.c.url,
            events.c.occurred_at, events.c.ip, events.c.user_agent, events.c.method,
        )
        .where(events.c.id > position)
        .order_by(events.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return position, None
    batch_events = [
        LogEvent(r.id, r.type, bytes(r.delivery_key), r.link_idx, r.url, r.occurred_at, r.ip, r.user_agent, r.method)
        for r in rows
    ]
    keys = sorted({e.delivery_key for e in batch_events})
    batch = Batch(batch_events, _facts(conn, keys), _deliveries(conn, keys), {}, {})
    message_ids = sorted({f.message_id for f in batch.facts.values() if f.message_id is not None})
    batch.messages = _messages(conn, message_ids)
    batch.links = _links(conn, message_ids)
    return position, batch


def save_batch(conn: Connection, reader: str, expected: int, batch: Batch, verdicts: Sequence[Verdict]) -> bool:
    """Write what a step derived and move the cursor, unless another process moved it since `expected`."""
    if position_of(conn, reader) != expected:
        return False
    judged = [v for v in verdicts if not v.revision]
    if judged:
        conn.execute(
            update(events)
            .where(events.c.id == bindparam("event_id"))
            .values(class_=bindparam("cls"), reasons=bindparam("reasons"), client=bindparam("client"),
                    first=bindparam("first")),
            [
                {"event_id": v.event_id, "cls": v.cls, "reasons": json.dumps(list(v.reasons)), "client": v.client,
                 "first": v.first}
                for v in judged
            ],
        )
        _write_feed(conn, batch, judged)
    revised = [v for v in verdicts if v.revision]
    count_verdicts(conn, _judged(batch, judged), [(v.event_id, v.cls) for v in revised])
    if revised:
        conn.execute(
            update(events)
            .where(events.c.id == bindparam("event_id"))
            .values(class_=bindparam("cls"), reasons=bindparam("reasons")),
            [{"event_id": v.event_id, "cls": v.cls, "reasons": json.dumps(list(v.reasons))} for v in revised],
        )
        # Judged a machine after all, the feed stops calling it a person's (and the other way round).
        conn.execute(
            update(feed).where(feed.c.event_id == bindparam("b_event_id")).values(notice=bindparam("b_notice")),
            [{"b_event_id": v.event_id, "b_notice": v.notice} for v in revised],
        )
    _write_deliveries(conn, batch)
    _write_rows(conn, message_activity, ["message_id"], {(k,): v for k, v in batch.messages.items()})
    _write_rows(conn, link_activity, ["message_id", "link_idx"], dict(batch.links.items()))
    position = batch.events[-1].id
    moved = conn.execute(
        update(pipeline_cursors).where(pipeline_cursors.c.name == reader).values(position=position, updated_at=time.time())
    )
    if not moved.rowcount:
        conn.execute(pipeline_cursors.insert().values(name=reader, position=position, updated_at=time.time()))
    return True


def reset(conn: Connection, reader: str) -> None:
    """Forget everything derived, so the reader derives it again from the first event."""
    for table in (delivery_activity, message_activity, link_activity, hourly_activity, feed):
        conn.execute(delete(table))
    conn.execute(update(events).values(class_=None, reasons=None, client=None, first=None))
    conn.execute(delete(pipeline_cursors).where(pipeline_cursors.c.name == reader))


def position_of(conn: Connection, reader: str) -> int:
    found = conn.execute(select(pipeline_cursors.c.position).where(pipeline_cursors.c.name == reader)).scalar()
    return int(found or 0)


def log_end(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())


def _facts(conn: Connection, keys: list[bytes]) -> dict[bytes, DeliveryFacts]:
    rows = conn.execute(
        select(
            deliveries.c.delivery_key, deliveries.c.message_id, messages.c.user_id, deliveries.c.recipient,
            deliveries.c.accepted_at, deliveries.c.created_at, messages.c.submitted_from, deliveries.c.subject,
        )
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(deliveries.c.delivery_key.in_(keys))
    ).all()
    found = {
        bytes(r.delivery_key): DeliveryFacts(
            r.message_id, r.user_id, r.recipient, r.accepted_at, r.created_at, r.submitted_from, r.subject
        )
        for r in rows
    }
    return {key: found.get(key, DeliveryFacts()) for key in keys}


def _deliveries(conn: Connection, keys: list[bytes], memory: bool = True) -> dict[bytes, DeliveryActivity]:
    """The deliveries' activity; without `memory` (reports), the classifier's memory is neither read nor parsed:
    it is most of a row, and parsing it took 0.2 ms a delivery (half a second for a 2,000-recipient message)."""
    columns = [c for c in delivery_activity.c if memory or c.name != "memory"]
    rows = conn.execute(select(*columns).where(delivery_activity.c.delivery_key.in_(keys))).all()
    found = {}
    for r in rows:
        values = {name: getattr(r, name) for name in _COUNTERS}
        found[bytes(r.delivery_key)] = DeliveryActivity(
            **values,
            first_open_at=r.first_open_at,
            last_open_at=r.last_open_at,
            first_human_open_at=r.first_human_open_at,
            inferred_open_at=r.inferred_open_at,
            last_human_open_at=r.last_human_open_at,
            memory=json.loads(r.memory) if memory else {},
        )
    return found


def _messages(conn: Connection, ids: list[int]) -> dict[int, MessageActivity]:
    rows = conn.execute(select(message_activity).where(message_activity.c.message_id.in_(ids))).all()
    names = [f.name for f in fields(MessageActivity)]
    return {r.message_id: MessageActivity(**{n: getattr(r, n) for n in names}) for r in rows}


def _links(conn: Connection, ids: list[int]) -> dict[tuple[int, int], LinkActivity]:
    rows = conn.execute(select(link_activity).where(link_activity.c.message_id.in_(ids))).all()
    found = {(r.message_id, r.link_idx): LinkActivity(r.raw_clicks, r.human_clicks) for r in rows}
    # Links the message has but nobody clicked yet exist too, so a report can list them at zero.
    for r in conn.execute(select(links.c.message_id, links.c.idx).where(links.c.message_id.in_(ids))):
        found.setdefault((r.message_id, r.idx), LinkActivity())
    return found


def _write_deliveries(conn: Connection, batch: Batch) -> None:
    rows = []
    for key, activity in batch.deliveries.items():
        row = {name: getattr(activity, name) for name in _COUNTERS}
        row.update(
            delivery_key=key,
            message_id=batch.facts.get(key, DeliveryFacts()).message_id,
            first_open_at=activity.first_open_at,
            last_open_at=activity.last_open_at,
            first_human_open_at=activity.first_human_open_at,
            inferred_open_at=activity.inferred_open_at,
            last_human_open_at=activity.last_human_open_at,
            memory=json.dumps(activity.memory, separators=(",", ":")),
        )
        rows.append(row)
    _upsert(conn, delivery_activity, ["delivery_key"], rows)


def _write_feed(conn: Connection, batch: Batch, judged: Sequence[Verdict]) -> None:
    keys = {e.id: e.delivery_key for e in batch.events}
    rows: list[dict[str, object]] = []
    for v in judged:
        facts = batch.facts.get(keys.get(v.event_id, b""), DeliveryFacts())
        rows.append({
            "event_id": v.event_id, "user_id": facts.user_id, "message_id": facts.message_id,
            "recipient": facts.recipient, "notice": v.notice, "gap": v.gap, "subject": facts.subject,
        })
    _upsert(conn, feed, ["event_id"], rows)


def _judged(batch: Batch, judged: Sequence[Verdict]) -> list[Judged]:
    """The step's judged events as the hourly counters count them."""
    stepped = {e.id: e for e in batch.events}
    found = []
    for v in judged:
        e = stepped.get(v.event_id)
        if e is not None:
            found.append(Judged(batch.facts.get(e.delivery_key, DeliveryFacts()).message_id, e.occurred_at, e.type,
                                v.cls, v.client))
    return found


def _write_rows(conn: Connection, table: Table, keys: list[str], values: dict[tuple[int, ...], object]) -> None:
    rows = []
    for key, value in values.items():
        row = {f.name: getattr(value, f.name) for f in fields(value)}  # type: ignore[arg-type]
        row.update(zip(keys, key))
        rows.append(row)
    _upsert(conn, table, keys, rows)


def _upsert(conn: Connection, table: Table, keys: list[str], rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    columns = [c for c in rows[0] if c not in keys]
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=keys, set_={c: getattr(statement.excluded, c) for c in columns}
        ),
        rows,
    )


@dataclass(frozen=True, slots=True)
class RecipientReport:
    delivery_key: bytes
    recipient: str
    status: str | None
    opens_tracked: bool | None
    clicks_tracked: bool | None
    untracked_reason: str | None
    shared: bool
    activity: DeliveryActivity
    subject: str | None = None
    """The copy's own subject (a campaign's, rendered for this recipient); None: the message's."""


@dataclass(frozen=True, slots=True)
class LinkReport:
    idx: int
    url: str
    activity: LinkActivity


@dataclass(frozen=True, slots=True)
class MessageReport:
    id: int
    user_id: int | None
    subject: str | None
    sender: str | None
    created_at: float
    activity: MessageActivity
    recipients: list[RecipientReport]
    links: list[LinkReport]
    recipients_total: int | None = None
    """How many recipients the message has, when `recipients` is a window of them."""
    campaign_id: int | None = None
    campaign_name: str | None = None
    """The campaign the message is: `subject` is then its template, each recipient's own subject on them."""


def select_report(
    conn: Connection, message_id: int, recipients_offset: int = 0, recipients_limit: int | None = None
) -> MessageReport | None:
    """The message with its recipients in delivery order: all, or `recipients_limit` of them from the offset."""
    message = conn.execute(select(messages).where(messages.c.id == message_id)).one_or_none()
    if message is None:
        return None
    counters = _messages(conn, [message_id]).get(message_id, MessageActivity())
    query = select(deliveries).where(deliveries.c.message_id == message_id).order_by(deliveries.c.id)
    total = None
    if recipients_limit is not None:
        query = query.offset(recipients_offset).limit(recipients_limit)
        total = conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.message_id == message_id)
        ).scalar_one()
    rows = conn.execute(query).all()
    keys = [bytes(r.delivery_key) for r in rows]
    activity = _deliveries(conn, keys, memory=False)
    recipients = [
        RecipientReport(
            bytes(r.delivery_key), r.recipient, r.status, r.opens_tracked, r.clicks_tracked, r.untracked_reason,
            bool(r.shared), activity.get(bytes(r.delivery_key), DeliveryActivity()), r.subject,
        )
        for r in rows
    ]
    clicks = _links(conn, [message_id])
    link_rows = conn.execute(select(links).where(links.c.message_id == message_id).order_by(links.c.idx)).all()
    campaign = conn.execute(select(campaigns.c.id, campaigns.c.name).where(campaigns.c.message_id == message_id)).first()
    return MessageReport(
        message.id, message.user_id, message.subject, message.sender, message.created_at, counters, recipients,
        [LinkReport(r.idx, r.url, clicks.get((message_id, r.idx), LinkActivity())) for r in link_rows],
        total, campaign.id if campaign else None, campaign.name if campaign else None,
    )
