"""Server-side dashboard sessions (issue #12, item 13): a row per logged-in browser, found by its id's hash.

A frozen copy like 0001: it must keep creating exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, ForeignKey, Integer, MetaData, Table, Text

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table("users", metadata, Column("id", Integer, primary_key=True))
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("ip", Text, nullable=False),
    Column("user_agent", Text, nullable=False),
)


def upgrade(conn: Connection) -> None:
    sessions.create(conn, checkfirst=True)
