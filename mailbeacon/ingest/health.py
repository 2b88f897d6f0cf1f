"""What /healthz says about the promise that an answered event is kept (issue #12).

200 while every answered event is durable somewhere (the store, or the spool while the
store is down); 503 while events wait only in memory, are being lost, or would be if one
came now (store and spool both failing): a load balancer then sends readers elsewhere.
The store's ping runs on a thread of its own, one at a time, and is awaited within a bound.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass

from mailbeacon.ingest.batcher import Batcher

STORE_FAILING = "store_failing"
"""The store does not answer its ping in time, or its latest write failed or passed its deadline."""
SPOOL_UNWRITABLE = "spool_unwritable"
REPLAY_STUCK = "replay_stuck"
"""The latest replay of the spool failed for a reason other than the store being down."""
EVENTS_IN_MEMORY = "events_in_memory"
LOSING_EVENTS = "losing_events"
"""The memory buffer is full: clicks are shed with 503 and opens are lost until it drains."""
PING_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class Health:
    status_code: int
    body: dict[str, object]


def assess(batcher: Batcher, store_answers: bool) -> Health:
    store_ok = store_answers and not batcher.store_failing
    held = batcher.events_in_memory
    found = {
        STORE_FAILING: not store_ok,
        SPOOL_UNWRITABLE: batcher.spool_unwritable,
        REPLAY_STUCK: batcher.replay_error is not None,
        EVENTS_IN_MEMORY: held > 0,
        LOSING_EVENTS: batcher.losing_events,
    }
    reasons = [reason for reason, present in found.items() if present]
    durable = not held and not batcher.losing_events and (store_ok or not batcher.spool_unwritable)
    body: dict[str, object] = {
        "status": "degraded" if reasons else "ok",
        "store": store_ok,
        "spool_depth": batcher.spool_depth,
        "events_in_memory": held,
        "reasons": reasons,
    }
    return Health(200 if durable else 503, body)


class BoundedPing:
    """`ping()` on a daemon thread, one at a time; a ping that has not answered within `timeout` counts as failed.

    A frozen database would otherwise hold every health check (and a pool
    connection and a thread each) until it came back.
    """

    def __init__(self, ping: Callable[[], bool], timeout: float = PING_TIMEOUT_S) -> None:
        self._ping = ping
        self._timeout = timeout
        self._running: asyncio.Future[bool] | None = None

    async def __call__(self) -> bool:
        running = self._running
        if running is None or running.done():
            running = self._running = self._start()
        finished, _ = await asyncio.wait((running,), timeout=self._timeout)
        return bool(finished) and running.result()

    def _start(self) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()

        def settle(ok: bool) -> None:
            if not future.done():
                future.set_result(ok)

        def run() -> None:
            try:
                ok = bool(self._ping())
            except Exception:  # noqa: BLE001 - a health check reports, it does not raise
                ok = False
            try:
                loop.call_soon_threadsafe(settle, ok)
            except RuntimeError:  # the loop closed while the database was frozen
                pass

        # A daemon thread: one stuck in a frozen database must not keep the process from exiting.
        threading.Thread(target=run, name="mailbeacon-ping", daemon=True).start()
        return future
