"""Reports people read: the messages list, a message's clients and timeline, contacts and their timelines.

Every number comes from the pipeline's counters (`message_activity`, `delivery_activity`) or the
`feed` rows, never from counting the events log, so a page costs index lookups whatever the log's
size. A contact is a recipient address in any case: lower-cased to group and to look up, and
each spelling's feed rows found through `ix_feed_user_recipient_event`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    JSON,
    Float,
    Select,
    case,
    cast,
    distinct,
    func,
    or_,
    select,
    true,
    tuple_,
    union,
)

from mailbeacon.store.activity import MessageActivity, MessageReport, select_report
from mailbeacon.store.feed import FeedFilter, FeedItem, feed_items, feed_query, filtered, select_feed
from mailbeacon.store.schema import campaigns, contacts, delivery_activity, deliveries, events, feed, message_activity, messages

MESSAGE_SORTS = ("created_at", "open_rate", "click_rate")
CONTACT_SORTS = ("last_sent", "email", "messages", "opens", "clicks", "last_open")


@dataclass(frozen=True, slots=True)
class MessageSummary:
    id: int
    user_id: int | None
    subject: str | None
    sender: str | None
    created_at: float
    source: str | None
    recipients: int
    """Deliveries: one per recipient (a shared copy still has one per recipient)."""
    activity: MessageActivity
    sort_value: float
    """The value the list was sorted by (created_at, or a rate with 0 for no recipients): the cursor's half."""
    campaign_id: int | None = None
    campaign_name: str | None = None
    """The campaign the message is (its subject is then the campaign's template, issue #13)."""


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """What the messages list shows; every field narrows it."""

    user_id: int | None = None
    """None: everyone's (an admin's view)."""
    recipient: str | None = None
    """Sent to this address (exact, case-insensitive)."""
    since: float | None = None
    """created_at >= since."""
    until: float | None = None
    """created_at < until."""
    opened: bool | None = None
    """True: at least one recipient opened it as a person (a unique human open); False: none did."""
    clicked: bool | None = None
    campaign_id: int | None = None
    """Only the campaign's message (a campaign is one message)."""
    sort: str = "created_at"
    """One of MESSAGE_SORTS; rates are unique human opens (clicks) over recipients."""
    descending: bool = True


@dataclass(frozen=True, slots=True)
class MessagePage:
    items: list[MessageSummary]
    more: bool
    """More items follow the last one: pass (last.sort_value, last.id) as `after`."""


@dataclass(frozen=True, slots=True)
class ClientSeen:
    """A mail client or device seen on a delivery's events."""

    client: str
    events: int
    human: int
    """Of which counted as a person's (human, proxied, suspect_forward)."""
    last_seen_at: float


@dataclass(frozen=True, slots=True)
class MessageDetail:
    report: MessageReport
    clients: dict[bytes, list[ClientSeen]]
    """Per delivery key, most used first."""
    timeline: list[FeedItem]
    """The message's newest events, newest first."""
    recipients_offset: int = 0
    """Where `report.recipients` starts among the message's recipients (in delivery order)."""


@dataclass(frozen=True, slots=True)
class ContactActivity:
    email: str
    """Lower-cased."""
    messages: int
    raw_opens: int
    human_opens: int
    raw_clicks: int
    human_clicks: int
    first_sent_at: float | None
    """None: a contact of the directory (imported) never sent to."""
    last_sent_at: float | None
    last_human_open_at: float | None
    last_activity_at: float | None = None
    """When their newest event (of any class) happened; filled in for the contacts of a page."""


@dataclass(frozen=True, slots=True)
class ContactQuery:
    user_id: int | None = None
    """None: everyone's contacts (an admin's view)."""
    sort: str = "last_sent"
    """One of CONTACT_SORTS."""
    descending: bool = True
    search: str | None = None
    """Contacts whose address or a field holds this text, in any case."""


# --- messages -------------------------------------------------------------------------------------------


_ACTIVITY = [f.name for f in fields(MessageActivity)]


