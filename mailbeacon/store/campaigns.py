"""Campaigns: the template stored once, a cursor over the list, and one row per contact reached.

A send walks the list in contact id order, a batch at a time. Each batch is
written in ONE transaction: its deliveries, their campaign_sends rows, their
outbound rows, the links first seen in it, and the moved cursor. The cursor
moves only if it is still where the sender read it (compare and set), so a
second sender of the same campaign stops instead of queueing twice; and the
primary key (campaign_id, contact_id) of campaign_sends refuses a second copy
to a contact whatever happens. A crash before the commit leaves the batch to
be done again; after it, the cursor says it was done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from typing import Any

from sqlalchemy import Connection, Row, exists, func, insert, select, update

from mailbeacon.store.campaign_control import HELD
from mailbeacon.store.messages import check_delivery_keys, insert_message_row
from mailbeacon.store.schema import campaign_sends, campaigns, contacts, deliveries, links, list_members, outbound


@dataclass(frozen=True, slots=True)
class NewCampaign:
    name: str
    user_id: int
    list_id: int
    subject: str
    from_address: str
    html: str
    text: str | None
    base_url: str
    rate: float | None
    """Copies a second; None: as fast as the outbound worker goes."""


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    name: str
    user_id: int
    list_id: int
    message_id: int
    subject: str
    from_address: str
    html: str
    text: str | None
    base_url: str
    rate: float | None
    status: str
    cursor: int
    total: int
    queued: int
    skipped: int
    created_at: float
    started_at: float | None
    queued_at: float | None
    finished_at: float | None
    paused_at: float | None = None
    """Set while the campaign is paused (store/campaign_control.py)."""


@dataclass(frozen=True, slots=True)
class CampaignCopy:
    """One contact's rendered, instrumented copy, ready for the outbound queue."""

    contact_id: int
    delivery_key: bytes
    recipient: str
    body: bytes
    opens_tracked: bool
    clicks_tracked: bool
    untracked_reason: str | None
    next_attempt_at: float
    """When the outbound worker may hand it on: the campaign's rate spreads its copies."""
    subject: str | None = None
    """The subject as rendered for this contact (the feed, notifications and webhooks show it)."""


@dataclass(frozen=True, slots=True)
class CampaignBatch:
    campaign_id: int
    after: int
    """The cursor this batch was read after; the write happens only if it is still there."""
    cursor: int
    """The last contact id of the batch, queued or skipped."""
    mail_from: str
    copies: Sequence[CampaignCopy]
    skips: Sequence[tuple[int, str]]
    """(contact id, why) of members who get no copy."""
    links: Sequence[tuple[int, str]]
    """(index, URL) of links first used by this batch's copies."""


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    campaign: CampaignRow
    queued: int
    """Copies written to the outbound queue so far (the campaign's counter)."""
    sent: int
    bounced: int
    pending: int
    """Queued copies not sent or bounced yet."""
    retrying: int
    """Pending copies the upstream refused for now: they are tried again later."""
    withdrawn: int = 0
    """Copies a cancel took out of the queue before they were sent: never delivered."""
    oldest_due: float | None = None
    """When the earliest pending copy that is not retrying (nor held) was due to leave: long ago, with
    nothing delivered meanwhile, means no server delivers."""
    next_retry_at: float | None = None
    """When the first retrying copy is tried again."""
    retry_reply: str | None = None
    """The upstream's last answer to that copy (451 4.3.0 ...)."""


def insert_campaign(conn: Connection, new: NewCampaign, now: float) -> CampaignRow:
    """The campaign and its one messages row, started now with the list's size as its total."""
    message_id = insert_message_row(
        conn, user_id=new.user_id, sender=new.from_address, subject=new.subject, message_id_header=None,
        source="campaign", now=now,
    )
    total = conn.execute(select(func.count()).where(list_members.c.list_id == new.list_id)).scalar_one()
    campaign_id = conn.execute(
        insert(campaigns)
        .values(
            name=new.name, user_id=new.user_id, list_id=new.list_id, message_id=message_id, subject=new.subject,
            from_address=new.from_address, html=new.html, text=new.text, base_url=new.base_url, rate=new.rate,
            status="sending", cursor=0, total=total, queued=0, skipped=0, created_at=now, started_at=now,
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    found = select_campaign(conn, campaign_id=campaign_id)
    assert found is not None
    return found


def select_campaign(conn: Connection, *, name: str | None = None, campaign_id: int | None = None) -> CampaignRow | None:
    query = select(campaigns)
    query = query.where(campaigns.c.name == name) if name is not None else query.where(campaigns.c.id == campaign_id)
    row = conn.execute(query).first()
    return _campaign(row) if row is not None else None


def select_campaigns(conn: Connection) -> list[CampaignRow]:
    """Every campaign, newest first."""
    return [_campaign(row) for row in conn.execute(select(campaigns).order_by(campaigns.c.id.desc()))]


def select_links(conn: Connection, message_id: int) -> dict[str, int]:
    """URL -> link index of a message: the indexes a campaign's copies have used so far."""
    rows = conn.execute(select(links.c.url, links.c.idx).where(links.c.message_id == message_id))
    return {row.url: row.idx for row in rows}


def update_rate(conn: Connection, campaign_id: int, rate: float | None) -> None:
    conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(rate=rate))


def save_campaign_batch(conn: Connection, batch: CampaignBatch, now: float) -> bool:
    """Write one batch and move the cursor; False (nothing written) if the cursor is not at `batch.after`
    any more or the campaign stopped sending (done, cancelled or paused)."""
    moved = conn.execute(
        update(campaigns)
        .where(campaigns.c.id == batch.campaign_id, campaigns.c.cursor == batch.after, campaigns.c.status == "sending",
               campaigns.c.paused_at.is_(None))
        .values(
            cursor=batch.cursor,
            queued=campaigns.c.queued + len(batch.copies),
            skipped=campaigns.c.skipped + len(batch.skips),
        )
    ).rowcount
    if moved != 1:
        return False
    message_id = conn.execute(
        select(campaigns.c.message_id).where(campaigns.c.id == batch.campaign_id)
    ).scalar_one()
    if batch.links:
        conn.execute(insert(links), [{"message_id": message_id, "idx": idx, "url": url} for idx, url in batch.links])
    if batch.copies:
        check_delivery_keys(copy.delivery_key for copy in batch.copies)
        delivery_ids = conn.execute(
            insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True),
            [
                {
                    "delivery_key": c.delivery_key, "message_id": message_id, "recipient": c.recipient,
                    "created_at": now, "opens_tracked": c.opens_tracked, "clicks_tracked": c.clicks_tracked,
                    "untracked_reason": c.untracked_reason, "shared": False, "status": "queued", "subject": c.subject,
                }
                for c in batch.copies
            ],
        ).scalars().all()
        conn.execute(
            insert(campaign_sends),
            [
                {"campaign_id": batch.campaign_id, "contact_id": c.contact_id, "delivery_id": d, "skipped": None}
                for c, d in zip(batch.copies, delivery_ids, strict=True)
            ],
        )
        conn.execute(
            insert(outbound),
            [
                {
                    "delivery_id": d, "mail_from": batch.mail_from, "rcpt_to": json.dumps([c.recipient]),
                    "body": c.body, "attempts": 0, "next_attempt_at": c.next_attempt_at, "created_at": now,
                }
                for c, d in zip(batch.copies, delivery_ids, strict=True)
            ],
        )
    if batch.skips:
        conn.execute(
            insert(campaign_sends),
            [
                {"campaign_id": batch.campaign_id, "contact_id": contact_id, "delivery_id": None, "skipped": why}
                for contact_id, why in batch.skips
            ],
        )
    return True


