"""Leases (issue #17): which node runs each job that must run on one node at a time.

A frozen copy like 0001: it must keep creating exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Integer, MetaData, Table, Text

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("instance", Text, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("renewed_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)


def upgrade(conn: Connection) -> None:
    leases.create(conn, checkfirst=True)
