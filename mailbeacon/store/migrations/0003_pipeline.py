"""The pipeline's derived state: cursors, per-event verdicts, counters per delivery, message and link.

A frozen copy like 0001: it must keep creating exactly what it created.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
)

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _counters() -> list[Column[int]]:
    return [
        Column(name, Integer, nullable=False, server_default="0")
        for name in ("raw_opens", "human_opens", "machine_opens", "raw_clicks", "human_clicks", "machine_clicks")
    ]


Table(
    "pipeline_cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Table(
    "delivery_activity",
    metadata,
    Column("delivery_key", LargeBinary, primary_key=True),
    Column("message_id", Integer, nullable=True, index=True),
    *_counters(),
    Column("first_open_at", Float, nullable=True),
    Column("last_open_at", Float, nullable=True),
    Column("first_human_open_at", Float, nullable=True),
    Column("inferred_open_at", Float, nullable=True),
    Column("memory", Text, nullable=False),
)
Table(
    "message_activity",
    metadata,
    Column("message_id", Integer, primary_key=True),
    *_counters(),
    *(
        Column(name, Integer, nullable=False, server_default="0")
        for name in ("unique_opens", "unique_human_opens", "unique_clicks", "unique_human_clicks", "inferred_opens")
    ),
)
Table(
    "link_activity",
    metadata,
    Column("message_id", Integer, nullable=False),
    Column("link_idx", Integer, nullable=False),
    Column("raw_clicks", Integer, nullable=False, server_default="0"),
    Column("human_clicks", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("message_id", "link_idx"),
)


def upgrade(conn: Connection) -> None:
    have = {column["name"] for column in inspect(conn).get_columns("events")}
    if "first" not in have:
        conn.exec_driver_sql('ALTER TABLE events ADD COLUMN "first" BOOLEAN')
    metadata.create_all(conn, checkfirst=True)
