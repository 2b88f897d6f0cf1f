"""Users can be disabled and deleted (issue #13, item 7).

`users.disabled_at` marks a user who may no longer log in, use their API key or AUTH to the relay;
`users.deleted_at` a deleted one, whose row stays (renamed, without credentials) so that their
messages, events and campaigns keep an owner: admins see them under "deleted user".
"""

from __future__ import annotations

from sqlalchemy import Connection

from mailbeacon.store.migrations import add_missing_columns

NEW_COLUMNS = {"users": ["disabled_at FLOAT", "deleted_at FLOAT"]}


def upgrade(conn: Connection) -> None:
    add_missing_columns(conn, NEW_COLUMNS)