def select_messages(
    conn: Connection, where: MessageQuery, after: tuple[float, int] | None, limit: int
) -> MessagePage:
    """One page of the messages list; `after` is the (sort_value, id) of the previous page's last item."""
    recipients = (
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.message_id == messages.c.id)
        .correlate(messages)
        .scalar_subquery()
    )
    sort_value = _sort_value(where.sort, recipients)
    subject: ColumnElement[Any] = messages.c.subject
    if where.recipient is not None:  # a person's list (a contact's page): the subject their copy had (issue #13)
        theirs = (
            select(deliveries.c.subject)
            .where(deliveries.c.message_id == messages.c.id, _address_is(where.recipient))
            .correlate(messages)
            .limit(1)
            .scalar_subquery()
        )
        subject = func.coalesce(theirs, messages.c.subject)
    query: Select[tuple[object, ...]] = select(
        messages.c.id, messages.c.user_id, subject.label("subject"), messages.c.sender, messages.c.created_at,
        messages.c.source, recipients.label("recipients"),
        *(func.coalesce(message_activity.c[name], 0).label(name) for name in _ACTIVITY),
        sort_value.label("sort_value"), campaigns.c.id.label("campaign_id"), campaigns.c.name.label("campaign_name"),
    ).select_from(
        messages.outerjoin(message_activity, message_activity.c.message_id == messages.c.id)
        .outerjoin(campaigns, campaigns.c.message_id == messages.c.id)  # unique: one lookup a row
    )
    query = _message_filters(query, where)
    if after is not None:
        key = tuple_(sort_value, messages.c.id)
        query = query.where(key < tuple_(*after) if where.descending else key > tuple_(*after))
    if where.descending:
        query = query.order_by(sort_value.desc(), messages.c.id.desc())
    else:
        query = query.order_by(sort_value.asc(), messages.c.id.asc())
    rows = conn.execute(query.limit(limit + 1)).all()
    items = [
        MessageSummary(
            r.id, r.user_id, r.subject, r.sender, r.created_at, r.source, r.recipients,
            MessageActivity(**{name: getattr(r, name) for name in _ACTIVITY}), float(r.sort_value),
            r.campaign_id, r.campaign_name,
        )
        for r in rows[:limit]
    ]
    return MessagePage(items, len(rows) > limit)


def _sort_value(sort: str, recipients: ColumnElement[int]) -> ColumnElement[float]:
    if sort == "created_at":
        return messages.c.created_at
    counter = {"open_rate": "unique_human_opens", "click_rate": "unique_human_clicks"}.get(sort)
    if counter is None:
        raise ValueError(f"sort must be one of {', '.join(MESSAGE_SORTS)}, got {sort!r}")
    # The same division on both dialects (IEEE doubles), so a cursor's value compares equal to the row's.
    rate = cast(func.coalesce(message_activity.c[counter], 0), Float) / func.nullif(recipients, 0)
    return func.coalesce(rate, 0.0)


def _message_filters(query: Select[tuple[object, ...]], where: MessageQuery) -> Select[tuple[object, ...]]:
    if where.user_id is not None:
        query = query.where(messages.c.user_id == where.user_id)
    if where.since is not None:
        query = query.where(messages.c.created_at >= where.since)
    if where.until is not None:
        query = query.where(messages.c.created_at < where.until)
    if where.campaign_id is not None:
        query = query.where(messages.c.id.in_(select(campaigns.c.message_id).where(campaigns.c.id == where.campaign_id)))
    if where.recipient is not None:
        sent_to = select(deliveries.c.message_id).where(_address_is(where.recipient))
        query = query.where(messages.c.id.in_(sent_to))
    for wanted, counter in ((where.opened, "unique_human_opens"), (where.clicked, "unique_human_clicks")):
        if wanted is not None:
            value = func.coalesce(message_activity.c[counter], 0)
            query = query.where(value > 0 if wanted else value == 0)
    return query


def _address_is(address: str) -> ColumnElement[bool]:
    """Both sides lower-cased by the database (SQLite: ASCII letters only), the same way the index is."""
    return func.lower(deliveries.c.recipient) == func.lower(address)


def message_visible(conn: Connection, message_id: int, user_id: int | None) -> bool:
    """The message exists and belongs to `user_id` (None: to anyone, an admin asking)."""
    query = select(messages.c.id).where(messages.c.id == message_id)
    if user_id is not None:
        query = query.where(messages.c.user_id == user_id)
    return conn.execute(query).first() is not None


def select_detail(
    conn: Connection, message_id: int, timeline: int, recipients_offset: int = 0, recipients_limit: int | None = None
) -> MessageDetail | None:
    report = select_report(conn, message_id, recipients_offset, recipients_limit)
    if report is None:
        return None
    return MessageDetail(
        report,
        select_clients(conn, report),
        select_feed(conn, FeedFilter(message_id=message_id), None, timeline) if timeline else [],
        recipients_offset,
    )


