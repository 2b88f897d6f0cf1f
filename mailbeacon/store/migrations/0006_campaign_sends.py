"""Campaigns and their sends (issue 7): the template stored once, a cursor, one row per contact.

A frozen copy like 0001: it must keep creating exactly what it created.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table("users", metadata, Column("id", Integer, primary_key=True))
Table("messages", metadata, Column("id", Integer, primary_key=True))
Table("deliveries", metadata, Column("id", Integer, primary_key=True))
Table("contacts", metadata, Column("id", Integer, primary_key=True))
Table("contact_lists", metadata, Column("id", Integer, primary_key=True))
Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("list_id", Integer, ForeignKey("contact_lists.id"), nullable=False),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("from_address", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=True),
    Column("base_url", Text, nullable=False),
    Column("rate", Float, nullable=True),
    Column("status", Text, nullable=False),
    Column("cursor", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("queued", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("queued_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    CheckConstraint("status IN ('sending', 'queued', 'done', 'cancelled')", name="status"),
    CheckConstraint("rate IS NULL OR rate > 0", name="rate"),
)
Table(
    "campaign_sends",
    metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=True, unique=True),
    Column("skipped", Text, nullable=True),
    PrimaryKeyConstraint("campaign_id", "contact_id"),
    CheckConstraint("(delivery_id IS NULL) != (skipped IS NULL)", name="sent_or_skipped"),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True, tables=[metadata.tables["campaigns"], metadata.tables["campaign_sends"]])
