"""Which recipients are contacts (issue #14, item 5).

`deliveries.listed` is False for a copy to a Bcc recipient or to the sender herself when the
message does not name them in To or Cc: the dashboard and the API do not list them among her
contacts. Copies queued before this have NULL and stay listed (their headers are gone).
"""

from __future__ import annotations

from sqlalchemy import Connection

from mailbeacon.store.migrations import add_missing_columns

NEW_COLUMNS = {"deliveries": ["listed BOOLEAN"]}


def upgrade(conn: Connection) -> None:
    add_missing_columns(conn, NEW_COLUMNS)