def select_clients(conn: Connection, report: MessageReport) -> dict[bytes, list[ClientSeen]]:
    """Per delivery of the report's recipients, the clients its events came from (as the pipeline named them)."""
    keys = {r.delivery_key for r in report.recipients}
    if not keys:
        return {}
    found = clients_of(conn, report.user_id, report.id, [r.recipient for r in report.recipients])
    return {key: seen for key, seen in found.items() if key in keys}


def clients_of(
    conn: Connection, user_id: int | None, message_id: int, recipients: Sequence[str]
) -> dict[bytes, list[ClientSeen]]:
    """Per delivery of the message to these recipients, the clients of its events, most used first.

    Found through the feed rows of those recipients (`ix_feed_user_recipient_event`), so a page of a
    large campaign's recipients reads their events only, not the whole campaign's.
    """
    if not recipients:
        return {}
    rows = conn.execute(
        select(
            events.c.delivery_key, events.c.client, func.count().label("n"),
            func.sum(case((feed.c.notice.is_not(None), 1), else_=0)).label("human"),
            func.max(events.c.occurred_at).label("last"),
        )
        .select_from(feed.join(events, events.c.id == feed.c.event_id))
        .where(
            feed.c.user_id == user_id, feed.c.recipient.in_(sorted(set(recipients))),
            # "+ 0": not by the message's index, which would walk all of a campaign's events.
            feed.c.message_id + 0 == message_id,
            events.c.client.is_not(None),
        )
        .group_by(events.c.delivery_key, events.c.client)
        .order_by(events.c.delivery_key, func.count().desc(), events.c.client)
    ).all()
    found: dict[bytes, list[ClientSeen]] = {}
    for r in rows:
        found.setdefault(bytes(r.delivery_key), []).append(ClientSeen(r.client, r.n, int(r.human or 0), r.last))
    return found


# --- contacts -------------------------------------------------------------------------------------------


def select_contacts(conn: Connection, where: ContactQuery, offset: int, limit: int) -> tuple[list[ContactActivity], bool]:
    """A page of contacts, with their counts; True if more follow.

    Contacts are one thing (issue #14, item 5): everyone the user wrote to, and everyone in the
    contact directory (imported for campaigns or from the dashboard, never sent to yet), one row
    per address.
    """
    columns = _contact_columns()
    sent = _contacts_of(where.user_id, columns).group_by(columns["email"]).subquery("sent")
    people = union(select(sent.c.email), select(contacts.c.email)).subquery("people")
    row = {
        "email": people.c.email,
        **{name: func.coalesce(sent.c[name], 0) for name in ("messages", "raw_opens", "human_opens", "raw_clicks",
                                                             "human_clicks")},
        **{name: sent.c[name] for name in ("first_sent_at", "last_sent_at", "last_human_open_at")},
    }
    order = {
        "last_sent": func.coalesce(sent.c.last_sent_at, -1.0), "email": people.c.email, "messages": row["messages"],
        "opens": row["human_opens"], "clicks": row["human_clicks"],
        "last_open": func.coalesce(sent.c.last_human_open_at, -1.0),
    }.get(where.sort)
    if order is None:
        raise ValueError(f"sort must be one of {', '.join(CONTACT_SORTS)}, got {where.sort!r}")
    query = (
        select(*(c.label(name) for name, c in row.items()))
        .select_from(people.outerjoin(sent, sent.c.email == people.c.email))
        .order_by(order.desc() if where.descending else order.asc(), people.c.email)
        .offset(offset)
        .limit(limit + 1)
    )
    if where.search:
        pattern = "%" + where.search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(people.c.email.like(pattern, escape="\\"), people.c.email.in_(
            _field_holds(conn, pattern))))
    rows = conn.execute(query).all()
    found = [ContactActivity(**r._asdict()) for r in rows[:limit]]
    return _with_last_activity(conn, where.user_id, found), len(rows) > limit


def _field_holds(conn: Connection, pattern: str) -> Select[tuple[str]]:
    """The addresses of directory contacts with a field value (not a name) like `pattern`."""
    if conn.dialect.name == "postgresql":
        values = func.json_each_text(cast(contacts.c.fields, JSON)).table_valued("key", "value").lateral()
    else:
        values = func.json_each(contacts.c.fields).table_valued("value")
    return (
        select(contacts.c.email).select_from(contacts.join(values, true()))
        .where(func.lower(values.c.value).like(pattern, escape="\\"))
    )


