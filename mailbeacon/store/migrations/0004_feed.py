"""The activity feed, dashboard passwords and notification rules, webhooks with their outbox, settings.

A frozen copy like 0001: it must keep creating exactly what it created.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    false,
    func,
)

from mailbeacon.store.migrations import NAMING_CONVENTION, add_missing_columns

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table("users", metadata, Column("id", Integer, primary_key=True))
_messages = Table(
    "messages", metadata, Column("id", Integer, primary_key=True), Column("user_id", Integer),
    Column("created_at", Float),
)
_deliveries = Table("deliveries", metadata, Column("id", Integer, primary_key=True), Column("recipient", Text))
INDEXES = [
    Index("ix_messages_user_created", _messages.c.user_id, _messages.c.created_at, _messages.c.id),
    Index("ix_messages_created", _messages.c.created_at, _messages.c.id),
    Index("ix_deliveries_recipient_lower", func.lower(_deliveries.c.recipient)),
]
"""For the messages list and contacts (store/reports.py); the tables exist already, so created one by one."""
Table(
    "feed",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("user_id", Integer, nullable=True),
    Column("message_id", Integer, nullable=True),
    Column("recipient", Text, nullable=True),
    Column("notice", Text, nullable=True),
    Column("gap", Float, nullable=True),
    Index("ix_feed_user_event", "user_id", "event_id"),
    Index("ix_feed_message_event", "message_id", "event_id"),
    Index("ix_feed_user_recipient_event", "user_id", "recipient", "event_id", "message_id"),
)
Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("event_filter", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("all_users", Boolean, nullable=False, server_default=false()),
)
Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Text, nullable=False, unique=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id"), nullable=False, index=True),
    Column("event_id", BigInteger, nullable=True),
    Column("payload", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=True, index=True),
    Column("lease_until", Float, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Column("retry_until", Float, nullable=True),
)
Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("outbox_id", Integer, ForeignKey("webhook_outbox.id"), nullable=False, index=True),
    Column("attempted_at", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration", Float, nullable=False),
    Column("response", Text, nullable=True),
)
Table(
    "settings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

NEW_COLUMNS = {
    "users": [
        "password_hash TEXT",
        "notify_first_open BOOLEAN NOT NULL DEFAULT TRUE",
        "notify_reopen_after FLOAT DEFAULT 3600",
        "notify_clicks BOOLEAN NOT NULL DEFAULT TRUE",
    ],
    "delivery_activity": ["last_human_open_at FLOAT"],
}


def upgrade(conn: Connection) -> None:
    add_missing_columns(conn, NEW_COLUMNS)
    metadata.create_all(conn, checkfirst=True)
    for index in INDEXES:
        index.create(conn, checkfirst=True)
    # The classify reader derives the feed from the first event again, filling it for events judged before.
    conn.exec_driver_sql("DELETE FROM pipeline_cursors WHERE name = 'classify'")
    for table in ("delivery_activity", "message_activity", "link_activity"):
        conn.exec_driver_sql(f"DELETE FROM {table}")
