"""PostgreSQL through psycopg 3: a pre-pinged pool, a short connect timeout, advisory locks.

A stopped server must fail a write within seconds so the hot path can spool
instead; many processes may write, so ordering needs advisory locks.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Connection, create_engine, func, select
from sqlalchemy.engine import URL

from mailbeacon.store.backend import Backend, Lock

CONNECT_TIMEOUT_S = 2


def open_postgres(url: URL) -> Backend:
    engine = create_engine(
        url.set(drivername="postgresql+psycopg"),
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    return Backend(engine=engine, writer=contextlib.nullcontext(), hold=_advisory_lock)


def _advisory_lock(conn: Connection, lock: Lock) -> None:
    # Released by COMMIT/ROLLBACK, after the commit is visible to other sessions.
    conn.execute(select(func.pg_advisory_xact_lock(int(lock))))
