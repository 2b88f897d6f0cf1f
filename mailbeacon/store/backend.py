"""What differs between SQLite and PostgreSQL, handed to the Store as one value.

The Store itself stays dialect-free: it asks the backend for its engine, for the
in-process writer lock and for cross-process locks held until commit.
"""

from __future__ import annotations

import enum
from typing import Protocol
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from mailbeacon.store.events import EventParams

WRITE = "mailbeacon_write"
"""Execution option on connections that open write transactions (SQLite: BEGIN IMMEDIATE)."""


class Lock(enum.IntEnum):
    """Cross-process locks a write transaction may hold until it ends (PostgreSQL advisory lock keys)."""

    MIGRATIONS = 0x6D62_0001
    EVENT_LOG = 0x6D62_0002
    """Appends commit in id order, so a reader's cursor never skips a late commit of a lower id."""
    PIPELINE = 0x6D62_0004
    """One process at a time advances the pipeline's readers."""
    OUTBOUND = 0x6D62_0003
    """Workers of several processes claim queued copies one at a time."""
    WEBHOOKS = 0x6D62_0005
    """The webhook fan-out moves its cursor, and workers claim outbox rows, one process at a time."""


@dataclass(frozen=True, slots=True)
class Backend:
    engine: Engine
    writer: AbstractContextManager[object]
    """Held around every write transaction in this process."""
    hold: Callable[[Connection, Lock], None]
    """Take a lock until the transaction ends; a no-op where writes are serial anyway."""
    append_events: AppendEvents | None = None
    """A leaner append than the Store's SQLAlchemy one, called under `writer`; None to use that one."""
    driver_errors: tuple[type[Exception], ...] = ()
    """What `append_events` raises when the database cannot take the batch."""
    lift_timeouts: Callable[[Connection], None] = lambda conn: None
    """Let this transaction's statements run as long as they need (migrations, resetting a reader)."""


class AppendEvents(Protocol):
    def __call__(self, rows: Sequence[EventParams]) -> int: ...

    def close(self) -> None: ...


def insert_ignoring_duplicates(conn: Connection, table: Table, *keys: str) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING, spelled for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
