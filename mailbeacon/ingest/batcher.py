"""Group commit: concurrent requests share one durable write.

Each request appends its event and waits; one writer takes everything pending,
commits it in one transaction on a worker thread, then wakes all of them.
While one batch commits the next one gathers; a writer woken from idle first
waits `window` (2 ms) so that requests already arriving share its commit (on
a busy core a commit started at once would carry a batch of one).

A batch the store refuses, or does not commit within `commit_deadline` (a frozen
PostgreSQL), goes to the fsynced spool instead, and while a commit is stuck later
batches go straight there. If the spool fails too (disk full), the events are
held in memory and retried, oldest first (issue #12). A request is answered once
its event is stored, spooled or held; `done(False)` only for an event that did not
fit in memory either, counted lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mailbeacon.events import RawEvent
from mailbeacon.ingest.memory import MEMORY_BYTES, MEMORY_EVENTS, HeldEvents
from mailbeacon.ingest.spool import Spool

log = logging.getLogger(__name__)

AppendEvents = Callable[[Sequence[RawEvent]], int]
Done = Callable[[bool], None]

COMMIT_DEADLINE_S = 1.5
"""A click's budget is a few seconds; past this the batch is spooled and answered (issue #12)."""
STOP_WAIT_S = 10.0
"""How long stop() waits for a store call still running (a replay, a stuck commit) before leaving it."""


class IngestStats:
    """Counters the metrics endpoint reads."""

    def __init__(self) -> None:
        self.events_stored = 0
        self.events_spooled = 0
        self.events_replayed = 0
        self.events_lost = 0
        """Events that could not be kept anywhere: refused by a full memory buffer, or held at shutdown."""
        self.batches = 0
        self.batch_events = 0
        self.largest_batch = 0
        self.commit_timeouts = 0
        self.spool_write_failures = 0
        self.replay_failures = 0


