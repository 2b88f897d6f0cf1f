"""Campaign reports: how far a send got, and what its readers (people and machines) did.

A campaign is one message, so its numbers are the pipeline's counters of that message
(`message_activity`, `link_activity`, and `hourly_activity` for the timeline and the clients:
a few hundred rows however many events); delivery states are counted through
`ix_deliveries_message_status`, unsubscribes through `ix_contacts_unsubscribe_campaign_id`.
The per-recipient export walks `campaign_sends` in contact order, a chunk at a time, so a
list of any size streams in constant memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select

from mailbeacon.events import HONEYPOT_LINK
from mailbeacon.store.activity import LinkActivity, LinkReport, MessageActivity
from mailbeacon.store.hourly import HOUR, select_hours
from mailbeacon.store.reports import clients_of
from mailbeacon.store.schema import (
    campaign_sends,
    campaigns,
    contact_lists,
    contacts,
    deliveries,
    delivery_activity,
    link_activity,
    links,
    message_activity,
)
from mailbeacon.store.timeline import ActivityTime

LISTED = 20
"""Recent unsubscribes and bounces a report names (the counts are complete)."""
EXPORT_CHUNK = 1000
"""Contacts per read of the per-recipient export: one short read transaction each."""


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign's headline: what the list shows, and the top of its report."""

    id: int
    name: str
    user_id: int
    list_id: int
    list_name: str | None
    message_id: int
    subject: str
    from_address: str
    status: str
    rate: float | None
    total: int
    """List members when the send started."""
    queued: int
    """Copies made (written to the outbound queue)."""
    skipped: int
    """Members who got no copy (unsubscribed before, or their copy could not be rendered)."""
    sent: int
    bounced: int
    pending: int
    """Copies not sent or bounced yet."""
    created_at: float
    started_at: float | None
    queued_at: float | None
    finished_at: float | None
    activity: MessageActivity
    unsubscribes: int
    """Contacts who unsubscribed through this campaign's mail."""
    withdrawn: int = 0
    """Copies a cancel took out of the queue before they were sent: never delivered."""
    paused_at: float | None = None
    """Set while the campaign is paused."""


@dataclass(frozen=True, slots=True)
class ClientCount:
    """Events from one client (as the pipeline named it) of one class."""

    client: str | None
    cls: str
    events: int


@dataclass(frozen=True, slots=True)
class Untracked:
    reason: str | None
    """The delivery's untracked_reason; None: nothing said why (opens or clicks were still off)."""
    opens: bool
    """Opens were not tracked (else only clicks were not)."""
    copies: int


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    email: str
    source: str | None
    """link (the confirmation page) or one-click (RFC 8058)."""
    at: float


@dataclass(frozen=True, slots=True)
class Bounce:
    recipient: str
    reply: str | None
    """What the upstream answered."""


@dataclass(frozen=True, slots=True)
class CampaignReport:
    summary: CampaignSummary
    times: list[ActivityTime]
    """Opens and clicks per (bucket, type, class), `count` each, bucket starts in unix seconds."""
    bucket: int
    """Seconds per bucket of `times`."""
    links: list[LinkReport]
    """Every link but the honeypot, most human clicks first."""
    clients: list[ClientCount]
    untracked: list[Untracked]
    unsubscribed: list[Unsubscribe]
    """The newest LISTED."""
    bounces: list[Bounce]
    """The first LISTED."""


