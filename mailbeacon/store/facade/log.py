"""The events log and its readers: appending, reading in id order, the derived feed."""

from __future__ import annotations

import time
from collections.abc import Sequence

from mailbeacon.events import RawEvent
from mailbeacon.store.activity import (
    Derive,
    load_batch,
    log_end,
    position_of,
    reset,
    save_batch,
)
from mailbeacon.store.backend import Lock
from mailbeacon.store.feed import FeedFilter, FeedItem, select_feed, select_feed_after
from mailbeacon.store.events import EventRow, count_events, event_params, insert_events, select_events_after
from mailbeacon.store.messages import insert_message
from mailbeacon.store.facade.base import StoreBase, StoreUnavailable


class LogQueries(StoreBase):
    def append_events(self, events: Sequence[RawEvent]) -> int:
        """Store a batch in one transaction; returns how many were new (a replayed uid is stored once)."""
        if not events:
            return 0
        action = f"store {len(events)} events"
        append = self._backend.append_events
        if append is not None:
            with self._translated(action), self._backend.writer:
                if self._closed:
                    raise StoreUnavailable(f"{self._name}: the store is closed")
                return append(event_params(events))
        with self._translated(action), self._write(Lock.EVENT_LOG) as conn:
            return insert_events(conn, events)

    def events_after(self, cursor: int, limit: int, user_id: int | None) -> list[EventRow]:
        """Up to `limit` events with id > cursor, in id order; user_id None means all (admin)."""
        with self._translated("read events"), self._read() as conn:
            return select_events_after(conn, cursor, limit, user_id)

    def count_events(self) -> int:
        with self._translated("count events"), self._read() as conn:
            return count_events(conn)

    def record_message(
        self,
        user_id: int | None,
        sender: str | None,
        subject: str | None,
        message_id_header: str | None,
        deliveries: Sequence[tuple[bytes, str]],
        links: Sequence[tuple[int, str]],
        utm: str | None = None,
    ) -> int:
        """Store a message, its (delivery_key, recipient) pairs and (idx, url) links at once; returns its id."""
        with self._translated("record a message"), self._write() as conn:
            return insert_message(
                conn,
                user_id=user_id,
                sender=sender,
                subject=subject,
                message_id_header=message_id_header,
                utm=utm,
                delivery_rows=deliveries,
                link_rows=links,
                now=time.time(),
            )

    def advance_reader(self, reader: str, limit: int, derive: Derive) -> int:
        """Derive from the next `limit` events after the reader's cursor; how many (0: caught up).

        The derivation runs outside any transaction; its results are written, with the
        cursor, only if no other process advanced the reader meanwhile (then it returns
        -1 and the caller simply steps again).
        """
        with self._translated(f"run reader {reader}"):
            with self._read() as conn:
                position, batch = load_batch(conn, reader, limit)
            if batch is None:
                return 0
            verdicts = derive(batch)
            with self._write(Lock.PIPELINE) as conn:
                if not save_batch(conn, reader, position, batch, verdicts):
                    return -1
            return len(batch.events)

    def feed(self, where: FeedFilter, before: int | None = None, limit: int = 50) -> list[FeedItem]:
        """The activity feed, newest first, before the cursor `before` (an event id)."""
        with self._translated("read the feed"), self._read() as conn:
            return select_feed(conn, where, before, limit)

    def feed_after(self, after: int, limit: int = 500, user_ids: Sequence[int] | None = None) -> list[FeedItem]:
        """Feed items after `after` in log order, up to what the classify reader has judged."""
        with self._translated("read the feed"), self._read() as conn:
            return select_feed_after(conn, after, position_of(conn, "classify"), limit, user_ids)

    def reset_reader(self, reader: str) -> None:
        # Every event of the log is updated: it may take longer than the statement timeout (issue #12).
        with self._translated(f"reset reader {reader}"), self._write(Lock.PIPELINE, unbounded=True) as conn:
            reset(conn, reader)

    def reader_position(self, reader: str) -> int:
        with self._translated("read a cursor"), self._read() as conn:
            return position_of(conn, reader)

    def last_event_id(self) -> int:
        with self._translated("read the log's end"), self._read() as conn:
            return log_end(conn)
