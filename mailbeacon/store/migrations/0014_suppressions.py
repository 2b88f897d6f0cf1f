"""The suppression list and soft-bounce streaks (issue #15, item 3).

A frozen copy like 0001: it must keep creating exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Integer, MetaData, Table, Text

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table(
    "suppressions",
    metadata,
    Column("address", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivery_id", Integer, nullable=True),
)
Table(
    "soft_bounce_streaks",
    metadata,
    Column("address", Text, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_at", Float, nullable=False),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)
