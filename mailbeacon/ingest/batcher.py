"""Group commit: concurrent requests share one durable write.

Each request appends its event and waits; one writer takes everything pending,
commits it in one transaction on a worker thread, then wakes all of them.
While one batch commits the next one gathers; a writer woken from idle first
waits `window` (2 ms) so that requests already arriving share its commit (on
a busy core a commit started at once would carry a batch of one). If the store refuses the batch it
goes to the fsynced spool instead; either way a request is answered only once
its event is durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from mailbeacon.events import RawEvent
from mailbeacon.ingest.spool import Spool

log = logging.getLogger(__name__)

AppendEvents = Callable[[Sequence[RawEvent]], int]


class IngestStats:
    """Counters the metrics endpoint reads."""

    def __init__(self) -> None:
        self.events_stored = 0
        self.events_spooled = 0
        self.events_replayed = 0
        self.events_lost = 0
        self.batches = 0
        self.batch_events = 0
        self.largest_batch = 0


class Batcher:
    def __init__(
        self,
        append: AppendEvents,
        spool: Spool,
        unavailable: tuple[type[BaseException], ...],
        max_batch: int = 2000,
        replay_every: float = 1.0,
        window: float = 0.002,
    ) -> None:
        self._append = append
        self._spool = spool
        self._unavailable = unavailable
        self._max_batch = max_batch
        self._replay_every = replay_every
        self._window = window
        self._pending: list[tuple[RawEvent, Callable[[bool], None]]] = []
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbeacon-commit")
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.stats = IngestStats()
        self.last_commit = 0.0
        """time.monotonic() of the latest batch: background work backs off while it is recent."""

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._writer()), asyncio.create_task(self._replayer())]

    async def stop(self) -> None:
        """Commit everything already accepted, then stop."""
        self._closing = True
        self._wake.set()
        writer, replayer = self._tasks
        replayer.cancel()
        await asyncio.gather(writer, replayer, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def record(self, event: RawEvent) -> bool:
        """Wait until `event` is durable; False only if neither store nor spool took it."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(durable: bool) -> None:
            if not future.done():
                future.set_result(durable)

        self.submit(event, done)
        return await future

    def submit(self, event: RawEvent, done: Callable[[bool], None]) -> None:
        """Queue `event`; `done(durable)` runs on the event loop once it is stored or spooled."""
        self._pending.append((event, done))
        self._wake.set()

    @property
    def spool_depth(self) -> int:
        return self._spool.depth()

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                if self._window:
                    # Let the requests already on their way join: on a busy core a commit
                    # started for the first arrival would run with a batch of one.
                    await asyncio.sleep(self._window)
                continue
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            events = [event for event, _ in batch]
            try:
                durable = await loop.run_in_executor(self._executor, self._commit, events)
            except Exception:  # noqa: BLE001 - the writer must outlive any one batch
                log.exception("could not record %d events", len(events))
                self.stats.events_lost += len(events)
                durable = False
            for _, done in batch:
                try:
                    done(durable)
                except Exception:  # noqa: BLE001 - one broken connection must not stall the others
                    log.exception("answering a recorded request failed")

    def _commit(self, events: list[RawEvent]) -> bool:
        stats = self.stats
        try:
            self._append(events)
            stats.events_stored += len(events)
        except Exception as exc:  # noqa: BLE001 - whatever the store says, the events go to the spool
            if isinstance(exc, self._unavailable):
                log.warning("store unavailable (%s): spooling %d events", exc, len(events))
            else:
                log.exception("store failed unexpectedly: spooling %d events", len(events))
            try:
                self._spool.append(events)
            except OSError as spool_error:
                log.error("spool failed too (%s): %d events lost", spool_error, len(events))
                stats.events_lost += len(events)
                return False
            stats.events_spooled += len(events)
        self.last_commit = time.monotonic()
        stats.batches += 1
        stats.batch_events += len(events)
        stats.largest_batch = max(stats.largest_batch, len(events))
        return True

    async def _replayer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._replay_every)
            if self._spool.pending():
                try:
                    await loop.run_in_executor(self._executor, self._replay)
                except self._unavailable:
                    continue

    def _replay(self) -> None:
        # Counted here, in the thread, the moment the spool is in the store: the task
        # awaiting this may be cancelled by stop() before it would resume.
        replayed = self._spool.replay(self._append)
        self.stats.events_replayed += replayed
        log.info("replayed %d spooled events into the store", replayed)
