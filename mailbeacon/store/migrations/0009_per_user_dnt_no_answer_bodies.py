"""Two fixes of issue #12: do-not-track per user, and no webhook answer bodies in the delivery log.

Each do-not-track entry names whose mail it applies to, None for everyone's: the one list there
was applied to everyone's mail, so its entries become the admin-wide list. The table gets a
surrogate key (an address may be on several users' lists) and two unique indexes: an address
once on the admin-wide list, once on each user's. The delivery log kept up to 1 KB of each
receiver's answer; only its status code is kept of those. A frozen copy like 0001.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, ForeignKey, Integer, MetaData, Table, Text, inspect

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table("users", metadata, Column("id", Integer, primary_key=True))
do_not_track = Table(
    "do_not_track",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", Text, nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
)
INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_do_not_track_global ON do_not_track (address) WHERE user_id IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_do_not_track_user ON do_not_track (user_id, address)",
]
"""As SQL: partial indexes, the same on SQLite and PostgreSQL (NULL user ids are distinct in the second)."""


def upgrade(conn: Connection) -> None:
    if "user_id" not in {column["name"] for column in inspect(conn).get_columns("do_not_track")}:
        kept = conn.exec_driver_sql("SELECT address, created_at FROM do_not_track").all()
        conn.exec_driver_sql("DROP TABLE do_not_track")
        do_not_track.create(conn)
        if kept:
            conn.execute(do_not_track.insert(), [
                {"address": address, "user_id": None, "created_at": created_at} for address, created_at in kept
            ])
    for index in INDEXES:
        conn.exec_driver_sql(index)
    conn.exec_driver_sql("UPDATE webhook_attempts SET response = NULL WHERE response IS NOT NULL")
