"""Contacts, contact lists and list members for campaigns (issue 7).

A frozen copy like 0001: it must keep creating exactly what it created.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, ForeignKey, Integer, MetaData, PrimaryKeyConstraint, Table, Text

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("fields", Text, nullable=False),
    Column("unsubscribed_at", Float, nullable=True),
    Column("unsubscribe_source", Text, nullable=True),
    Column("unsubscribe_campaign_id", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Table(
    "contact_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)
Table(
    "list_members",
    metadata,
    Column("list_id", Integer, ForeignKey("contact_lists.id"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("added_at", Float, nullable=False),
    PrimaryKeyConstraint("list_id", "contact_id"),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)
