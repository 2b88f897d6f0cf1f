"""Campaign reports (issue 7): hourly counters of judged events, and the indexes a report reads through.

`hourly_activity` is filled from the feed rows judged so far (the classify reader adds to it
from now on); a message's deliveries are indexed with their state (replacing the index on
the message alone, which the new one's first column serves), and contacts by the campaign
they unsubscribed through. A frozen copy like 0001: it must keep creating exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, PrimaryKeyConstraint, Table, Text, inspect

from mailbeacon.store.migrations import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
hourly_activity = Table(
    "hourly_activity",
    metadata,
    Column("message_id", Integer, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("class", Text, nullable=False),
    Column("client", Text, nullable=False),
    Column("events", Integer, nullable=False),
    PrimaryKeyConstraint("message_id", "hour", "type", "class", "client"),
)
INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_deliveries_message_status ON deliveries (message_id, status)",
    "CREATE INDEX IF NOT EXISTS ix_contacts_unsubscribe_campaign_id ON contacts (unsubscribe_campaign_id)",
]
"""As SQL: SQLAlchemy's checkfirst would reflect the tables' indexes and warn about the expression index."""


def upgrade(conn: Connection) -> None:
    if not inspect(conn).has_table("hourly_activity"):
        hourly_activity.create(conn)
        # floor(): SQLite truncates a positive number cast to an integer; PostgreSQL would round it.
        hour = "floor(e.occurred_at / 3600)" if conn.dialect.name == "postgresql" else "CAST(e.occurred_at / 3600 AS INTEGER)"
        conn.exec_driver_sql(
            "INSERT INTO hourly_activity (message_id, hour, type, class, client, events) "
            f"SELECT f.message_id, {hour}, e.type, e.class, coalesce(e.client, ''), count(*) "
            "FROM feed f JOIN events e ON e.id = f.event_id "
            "WHERE f.message_id IS NOT NULL AND e.class IS NOT NULL "
            f"GROUP BY f.message_id, {hour}, e.type, e.class, coalesce(e.client, '')"
        )
    for index in INDEXES:
        conn.exec_driver_sql(index)
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_deliveries_message_id")
