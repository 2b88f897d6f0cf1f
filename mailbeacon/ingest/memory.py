"""Events that neither the store nor the spool could take: held in memory, in order, within bounds.

Issue #12: with the disk full an answered event used to be dropped. Now it waits
here and is retried, oldest first, to the store and then the spool; past the
bounds (events and bytes) it is refused, and the hot path sheds or counts it lost.
A crash loses what is held, so /healthz answers 503 while anything is.
"""

from __future__ import annotations

import itertools
from collections import deque

from mailbeacon.events import RawEvent

MEMORY_EVENTS = 100_000
"""The default bound: at ~300 bytes an event, about 30 MB, and at 10,000 events/s ten seconds of traffic."""
MEMORY_BYTES = 64 * 1024 * 1024
EVENT_OVERHEAD = 300
"""Bytes an event costs beyond the text of its strings: the tuple, its bytes and str objects, a float."""


class HeldEvents:
    def __init__(self, max_events: int, max_bytes: int) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.bytes = 0
        self.refused = 0
        """Events that did not fit since the buffer was last empty: it is losing events."""
        self._events: deque[tuple[RawEvent, int]] = deque()

    def __len__(self) -> int:
        return len(self._events)

    def hold(self, event: RawEvent) -> bool:
        """Keep `event` after the others; False if it does not fit."""
        size = EVENT_OVERHEAD + len(event.user_agent) + len(event.url or "") + len(event.ip)
        if len(self._events) >= self.max_events or self.bytes + size > self.max_bytes:
            self.refused += 1
            return False
        self._events.append((event, size))
        self.bytes += size
        return True

    def oldest(self, count: int) -> list[RawEvent]:
        return [event for event, _ in itertools.islice(self._events, count)]

    def release(self, count: int) -> None:
        """Forget the `count` oldest events: they are durable now."""
        for _ in range(min(count, len(self._events))):
            self.bytes -= self._events.popleft()[1]
        if not self._events:
            self.refused = 0