@dataclass(frozen=True, slots=True)
class RecipientRow:
    """One list member in the per-recipient export: their copy (if any) and what it saw."""

    contact_id: int
    email: str
    status: str
    """queued, sent, bounced, withdrawn (cancelled before it was sent), or skipped (no copy)."""
    skipped: str | None
    """Why no copy was made."""
    reply: str | None
    """The upstream's answer to a bounced copy."""
    raw_opens: int = 0
    human_opens: int = 0
    raw_clicks: int = 0
    human_clicks: int = 0
    first_open_at: float | None = None
    last_open_at: float | None = None
    first_human_open_at: float | None = None
    last_human_open_at: float | None = None
    unsubscribed_at: float | None = None
    unsubscribed_here: bool = False
    """Unsubscribed through this campaign's mail."""
    clients: list[str] = field(default_factory=list)
    """Clients of the copy's events, most events first."""
    fields: dict[str, str] = field(default_factory=dict)
    """The contact's fields (first_name, ...), as imported."""
    subject: str | None = None
    """The subject of their copy, as rendered for them (None: no copy, or queued before it was recorded)."""


_ACTIVITY = [f.name for f in fields(MessageActivity)]


# --- the list and the headline ----------------------------------------------------------------------------


def _summary_query() -> Select[tuple[Any, ...]]:
    return select(
        campaigns.c.id, campaigns.c.name, campaigns.c.user_id, campaigns.c.list_id,
        contact_lists.c.name.label("list_name"), campaigns.c.message_id, campaigns.c.subject,
        campaigns.c.from_address, campaigns.c.status, campaigns.c.rate, campaigns.c.total, campaigns.c.queued,
        campaigns.c.skipped, campaigns.c.created_at, campaigns.c.started_at, campaigns.c.queued_at,
        campaigns.c.finished_at, campaigns.c.paused_at, *(func.coalesce(message_activity.c[name], 0).label(name) for name in _ACTIVITY),
    ).select_from(
        campaigns.outerjoin(contact_lists, contact_lists.c.id == campaigns.c.list_id).outerjoin(
            message_activity, message_activity.c.message_id == campaigns.c.message_id
        )
    )


def select_summaries(
    conn: Connection, user_id: int | None, before: int | None, limit: int
) -> tuple[list[CampaignSummary], bool]:
    """Newest first, campaigns with id < `before`; only `user_id`'s (None: everyone's); True if more follow."""
    query = _summary_query()
    if user_id is not None:
        query = query.where(campaigns.c.user_id == user_id)
    if before is not None:
        query = query.where(campaigns.c.id < before)
    rows = conn.execute(query.order_by(campaigns.c.id.desc()).limit(limit + 1)).all()
    return [_summary(conn, row) for row in rows[:limit]], len(rows) > limit


def select_summary(conn: Connection, campaign_id: int) -> CampaignSummary | None:
    row = conn.execute(_summary_query().where(campaigns.c.id == campaign_id)).first()
    return _summary(conn, row) if row is not None else None


def campaign_visible(conn: Connection, campaign_id: int, user_id: int | None) -> bool:
    """The campaign exists and is `user_id`'s (None: anyone's, for an admin)."""
    query = select(campaigns.c.id).where(campaigns.c.id == campaign_id)
    if user_id is not None:
        query = query.where(campaigns.c.user_id == user_id)
    return conn.execute(query).first() is not None


def _summary(conn: Connection, row: Any) -> CampaignSummary:
    # Only the small states are counted (index ranges of ix_deliveries_message_status): every copy
    # made is queued, sent, bounced or withdrawn, so the sent are the rest.
    counts: dict[str, int] = {
        status: n
        for status, n in conn.execute(
            select(deliveries.c.status, func.count())
            .where(deliveries.c.message_id == row.message_id, deliveries.c.status.in_(("queued", "bounced", "withdrawn")))
            .group_by(deliveries.c.status)
        )
    }
    pending, bounced, withdrawn = (int(counts.get(status, 0)) for status in ("queued", "bounced", "withdrawn"))
    unsubscribes = conn.execute(
        select(func.count()).select_from(contacts).where(contacts.c.unsubscribe_campaign_id == row.id)
    ).scalar_one()
    return CampaignSummary(
        id=row.id, name=row.name, user_id=row.user_id, list_id=row.list_id, list_name=row.list_name,
        message_id=row.message_id, subject=row.subject, from_address=row.from_address, status=row.status,
        rate=row.rate, total=row.total, queued=row.queued, skipped=row.skipped,
        sent=max(0, row.queued - pending - bounced - withdrawn), bounced=bounced, pending=pending, created_at=row.created_at,
        started_at=row.started_at, queued_at=row.queued_at, finished_at=row.finished_at,
        activity=MessageActivity(**{name: getattr(row, name) for name in _ACTIVITY}), unsubscribes=int(unsubscribes),
        withdrawn=withdrawn, paused_at=row.paused_at,
    )


