"""The Store's plumbing: connections, transactions, locks, and driver errors turned into two outcomes.

Every group of named queries (the other modules here) builds on `StoreBase`;
`mailbeacon.store.Store` is all of them in one class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, exc, select
from sqlalchemy.engine import URL

from mailbeacon.errors import MailbeaconError
from mailbeacon.store.backend import WRITE, Backend, Lock
from mailbeacon.store.migrations import apply_missing


class StoreUnavailable(MailbeaconError):
    """The database cannot take the request now (locked, down, disk full, not migrated); retry later."""


class StoreConflict(MailbeaconError):
    """A write contradicts stored data: a unique key is taken or a referenced row is missing."""


class DuplicateUser(StoreConflict):
    """A user with this email (or API key) exists already."""


class StoreBase:
    """Connections, transactions, locks and error translation, shared by every group of queries."""

    def __init__(self, backend: Backend, name: str) -> None:
        self._backend = backend
        self._name = name
        self._closed = False

    def __repr__(self) -> str:
        return f"<Store {self._name}>"

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks; safe to run again and from several processes.

        Returns the versions applied now (none when it was up to date)."""
        with self._translated("migrate"):
            return apply_missing(partial(self._write, Lock.MIGRATIONS, unbounded=True))

    def ping(self) -> bool:
        """True if the database answers a trivial query now; never raises."""
        try:
            with self._read() as conn:
                conn.execute(select(1)).scalar_one()
        except Exception:  # a health check reports, it does not raise
            return False
        return True

    def close(self) -> None:
        """Close pooled connections; later calls raise StoreUnavailable."""
        self._closed = True
        if self._backend.append_events is not None:
            with self._backend.writer:
                self._backend.append_events.close()
        self._backend.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self, lock: Lock | None = None, unbounded: bool = False) -> Iterator[Connection]:
        """A write transaction; `unbounded` for the few that may outlast the statement timeout (migrations)."""
        with self._backend.writer, self._connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                if unbounded:
                    self._backend.lift_timeouts(conn)
                if lock is not None:
                    self._backend.hold(conn, lock)
                yield conn

    def _connect(self) -> Connection:
        if self._closed:
            raise StoreUnavailable(f"{self._name}: the store is closed")
        return self._backend.engine.connect()

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Turn driver errors into the two outcomes callers handle, once, here."""
        try:
            yield
        except exc.IntegrityError as e:
            raise StoreConflict(f"{self._name}: cannot {action}: {_reason(e)}") from e
        except self._backend.driver_errors as e:
            raise StoreUnavailable(f"{self._name}: cannot {action}: {str(e).strip() or type(e).__name__}") from e
        except (exc.DBAPIError, exc.TimeoutError) as e:
            # Everything else the driver reports (locked, refused, disk full, no such
            # table) means the database cannot serve us now; callers retry or spool.
            raise StoreUnavailable(f"{self._name}: cannot {action}: {_reason(e)}") from e


def _reason(error: exc.SQLAlchemyError) -> str:
    original = error.orig if isinstance(error, exc.DBAPIError) else None
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(original or error).__name__


def describe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)