def mark_queued(conn: Connection, campaign_id: int, cursor: int, now: float) -> bool:
    """Every member is queued or skipped: the send is over (if the cursor is still `cursor`)."""
    return bool(
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.cursor == cursor, campaigns.c.status == "sending")
            .values(status="queued", queued_at=now)
        ).rowcount
    )


def select_skips(conn: Connection, campaign_id: int, limit: int) -> list[tuple[str, str]]:
    """(address, why) of skipped members other than the unsubscribed, in contact order."""
    query = (
        select(contacts.c.email, campaign_sends.c.skipped)
        .join(contacts, contacts.c.id == campaign_sends.c.contact_id)
        .where(campaign_sends.c.campaign_id == campaign_id, campaign_sends.c.skipped != "unsubscribed")
        .order_by(campaign_sends.c.contact_id)
        .limit(limit)
    )
    return [(row.email, row.skipped) for row in conn.execute(query)]


def select_progress(conn: Connection, campaign_id: int) -> CampaignProgress | None:
    """The campaign with its copies counted by delivery status, and its pending ones by why they wait."""
    campaign = select_campaign(conn, campaign_id=campaign_id)
    if campaign is None:
        return None
    by_status = (
        select(deliveries.c.status, func.count().label("copies"))
        .where(deliveries.c.message_id == campaign.message_id)
        .group_by(deliveries.c.status)
    )
    counts = {row.status: int(row.copies) for row in conn.execute(by_status)}
    found = CampaignProgress(
        campaign=campaign, queued=campaign.queued, sent=int(counts.get("sent", 0)),
        bounced=int(counts.get("bounced", 0)), pending=int(counts.get("queued", 0)), retrying=0,
        withdrawn=int(counts.get("withdrawn", 0)),
    )
    if not found.pending:
        return found
    retried = outbound.c.attempts > 0
    waiting = conn.execute(
        select(
            func.count().filter(retried).label("retrying"),
            func.min(outbound.c.next_attempt_at).filter(~retried, outbound.c.next_attempt_at < HELD).label("oldest"),
            func.min(outbound.c.next_attempt_at).filter(retried, outbound.c.next_attempt_at < HELD).label("next_retry_at"),
        )
        .select_from(outbound.join(deliveries, deliveries.c.id == outbound.c.delivery_id))
        .where(deliveries.c.message_id == campaign.message_id, deliveries.c.status == "queued")
    ).one()
    reply = None
    if waiting.retrying:
        reply = conn.execute(
            select(outbound.c.last_error)
            .select_from(outbound.join(deliveries, deliveries.c.id == outbound.c.delivery_id))
            .where(deliveries.c.message_id == campaign.message_id, deliveries.c.status == "queued", retried)
            .order_by(outbound.c.next_attempt_at)
            .limit(1)
        ).scalar_one_or_none()
    return replace(
        found, retrying=int(waiting.retrying), retry_reply=reply,
        oldest_due=None if waiting.oldest is None else float(waiting.oldest),
        next_retry_at=None if waiting.next_retry_at is None else float(waiting.next_retry_at),
    )


def mark_done(conn: Connection, campaign_id: int, now: float) -> bool:
    """A queued campaign none of whose copies waits any more is done."""
    waiting = exists().where(
        deliveries.c.message_id == campaigns.c.message_id, deliveries.c.status == "queued"
    )
    return bool(
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status == "queued", ~waiting)
            .values(status="done", finished_at=now)
        ).rowcount
    )


def _campaign(row: Row[Any]) -> CampaignRow:
    return CampaignRow(**row._asdict())