class Batcher:
    def __init__(
        self,
        append: AppendEvents,
        spool: Spool,
        unavailable: tuple[type[BaseException], ...],
        max_batch: int = 2000,
        replay_every: float = 1.0,
        window: float = 0.002,
        commit_deadline: float | None = COMMIT_DEADLINE_S,
        memory: HeldEvents | None = None,
        retry_every: float = 0.25,
    ) -> None:
        self._append = append
        self._spool = spool
        self._unavailable = unavailable
        self._max_batch = max_batch
        self._replay_every = replay_every
        self._window = window
        self._commit_deadline = commit_deadline
        self._memory = memory if memory is not None else HeldEvents(MEMORY_EVENTS, MEMORY_BYTES)
        self._retry_every = retry_every
        self._retry_at = 0.0
        self._pending: list[tuple[RawEvent, Done]] = []
        self._wake = asyncio.Event()
        # Store calls run one at a time on their thread; the spool has its own, so that a
        # commit stuck in a frozen database never holds up a batch on its way to the spool.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbeacon-commit")
        self._spool_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbeacon-spool")
        self._store_call: asyncio.Future[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.stats = IngestStats()
        self.last_commit = 0.0
        """time.monotonic() of the latest batch: background work backs off while it is recent."""
        self.store_failing = False
        """The latest store call failed or passed its deadline (cleared by the next one that succeeds)."""
        self.spool_unwritable = False
        """The latest spool append failed (cleared by the next one, or a probe, that succeeds)."""
        self.replay_error: str | None = None
        """Why the latest replay failed, when not because the store is unavailable."""

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._writer()), asyncio.create_task(self._replayer())]

    async def stop(self) -> None:
        """Make everything already accepted durable (or count it lost), then stop."""
        self._closing = True
        self._wake.set()
        writer, replayer = self._tasks
        replayer.cancel()
        await asyncio.gather(writer, replayer, return_exceptions=True)
        call = self._store_call
        if call is not None and not call.done():
            finished, _ = await asyncio.wait((call,), timeout=STOP_WAIT_S)
            if not finished:
                log.warning("a store call is still running at shutdown; what it carries is in the spool too")
        self._executor.shutdown(wait=call is None or call.done())
        self._spool_executor.shutdown(wait=True)

    async def record(self, event: RawEvent) -> bool:
        """Wait until `event` is kept (stored, spooled or held in memory); False if it could not be."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(kept: bool) -> None:
            if not future.done():
                future.set_result(kept)

        self.submit(event, done)
        return await future

    def submit(self, event: RawEvent, done: Done) -> None:
        """Queue `event`; `done(kept)` runs on the event loop once it is stored, spooled or held, or refused."""
        self._pending.append((event, done))
        self._wake.set()

    @property
    def spool_depth(self) -> int:
        return self._spool.depth()

    @property
    def spool_quarantined(self) -> int:
        return self._spool.quarantined

    @property
    def events_in_memory(self) -> int:
        return len(self._memory)

    @property
    def losing_events(self) -> bool:
        """The memory buffer is full: events are refused (clicks shed, opens lost) until it drains."""
        return self._memory.refused > 0

    # the writer

    async def _writer(self) -> None:
        while True:
            try:
                if self._pending:
                    await self._write_pending()
                if self._memory and time.monotonic() >= self._retry_at:
                    await self._retry_held()
                    continue
                if self._pending:
                    continue
                if self._closing:
                    break
                await self._idle()
            except Exception:  # noqa: BLE001 - the writer must outlive any one batch
                log.exception("the ingest writer failed; it goes on")
                await asyncio.sleep(self._retry_every)
        await self._drain_held()

    async def _idle(self) -> None:
        self._wake.clear()
        if self._memory:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(self._retry_at - time.monotonic(), 0.0))
        else:
            await self._wake.wait()
        if self._window and self._pending:
            # Let the requests already on their way join: on a busy core a commit
            # started for the first arrival would run with a batch of one.
            await asyncio.sleep(self._window)

    async def _write_pending(self) -> None:
        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        self.last_commit = time.monotonic()
        if self._memory:
            self._hold(batch)  # older events wait in memory: these queue behind them, in order
            return
        events = [event for event, _ in batch]
        if not await self._make_durable(events):
            self._hold(batch)
            return
        self._count_batch(len(events))
        for _, done in batch:
            _answer(done, True)

    def _hold(self, batch: list[tuple[RawEvent, Done]]) -> None:
        memory = self._memory
        if not memory:
            log.error("neither the store nor the spool can take events: holding them in memory")
            self._retry_at = time.monotonic() + self._retry_every
        refused_before = memory.refused
        for event, done in batch:
            kept = memory.hold(event)
            if not kept:
                self.stats.events_lost += 1
            _answer(done, kept)
        if memory.refused and not refused_before:
            log.error(
                "the memory buffer is full (%d events, %d bytes): clicks are shed with 503, opens lost",
                len(memory), memory.bytes,
            )

    async def _retry_held(self) -> None:
        events = self._memory.oldest(self._max_batch)
        if not await self._make_durable(events):
            self._retry_at = time.monotonic() + self._retry_every
            return
        self._memory.release(len(events))
        self._count_batch(len(events))
        if not self._memory:
            log.warning("the events held in memory are all durable now")

    async def _drain_held(self) -> None:
        """At shutdown: a last try for the events held in memory; what still finds no place is lost."""
        while self._memory:
            events = self._memory.oldest(self._max_batch)
            if not await self._make_durable(events):
                break
            self._memory.release(len(events))
        if self._memory:
            lost = len(self._memory)
            self.stats.events_lost += lost
            self._memory.release(lost)
            log.error("stopped with %d events that neither the store nor the spool could take: they are lost", lost)

    async def _make_durable(self, events: list[RawEvent]) -> bool:
        """Commit `events`, or spool them if the store fails, is slow or is stuck; False if neither worked."""
        loop = asyncio.get_running_loop()
        call = self._store_call
        if call is None or call.done():
            call = self._store_call = loop.run_in_executor(self._executor, self._store, events)
            finished, _ = await asyncio.wait((call,), timeout=self._commit_deadline)
            if finished:
                error = call.exception()
                if error is None:
                    self.store_failing = False
                    return True
                self._store_failed(error, len(events))
            else:
                # issue #12: a frozen database must not hold the answers; the store ignores
                # uids it has, so a commit that lands late plus the replay keep each event once.
                self.stats.commit_timeouts += 1
                self.store_failing = True
                log.warning(
                    "the store did not commit %d events within %.1f s: spooling them, and the next batches "
                    "until it returns", len(events), self._commit_deadline,
                )
                call.add_done_callback(self._late_commit)
        try:
            await loop.run_in_executor(self._spool_executor, self._spool.append, events)
        except Exception as exc:  # noqa: BLE001 - OSError mostly (disk full); the events are held instead
            self.stats.spool_write_failures += 1
            if not self.spool_unwritable:
                log.error("the spool %s cannot take %d events: %s", self._spool.path, len(events), exc)
            self.spool_unwritable = True
            return False
        self.stats.events_spooled += len(events)
        self.spool_unwritable = False
        return True

    def _store(self, events: list[RawEvent]) -> None:
        self._append(events)
        self.stats.events_stored += len(events)

    def _store_failed(self, error: BaseException, count: int) -> None:
        self.store_failing = True
        if isinstance(error, self._unavailable):
            log.warning("store unavailable (%s): spooling %d events", error, count)
        else:
            log.error("store failed unexpectedly: spooling %d events", count, exc_info=error)

    def _late_commit(self, call: asyncio.Future[Any]) -> None:
        if call.cancelled():
            return
        error = call.exception()  # retrieved here, or asyncio would report it as never retrieved
        if error is None:
            self.store_failing = False
            log.warning("a commit past its deadline returned after all (its events were spooled too: stored once)")
        else:
            log.warning("a commit past its deadline failed: %s (its events are in the spool)", error)

    def _count_batch(self, count: int) -> None:
        stats = self.stats
        stats.batches += 1
        stats.batch_events += count
        stats.largest_batch = max(stats.largest_batch, count)

    # the replayer

    async def _replayer(self) -> None:
        while True:
            await asyncio.sleep(self._replay_every)
            try:
                await self._replay_spool()
            except Exception as exc:  # noqa: BLE001 - the replayer never dies (issue #12): it says so and retries
                self.stats.replay_failures += 1
                self.replay_error = f"{type(exc).__name__}: {exc}"
                log.error("replaying the spool %s failed; trying again", self._spool.path, exc_info=exc)

    async def _replay_spool(self) -> None:
        loop = asyncio.get_running_loop()
        if self.spool_unwritable and await loop.run_in_executor(self._spool_executor, self._spool.is_writable):
            self.spool_unwritable = False
            log.warning("the spool %s is writable again", self._spool.path)
        call = self._store_call
        if call is not None and not call.done():
            return  # a commit is stuck: the spool waits, the batches go round it
        if not self._spool.pending():
            self.replay_error = None
            return
        call = self._store_call = loop.run_in_executor(self._executor, self._replay)
        try:
            await call
        except self._unavailable as exc:
            self.store_failing = True
            log.debug("the spool waits for the store: %s", exc)

    def _replay(self) -> None:
        # Counted here, in the thread, the moment the spool is in the store: the task
        # awaiting this may be cancelled by stop() before it would resume.
        replayed = self._spool.replay(self._append)
        self.stats.events_replayed += replayed
        self.replay_error = None
        self.store_failing = False
        log.info("replayed %d spooled events into the store", replayed)


def _answer(done: Done, kept: bool) -> None:
    try:
        done(kept)
    except Exception:  # noqa: BLE001 - one broken connection must not stall the others
        log.exception("answering a recorded request failed")
