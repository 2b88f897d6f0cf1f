"""Campaign contacts, their lists and who unsubscribed.

An import writes a batch of contacts and their list memberships per
transaction, with a handful of statements per batch, so 100,000 rows take
seconds and the SQLite write lock (which the tracking hot path also needs) is
never held for long. Re-importing is harmless: fields merge, memberships are
kept, and an unsubscribe is never undone by an import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, any_, bindparam, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from mailbeacon.store.backend import insert_ignoring_duplicates
from mailbeacon.store.outbound import normalise_address
from mailbeacon.store.schema import contact_lists, contacts, list_members


@dataclass(frozen=True, slots=True)
class NewContact:
    """One contact to import: a valid address (stored lower-cased) and its non-empty fields."""

    email: str
    fields: Mapping[str, str] = field(default_factory=dict)
    unsubscribed: bool = False
    """The file says this person unsubscribed elsewhere (source "import")."""


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: int
    email: str
    fields: dict[str, str]
    unsubscribed_at: float | None
    unsubscribe_source: str | None
    unsubscribe_campaign_id: int | None
    created_at: float
    updated_at: float

    @property
    def is_subscribed(self) -> bool:
        return self.unsubscribed_at is None


@dataclass(frozen=True, slots=True)
class ContactList:
    id: int
    name: str
    created_at: float
    members: int
    unsubscribed: int
    """Members who unsubscribed: a campaign to this list skips them."""


@dataclass(frozen=True, slots=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    """Known contacts whose fields changed."""
    unchanged: int = 0
    added: int = 0
    """Contacts that joined the list (new ones and known ones not on it yet)."""
    unsubscribed: int = 0
    """Marked unsubscribed now because the file says so."""
    still_unsubscribed: int = 0
    """In the file, but unsubscribed before: they stay unsubscribed."""

    def __add__(self, other: ImportCounts) -> ImportCounts:
        return ImportCounts(
            *(getattr(self, name) + getattr(other, name) for name in ImportCounts.__dataclass_fields__)
        )


def ensure_list(conn: Connection, name: str, now: float) -> int:
    """The id of the list called `name`, created if it does not exist."""
    conn.execute(insert_ignoring_duplicates(conn, contact_lists, "name").values(name=name, created_at=now))
    return int(conn.execute(select(contact_lists.c.id).where(contact_lists.c.name == name)).scalar_one())


def upsert_contacts(conn: Connection, list_id: int, batch: Sequence[NewContact], now: float) -> ImportCounts:
    """Create or update `batch` and put them all on the list."""
    batch = _distinct(batch)
    if not batch:
        return ImportCounts()
    emails = [c.email for c in batch]
    columns = select(contacts.c.id, contacts.c.email, contacts.c.fields, contacts.c.unsubscribed_at)
    known = {row.email: row for row in conn.execute(columns.where(_among(conn, contacts.c.email, emails)))}
    fresh = [c for c in batch if c.email not in known]
    ids = [row.id for row in known.values()]
    if fresh:
        inserted = _insert_contacts(conn, fresh, now)
        if len(inserted) < len(fresh):  # another import created some meanwhile: they join the list all the same
            raced = [c.email for c in fresh]
            inserted = list(conn.execute(select(contacts.c.id).where(_among(conn, contacts.c.email, raced))).scalars())
        ids += inserted
    changed: list[dict[str, Any]] = []
    newly_unsubscribed: list[dict[str, Any]] = []
    still_unsubscribed = 0
    for c in batch:
        row = known.get(c.email)
        if row is None:
            continue
        old = json.loads(row.fields)
        merged = {**old, **c.fields}  # later non-empty fields win; the parser drops empty cells
        if merged != old:
            changed.append({"cid": row.id, "new_fields": _dump(merged), "now": now})
        if row.unsubscribed_at is not None:
            still_unsubscribed += 1
        elif c.unsubscribed:
            newly_unsubscribed.append({"cid": row.id, "now": now})
    if changed:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("cid"))
            .values(fields=bindparam("new_fields"), updated_at=bindparam("now")),
            changed,
        )
    if newly_unsubscribed:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("cid"), contacts.c.unsubscribed_at.is_(None))
            .values(unsubscribed_at=bindparam("now"), unsubscribe_source="import", updated_at=bindparam("now")),
            newly_unsubscribed,
        )
    on_list: set[int] = set()
    if known:  # a contact created just now is on no list yet
        query = select(list_members.c.contact_id).where(
            list_members.c.list_id == list_id, _among(conn, list_members.c.contact_id, [r.id for r in known.values()])
        )
        on_list.update(conn.execute(query).scalars())
    joining = [i for i in ids if i not in on_list]
    if joining:
        _insert_members(conn, list_id, joining, now)
    return ImportCounts(
        created=len(fresh),
        updated=len(changed),
        unchanged=len(known) - len(changed),
        added=len(joining),
        unsubscribed=sum(c.unsubscribed for c in fresh) + len(newly_unsubscribed),
        still_unsubscribed=still_unsubscribed,
    )


# On PostgreSQL a batch travels as a few arrays: psycopg parses every long, uncached query
# text again, so 1,000 rows as VALUES tuples (or IN lists) cost twice the time in the client.
_PG_INSERT_CONTACTS = text(
    "INSERT INTO contacts (email, fields, unsubscribed_at, unsubscribe_source, created_at, updated_at) "
    "SELECT e, f, u, s, :now, :now FROM unnest(CAST(:emails AS text[]), CAST(:fields AS text[]), "
    "CAST(:unsubscribed_at AS float8[]), CAST(:sources AS text[])) AS t(e, f, u, s) "
    "ON CONFLICT (email) DO NOTHING RETURNING id"
)
_PG_INSERT_MEMBERS = text(
    "INSERT INTO list_members (list_id, contact_id, added_at) "
    "SELECT :list_id, unnest(CAST(:ids AS integer[])), :now ON CONFLICT DO NOTHING"
)


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _among(conn: Connection, column: ColumnElement[Any], values: Sequence[object]) -> ColumnElement[bool]:
    """`column IN (values)`, as `= ANY(array)` on PostgreSQL."""
    if _is_postgres(conn):
        return column == any_(literal(list(values), ARRAY(column.type)))  # one parameter, not len(values)
    return column.in_(values)


def _insert_contacts(conn: Connection, fresh: Sequence[NewContact], now: float) -> list[int]:
    """Insert contacts not stored yet; the ids of those inserted (one taken by a racing import is skipped)."""
    unsubscribed_at = [now if c.unsubscribed else None for c in fresh]
    sources = ["import" if c.unsubscribed else None for c in fresh]
    if _is_postgres(conn):
        params: dict[str, object] = {
            "emails": [c.email for c in fresh],
            "fields": [_dump(c.fields) for c in fresh],
            "unsubscribed_at": unsubscribed_at,
            "sources": sources,
            "now": now,
        }
        return list(conn.execute(_PG_INSERT_CONTACTS, params).scalars())
    rows = [
        {"email": c.email, "fields": _dump(c.fields), "unsubscribed_at": at, "unsubscribe_source": source,
         "unsubscribe_campaign_id": None, "created_at": now, "updated_at": now}
        for c, at, source in zip(fresh, unsubscribed_at, sources)
    ]
    return list(conn.execute(insert_ignoring_duplicates(conn, contacts, "email").returning(contacts.c.id), rows).scalars())


def _insert_members(conn: Connection, list_id: int, contact_ids: Sequence[int], now: float) -> None:
    if _is_postgres(conn):
        conn.execute(_PG_INSERT_MEMBERS, {"list_id": list_id, "ids": list(contact_ids), "now": now})
        return
    rows = [{"list_id": list_id, "contact_id": i, "added_at": now} for i in contact_ids]
    conn.execute(insert_ignoring_duplicates(conn, list_members, "list_id", "contact_id"), rows)


def select_lists(conn: Connection, name: str | None = None) -> list[ContactList]:
    """Every list with its member counts, by name (or only the one called `name`)."""
    query = (
        select(
            contact_lists.c.id,
            contact_lists.c.name,
            contact_lists.c.created_at,
            func.count(list_members.c.contact_id).label("members"),
            func.count(contacts.c.unsubscribed_at).label("unsubscribed"),
        )
        .select_from(
            contact_lists.outerjoin(list_members, list_members.c.list_id == contact_lists.c.id).outerjoin(
                contacts, contacts.c.id == list_members.c.contact_id
            )
        )
        .group_by(contact_lists.c.id, contact_lists.c.name, contact_lists.c.created_at)
        .order_by(contact_lists.c.name)
    )
    if name is not None:
        query = query.where(contact_lists.c.name == name)
    return [ContactList(**row._asdict()) for row in conn.execute(query)]


def select_members_after(
    conn: Connection, list_id: int, after_contact_id: int, limit: int, include_unsubscribed: bool
) -> list[ContactRow]:
    query = (
        select(contacts)
        .select_from(list_members.join(contacts, contacts.c.id == list_members.c.contact_id))
        .where(list_members.c.list_id == list_id, list_members.c.contact_id > after_contact_id)
        .order_by(list_members.c.contact_id)
        .limit(limit)
    )
    if not include_unsubscribed:
        query = query.where(contacts.c.unsubscribed_at.is_(None))
    return [_contact(row) for row in conn.execute(query)]


def select_contact_by_email(conn: Connection, email: str) -> ContactRow | None:
    row = conn.execute(select(contacts).where(contacts.c.email == normalise_address(email))).first()
    return _contact(row) if row is not None else None


def select_contact_by_id(conn: Connection, contact_id: int) -> ContactRow | None:
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
    return _contact(row) if row is not None else None


def select_list_names_of(conn: Connection, contact_id: int) -> list[str]:
    query = (
        select(contact_lists.c.name)
        .join(list_members, list_members.c.list_id == contact_lists.c.id)
        .where(list_members.c.contact_id == contact_id)
        .order_by(contact_lists.c.name)
    )
    return list(conn.execute(query).scalars())


def mark_unsubscribed(
    conn: Connection, contact_id: int, source: str, campaign_id: int | None, now: float
) -> ContactRow | None:
    """Unsubscribe once: a later call keeps the first time, source and campaign. None: no such contact."""
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id, contacts.c.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now, unsubscribe_source=source, unsubscribe_campaign_id=campaign_id, updated_at=now)
    )
    return select_contact_by_id(conn, contact_id)


def clear_unsubscribed(conn: Connection, contact_id: int, now: float) -> ContactRow | None:
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id, contacts.c.unsubscribed_at.is_not(None))
        .values(unsubscribed_at=None, unsubscribe_source=None, unsubscribe_campaign_id=None, updated_at=now)
    )
    return select_contact_by_id(conn, contact_id)


def _distinct(batch: Sequence[NewContact]) -> list[NewContact]:
    """Lower-cased, one per address (the CSV reader has merged them already; other callers may not)."""
    merged: dict[str, NewContact] = {}
    for c in batch:
        email = normalise_address(c.email)
        seen = merged.get(email)
        if seen is None:
            merged[email] = c if c.email == email else NewContact(email, c.fields, c.unsubscribed)
        else:
            merged[email] = NewContact(email, {**seen.fields, **c.fields}, seen.unsubscribed or c.unsubscribed)
    return list(merged.values())


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dump(fields: Mapping[str, str]) -> str:
    return _ENCODER.encode(dict(fields))


def _contact(row: Row[Any]) -> ContactRow:
    values = row._asdict()
    values["fields"] = json.loads(values["fields"])
    return ContactRow(**values)
