"""SQLite: one file in WAL mode, durable on commit, one writer at a time, failing fast when locked.

Readers share a pool and never block the writer. A write takes the in-process lock, then
BEGIN IMMEDIATE; if another process holds the database it fails after BUSY_TIMEOUT_MS.
"""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import ConnectionPoolEntry

from mailbeacon.store.backend import WRITE, Backend, Lock

BUSY_TIMEOUT_MS = 200

PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",  # WAL + NORMAL may lose the last commits on power loss
    "PRAGMA foreign_keys = ON",
)


def open_sqlite(url: URL) -> Backend:
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=5,
        max_overflow=10,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        # pysqlite's implicit BEGIN is deferred and skips DDL; take over transaction
        # control (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a busy database fails here, before
        # any row of the batch is written, rather than at COMMIT.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    # Threads of this process queue on the lock instead of failing on each other's
    # BEGIN IMMEDIATE after the short busy timeout; BEGIN IMMEDIATE serialises processes.
    return Backend(engine=engine, writer=threading.Lock(), hold=_no_lock)


def _no_lock(conn: Connection, lock: Lock) -> None:
    """Writers are serial already."""