def select_contact(conn: Connection, user_id: int | None, address: str) -> ContactActivity | None:
    """One contact's counts (of every copy, Bcc too); None if `user_id` (None: anyone) never sent to
    the address and the directory does not hold it."""
    columns = _contact_columns()
    columns["email"] = func.min(columns["email"])  # one group: the address in any case
    # Not listed is not hidden: a Bcc recipient's page stays reachable from the feed and the message.
    row = conn.execute(_contacts_of(user_id, columns, listed_only=False).where(_address_is(address))).one()
    if not row.messages:
        known = conn.execute(select(contacts.c.email).where(contacts.c.email == func.lower(address))).scalar()
        if known is None:
            return None
        return ContactActivity(known, 0, 0, 0, 0, 0, None, None, None)
    return _with_last_activity(conn, user_id, [ContactActivity(**row._asdict())])[0]


def _contact_columns() -> dict[str, ColumnElement[Any]]:
    return {
        "email": func.lower(deliveries.c.recipient),
        "messages": func.count(distinct(deliveries.c.message_id)),
        "raw_opens": func.coalesce(func.sum(delivery_activity.c.raw_opens), 0),
        "human_opens": func.coalesce(func.sum(delivery_activity.c.human_opens), 0),
        "raw_clicks": func.coalesce(func.sum(delivery_activity.c.raw_clicks), 0),
        "human_clicks": func.coalesce(func.sum(delivery_activity.c.human_clicks), 0),
        "first_sent_at": func.min(deliveries.c.created_at),
        "last_sent_at": func.max(deliveries.c.created_at),
        "last_human_open_at": func.max(delivery_activity.c.last_human_open_at),
    }


def _contacts_of(
    user_id: int | None, columns: dict[str, ColumnElement[Any]], listed_only: bool = True
) -> Select[tuple[object, ...]]:
    query = select(*(c.label(name) for name, c in columns.items())).select_from(
        deliveries.join(messages, messages.c.id == deliveries.c.message_id).outerjoin(
            delivery_activity, delivery_activity.c.delivery_key == deliveries.c.delivery_key
        )
    )
    if listed_only:  # not her Bcc recipients, nor herself (issue #14)
        query = query.where(deliveries.c.listed.is_not(False))
    return query if user_id is None else query.where(messages.c.user_id == user_id)


def select_contact_feed(
    conn: Connection, user_id: int | None, address: str, where: FeedFilter, before: int | None, limit: int
) -> list[FeedItem]:
    """The feed items of everything `user_id` (None: anyone) sent to the address in any spelling, newest first.

    One index range per (owner, spelling), merged: each is a walk down `ix_feed_user_recipient_event`.
    """
    narrowed = replace(where, user_id=None, recipient=None)
    lowered = conn.execute(select(func.lower(address))).scalar_one()
    found: dict[int, FeedItem] = {}
    for owner, spelling, _ in _spellings(conn, user_id, [lowered]):
        query = filtered(feed_query(), narrowed, before).where(feed.c.user_id == owner, feed.c.recipient == spelling)
        for item in feed_items(conn, query.order_by(feed.c.event_id.desc()).limit(limit)):
            found[item.id] = item
    return sorted(found.values(), key=lambda item: item.id, reverse=True)[:limit]


def _spellings(
    conn: Connection, user_id: int | None, lowered: Sequence[str]
) -> list[tuple[int | None, str, str]]:
    """(owner, recipient as stored, lower-cased) of the deliveries to these (lower-cased) addresses."""
    email = func.lower(deliveries.c.recipient)
    query = (
        select(messages.c.user_id, deliveries.c.recipient, email.label("email"))
        .distinct()
        .select_from(deliveries.join(messages, messages.c.id == deliveries.c.message_id))
        .where(email.in_(list(lowered)))
    )
    if user_id is not None:
        query = query.where(messages.c.user_id == user_id)
    return [(r.user_id, r.recipient, r.email) for r in conn.execute(query)]


def _with_last_activity(conn: Connection, user_id: int | None, contacts: list[ContactActivity]) -> list[ContactActivity]:
    """Each contact's newest event time: the newest feed row of each (owner, spelling), an index lookup each."""
    newest: dict[str, int] = {}
    for owner, spelling, email in _spellings(conn, user_id, [c.email for c in contacts]) if contacts else []:
        last = conn.execute(
            select(func.max(feed.c.event_id)).where(feed.c.user_id == owner, feed.c.recipient == spelling)
        ).scalar()
        if last is not None:
            newest[email] = max(newest.get(email, 0), int(last))
    if not newest:
        return contacts
    rows = conn.execute(select(events.c.id, events.c.occurred_at).where(events.c.id.in_(list(newest.values()))))
    times = {r.id: r.occurred_at for r in rows}
    return [replace(c, last_activity_at=times.get(newest[c.email])) if c.email in newest else c for c in contacts]
