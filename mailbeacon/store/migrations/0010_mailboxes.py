"""Connected mailboxes (issue #14): a user's own SMTP and IMAP account, the Sent-folder queue, each copy's route.

The runner applies whatever is missing in version order.
A frozen copy like 0001: it must keep creating exactly this.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

from mailbeacon.store.migrations import NAMING_CONVENTION, add_missing_columns

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Table("users", metadata, Column("id", Integer, primary_key=True))
Table("messages", metadata, Column("id", Integer, primary_key=True))
Table(
    "mailboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, unique=True),
    *(
        column
        for side in ("smtp", "imap")
        for column in (
            Column(f"{side}_host", Text, nullable=False),
            Column(f"{side}_port", Integer, nullable=False),
            Column(f"{side}_security", Text, nullable=False),
            Column(f"{side}_username", Text, nullable=False),
            Column(f"{side}_secret", Text, nullable=False),
            Column(f"{side}_pin", Text, nullable=True),
        )
    ),
    Column("sent_folder", Text, nullable=True),
    Column("sent_folder_found", Text, nullable=True),
    Column("sent_copy", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("tested_at", Float, nullable=True),
    Column("test_result", Text, nullable=True),
    CheckConstraint("smtp_security IN ('starttls', 'tls', 'none')", name="smtp_security"),
    CheckConstraint("imap_security IN ('starttls', 'tls', 'none')", name="imap_security"),
    CheckConstraint("sent_copy IN ('auto', 'always', 'never')", name="sent_copy"),
    sqlite_autoincrement=True,
)
Table(
    "sent_copies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    Column("mailbox_id", Integer, nullable=True, index=True),
    Column("message_id_header", Text, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("folder", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("appended_at", Float, nullable=True),
    CheckConstraint("status IN ('waiting', 'appended', 'found', 'dropped', 'failed')", name="status"),
    Index("ix_sent_copies_status_due", "status", "next_attempt_at"),
)


def upgrade(conn: Connection) -> None:
    add_missing_columns(conn, {"outbound": ["mailbox_id INTEGER"]})
    metadata.create_all(conn, checkfirst=True)