# --- the report -------------------------------------------------------------------------------------------


def select_campaign_report(conn: Connection, campaign_id: int, bucket: int = HOUR) -> CampaignReport | None:
    """The whole report of one campaign; `bucket`: seconds per timeline bucket (a multiple of an hour)."""
    summary = select_summary(conn, campaign_id)
    if summary is None:
        return None
    message_id = summary.message_id
    times, clients = _activity(conn, message_id, bucket)
    return CampaignReport(
        summary=summary,
        times=times,
        bucket=bucket,
        links=_links(conn, message_id),
        clients=clients,
        untracked=_untracked(conn, message_id),
        unsubscribed=[
            Unsubscribe(r.email, r.unsubscribe_source, r.unsubscribed_at)
            for r in conn.execute(
                select(contacts.c.email, contacts.c.unsubscribe_source, contacts.c.unsubscribed_at)
                .where(contacts.c.unsubscribe_campaign_id == campaign_id)
                .order_by(contacts.c.unsubscribed_at.desc(), contacts.c.id.desc())
                .limit(LISTED)
            )
        ],
        bounces=[
            Bounce(r.recipient, r.upstream_reply)
            for r in conn.execute(
                select(deliveries.c.recipient, deliveries.c.upstream_reply)
                .where(deliveries.c.message_id == message_id, deliveries.c.status == "bounced")
                .order_by(deliveries.c.id)
                .limit(LISTED)
            )
        ],
    )


