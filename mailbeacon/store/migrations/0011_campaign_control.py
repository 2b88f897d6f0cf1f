"""Campaign subjects as their recipients saw them, and pausing (issue #13, items 2 and 6).

`deliveries.subject` keeps a campaign copy's rendered subject and `feed.subject` a copy of it for
the feed's reads; `campaigns.paused_at` marks a paused campaign. Copies queued before this keep
showing the campaign's subject template (their rendered subject was not recorded).
"""

from __future__ import annotations

from sqlalchemy import Connection

from mailbeacon.store.migrations import add_missing_columns

NEW_COLUMNS = {
    "deliveries": ["subject TEXT"],
    "feed": ["subject TEXT"],
    "campaigns": ["paused_at FLOAT"],
}


def upgrade(conn: Connection) -> None:
    add_missing_columns(conn, NEW_COLUMNS)
