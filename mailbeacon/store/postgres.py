"""PostgreSQL through psycopg 3: a pre-pinged pool, bounded connections, advisory locks.

A stopped server must fail a write within seconds so the hot path can spool
instead; many processes may write, so ordering needs advisory locks. Every
connection is bounded (issue #12): a connect timeout, TCP keepalives and a TCP
user timeout notice a peer that vanished, and a statement timeout ends a statement
the server cannot finish. A server frozen outright (SIGSTOP) still ACKs on the
kernel's behalf; the batcher's commit deadline is what bounds the answer then.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Connection, create_engine, func, select
from sqlalchemy.engine import URL

from mailbeacon.store.backend import Backend, Lock

CONNECT_TIMEOUT_S = 2
STATEMENT_TIMEOUT_MS = 30_000
"""No statement of the server takes this long; migrations and `reclassify`'s reset lift it (`Backend.lift_timeouts`)."""
SOCKET_OPTIONS = {
    # libpq connection parameters: idle 5 s, then 3 probes 2 s apart
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # ms that sent data may stay unacknowledged (RFC 5482)
}


def open_postgres(url: URL) -> Backend:
    engine = create_engine(
        bounded(url).set(drivername="postgresql+psycopg"),
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, **SOCKET_OPTIONS},
    )
    return Backend(engine=engine, writer=contextlib.nullcontext(), hold=_advisory_lock, lift_timeouts=_no_statement_timeout)


def bounded(url: URL) -> URL:
    """`url` with the statement timeout added to the `options` it may carry already (a search_path, say)."""
    given = url.query.get("options", ())
    options = [given] if isinstance(given, str) else list(given)
    return url.update_query_dict({"options": " ".join([*options, f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"])})


def _advisory_lock(conn: Connection, lock: Lock) -> None:
    # Released by COMMIT/ROLLBACK, after the commit is visible to other sessions.
    conn.execute(select(func.pg_advisory_xact_lock(int(lock))))


def _no_statement_timeout(conn: Connection) -> None:
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # until this transaction ends