def _activity(conn: Connection, message_id: int, bucket: int) -> tuple[list[ActivityTime], list[ClientCount]]:
    """The timeline in `bucket`s and the clients, both summed from the message's hourly counters."""
    times: dict[tuple[float, str, str], int] = {}
    clients: dict[tuple[str | None, str], int] = {}
    for row in select_hours(conn, message_id):
        at = float(row.hour * HOUR // bucket * bucket)
        times[(at, row.type, row.cls)] = times.get((at, row.type, row.cls), 0) + row.events
        clients[(row.client, row.cls)] = clients.get((row.client, row.cls), 0) + row.events
    return (
        [ActivityTime(at, kind, cls, n) for (at, kind, cls), n in sorted(times.items())],
        sorted((ClientCount(client, cls, n) for (client, cls), n in clients.items()),
               key=lambda c: (-c.events, c.client or "", c.cls)),
    )


def _links(conn: Connection, message_id: int) -> list[LinkReport]:
    rows = conn.execute(
        select(links.c.idx, links.c.url, link_activity.c.raw_clicks, link_activity.c.human_clicks)
        .select_from(
            links.outerjoin(
                link_activity, and_(link_activity.c.message_id == links.c.message_id, link_activity.c.link_idx == links.c.idx)
            )
        )
        .where(links.c.message_id == message_id, links.c.idx != HONEYPOT_LINK)
    ).all()
    found = [LinkReport(r.idx, r.url, LinkActivity(r.raw_clicks or 0, r.human_clicks or 0)) for r in rows]
    return sorted(found, key=lambda link: (-link.activity.human_clicks, -link.activity.raw_clicks, link.idx))


def _untracked(conn: Connection, message_id: int) -> list[Untracked]:
    """Copies that track no opens, or no clicks, by reason (an index range: a campaign tracks nearly every copy)."""
    rows = conn.execute(
        select(deliveries.c.untracked_reason, deliveries.c.opens_tracked, func.count().label("n"))
        .where(
            deliveries.c.message_id == message_id,
            (deliveries.c.opens_tracked.is_not(True)) | (deliveries.c.clicks_tracked.is_not(True)),
        )
        .group_by(deliveries.c.untracked_reason, deliveries.c.opens_tracked)
    ).all()
    return sorted(
        (Untracked(r.untracked_reason, not r.opens_tracked, r.n) for r in rows), key=lambda u: (-u.copies, u.reason or "")
    )


# --- the per-recipient export -----------------------------------------------------------------------------


def select_recipients(conn: Connection, campaign_id: int, after_contact: int, limit: int) -> list[RecipientRow]:
    """Up to `limit` members the campaign reached (copied or skipped) after `after_contact`, in contact order."""
    owner = select(campaigns.c.user_id, campaigns.c.message_id).where(campaigns.c.id == campaign_id)
    found = conn.execute(owner).first()
    if found is None:
        return []
    rows = conn.execute(
        select(
            campaign_sends.c.contact_id, campaign_sends.c.skipped, contacts.c.email, contacts.c.fields,
            contacts.c.unsubscribed_at,
            contacts.c.unsubscribe_campaign_id, deliveries.c.delivery_key, deliveries.c.recipient,
            deliveries.c.status, deliveries.c.upstream_reply, deliveries.c.subject,
            *(delivery_activity.c[name] for name in _RECIPIENT_ACTIVITY),
        )
        .select_from(
            campaign_sends.join(contacts, contacts.c.id == campaign_sends.c.contact_id)
            .outerjoin(deliveries, deliveries.c.id == campaign_sends.c.delivery_id)
            .outerjoin(delivery_activity, delivery_activity.c.delivery_key == deliveries.c.delivery_key)
        )
        .where(campaign_sends.c.campaign_id == campaign_id, campaign_sends.c.contact_id > after_contact)
        .order_by(campaign_sends.c.contact_id)
        .limit(limit)
    ).all()
    clients = clients_of(conn, found.user_id, found.message_id, [r.recipient for r in rows if r.recipient is not None])
    result = []
    for r in rows:
        counters = {name: getattr(r, name) for name in _RECIPIENT_ACTIVITY}
        for name in ("raw_opens", "human_opens", "raw_clicks", "human_clicks"):
            counters[name] = counters[name] or 0
        result.append(RecipientRow(
            contact_id=r.contact_id, email=r.recipient or r.email,
            status=r.status or ("skipped" if r.skipped is not None else "queued"), skipped=r.skipped,
            reply=r.upstream_reply if r.status == "bounced" else None, **counters,
            unsubscribed_at=r.unsubscribed_at, unsubscribed_here=r.unsubscribe_campaign_id == campaign_id,
            clients=[seen.client for seen in clients.get(bytes(r.delivery_key), [])] if r.delivery_key else [],
            fields=_fields(r.fields), subject=r.subject,
        ))
    return result


def select_field_names(conn: Connection, campaign_id: int, limit: int) -> list[str]:
    """The names of the fields the campaign's contacts have (the first `limit`, sorted): the export's last columns."""
    names: set[str] = set()
    rows = conn.execution_options(yield_per=EXPORT_CHUNK).execute(
        select(contacts.c.fields)
        .select_from(campaign_sends.join(contacts, contacts.c.id == campaign_sends.c.contact_id))
        .where(campaign_sends.c.campaign_id == campaign_id, contacts.c.fields != "{}")
    )
    for (text,) in rows:
        names.update(_fields(text))
    return sorted(names)[:limit]


def _fields(text: str) -> dict[str, str]:
    loaded = json.loads(text)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


_RECIPIENT_ACTIVITY = [
    "raw_opens", "human_opens", "raw_clicks", "human_clicks", "first_open_at", "last_open_at", "first_human_open_at",
    "last_human_open_at",
]
