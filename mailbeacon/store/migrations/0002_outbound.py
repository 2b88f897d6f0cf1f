"""Sending: what each delivery tracks and how it went, the outbound queue, the do-not-track list.

A frozen copy like 0001: it must keep creating exactly what it created.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

from mailbeacon.store.migrations import NAMING_CONVENTION, add_missing_columns

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table("deliveries", metadata, Column("id", Integer, primary_key=True))
Table(
    "outbound",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, unique=True),
    Column("mail_from", Text, nullable=False),
    Column("rcpt_to", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False, index=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)
Table(
    "do_not_track",
    metadata,
    Column("address", Text, primary_key=True),
    Column("created_at", Float, nullable=False),
)

NEW_COLUMNS = {
    "messages": ["source TEXT", "submitted_from TEXT"],
    "deliveries": [
        "opens_tracked BOOLEAN",
        "clicks_tracked BOOLEAN",
        "untracked_reason TEXT",
        "shared BOOLEAN NOT NULL DEFAULT FALSE",
        "status TEXT",
        "accepted_at FLOAT",
        "upstream_reply TEXT",
    ],
}


def upgrade(conn: Connection) -> None:
    add_missing_columns(conn, NEW_COLUMNS)
    metadata.create_all(conn, checkfirst=True)
