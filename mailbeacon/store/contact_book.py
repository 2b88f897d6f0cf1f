"""A contact's record beside their activity: directory fields, lists, bounces; editing and erasing.

Contacts are one thing (issue #14, item 5): the campaign directory (`contacts`) and the people a
user wrote to (`deliveries`) meet on the lower-cased address. An erase removes a person from
every table that holds them, in one transaction, and counts what it removed per kind.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Delete, delete, func, insert, select, update

from mailbeacon.store.contacts import ContactRow, _dump, select_contact_by_email, select_list_names_of
from mailbeacon.store.schema import (
    campaign_sends,
    contacts,
    deliveries,
    delivery_activity,
    do_not_track,
    events,
    feed,
    list_members,
    messages,
    outbound,
    webhook_attempts,
    webhook_outbox,
)


@dataclass(frozen=True, slots=True)
class Bounces:
    count: int
    """Copies to this address the upstream refused for good."""
    last_at: float | None
    last_reply: str | None
    """The upstream's words for the newest one."""


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """What a contact's page shows besides the counts: None and [] for someone only written to."""

    record: ContactRow | None
    lists: list[str]
    bounces: Bounces


ERASED_KINDS = ("events", "feed_items", "webhook_messages", "queued_copies", "campaign_copies", "deliveries",
                "list_memberships", "contact_records")
"""What an erase removes, in the order its counts are told."""


def select_record(conn: Connection, user_id: int | None, address: str) -> ContactRecord:
    row = select_contact_by_email(conn, address)
    lists = select_list_names_of(conn, row.id) if row is not None else []
    bounced = (
        select(deliveries.c.accepted_at, deliveries.c.created_at, deliveries.c.upstream_reply)
        .select_from(deliveries.join(messages, messages.c.id == deliveries.c.message_id))
        .where(func.lower(deliveries.c.recipient) == func.lower(address), deliveries.c.status == "bounced")
        .order_by(deliveries.c.id.desc())
    )
    if user_id is not None:
        bounced = bounced.where(messages.c.user_id == user_id)
    rows = conn.execute(bounced).all()
    newest = rows[0] if rows else None
    return ContactRecord(row, lists, Bounces(
        len(rows), newest.created_at if newest else None, newest.upstream_reply if newest else None,
    ))


def change_fields(conn: Connection, address: str, changes: Mapping[str, str | None]) -> ContactRow:
    """Set fields (None removes one) of the directory's contact, creating the record if needed."""
    email = address.lower()
    now = time.time()
    row = select_contact_by_email(conn, email)
    if row is None:
        conn.execute(insert(contacts).values(email=email, fields="{}", created_at=now, updated_at=now))
        old: dict[str, str] = {}
    else:
        old = dict(row.fields)
    merged = {**old, **{k: v for k, v in changes.items() if v is not None}}
    for name in (k for k, v in changes.items() if v is None):
        merged.pop(name, None)
    conn.execute(update(contacts).where(contacts.c.email == email).values(fields=_dump(merged), updated_at=now))
    found = select_contact_by_email(conn, email)
    assert found is not None
    return found


def erase_person(conn: Connection, address: str) -> dict[str, int]:
    """Remove everything about an address, in everyone's mail; counts per kind (ERASED_KINDS).

    Kept on purpose: the messages (their other recipients' too) and the aggregate counters,
    and do-not-track entries, so the person stays untracked.
    """
    lowered = address.lower()
    copies = conn.execute(
        select(deliveries.c.id, deliveries.c.delivery_key).where(func.lower(deliveries.c.recipient) == lowered)
    ).all()
    ids = [c.id for c in copies]
    keys = [c.delivery_key for c in copies]
    counts = dict.fromkeys(ERASED_KINDS, 0)
    if keys:
        event_ids = list(conn.execute(select(events.c.id).where(events.c.delivery_key.in_(keys))).scalars())
        if event_ids:
            outbox = select(webhook_outbox.c.id).where(webhook_outbox.c.event_id.in_(event_ids))
            conn.execute(delete(webhook_attempts).where(webhook_attempts.c.outbox_id.in_(outbox)))
            counts["webhook_messages"] = _deleted(conn, delete(webhook_outbox).where(
                webhook_outbox.c.event_id.in_(event_ids)))
            counts["feed_items"] = _deleted(conn, delete(feed).where(feed.c.event_id.in_(event_ids)))
            counts["events"] = _deleted(conn, delete(events).where(events.c.id.in_(event_ids)))
        conn.execute(delete(delivery_activity).where(delivery_activity.c.delivery_key.in_(keys)))
        counts["queued_copies"] = _deleted(conn, delete(outbound).where(outbound.c.delivery_id.in_(ids)))
        counts["campaign_copies"] = _deleted(conn, delete(campaign_sends).where(campaign_sends.c.delivery_id.in_(ids)))
        counts["deliveries"] = _deleted(conn, delete(deliveries).where(deliveries.c.id.in_(ids)))
    record = select_contact_by_email(conn, lowered)
    if record is not None:
        counts["campaign_copies"] += _deleted(conn, delete(campaign_sends).where(
            campaign_sends.c.contact_id == record.id))  # the skipped ones: no delivery
        counts["list_memberships"] = _deleted(conn, delete(list_members).where(list_members.c.contact_id == record.id))
        counts["contact_records"] = _deleted(conn, delete(contacts).where(contacts.c.id == record.id))
    return counts


def do_not_track_entries(conn: Connection, address: str) -> int:
    query = select(func.count()).select_from(do_not_track).where(do_not_track.c.address == address.lower())
    return int(conn.execute(query).scalar_one())


def _deleted(conn: Connection, statement: Delete) -> int:
    return int(conn.execute(statement).rowcount or 0)
