"""The outbound worker: takes due copies from the store's queue and hands them to the transport.

Several senders run at once, each with its own transport (its own upstream
connection). A copy is claimed with a lease before it is sent and finished
(sent or bounced) after; a crash between the two sends it again after the
lease, so a copy may reach the upstream twice but never zero times.
Temporary failures are retried with exponential backoff and jitter until
`give_up_after`, then bounced.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailbeacon.outbound.transports import Outcome, Result, Transport
from mailbeacon.store import Queued, Store, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first: float = 60.0
    """Seconds before the first retry; each later wait doubles."""
    longest: float = 3600.0
    give_up_after: float = 5 * 86400.0
    """A copy still failing this long after it was queued is bounced."""

    def delay(self, attempts: int) -> float:
        base = min(self.first * 2.0 ** min(attempts, 30), self.longest)
        return base * random.uniform(0.8, 1.2)


class OutboundStats:
    def __init__(self) -> None:
        self.sent = 0
        self.retried = 0
        self.bounced = 0


class OutboundWorker:
    def __init__(
        self,
        store: Store,
        transport_factory: Callable[[], Transport],
        *,
        senders: int = 4,
        batch: int = 20,
        lease: float = 300.0,
        retry: RetryPolicy = RetryPolicy(),
        idle_poll: float = 1.0,
    ) -> None:
        self._store = store
        self._factory = transport_factory
        self._senders = senders
        self._batch = batch
        self._lease = lease
        self._retry = retry
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._claim_lock = asyncio.Lock()
        self.stats = OutboundStats()

    def wake(self) -> None:
        """New copies are queued: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sender(n)) for n in range(self._senders)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _sender(self, number: int) -> None:
        transport = self._factory()
        try:
            while True:
                try:
                    claimed = await self._claim()
                except StoreUnavailable as exc:
                    log.warning("outbound: cannot read the queue: %s", exc)
                    await asyncio.sleep(self._idle_poll)
                    continue
                if not claimed:
                    await self._idle()
                    continue
                for queued in claimed:
                    outcome = await asyncio.to_thread(transport.send, queued.mail_from, queued.rcpt_to, queued.body)
                    await self._record(queued, outcome)
        finally:
            await asyncio.to_thread(transport.close)

    async def _claim(self) -> list[Queued]:
        async with self._claim_lock:  # one claim at a time in this process; the store orders processes
            return await asyncio.to_thread(self._store.claim_outbound, self._batch, self._lease)

    async def _idle(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), self._idle_poll)
        except TimeoutError:
            pass

    async def _record(self, queued: Queued, outcome: Outcome) -> None:
        """Write the outcome; while the store is down keep trying (the lease keeps others off the copy)."""
        while True:
            try:
                await asyncio.to_thread(self._finish, queued, outcome)
                return
            except StoreUnavailable as exc:
                log.warning("outbound: cannot record delivery %s: %s", queued.delivery_key.hex(), exc)
                await asyncio.sleep(self._idle_poll)

    def _finish(self, queued: Queued, outcome: Outcome) -> None:
        now = time.time()
        if outcome.result is Result.SENT:
            self._store.outbound_sent(queued.id, outcome.reply, accepted_at=now)
            self.stats.sent += 1
        elif outcome.result is Result.BOUNCED:
            self._store.outbound_bounced(queued.id, outcome.reply)
            self.stats.bounced += 1
            log.info("outbound: delivery %s bounced: %s", queued.delivery_key.hex(), outcome.reply)
        elif now - queued.queued_at > self._retry.give_up_after:
            self._store.outbound_bounced(queued.id, f"gave up after {queued.attempts + 1} attempts: {outcome.reply}")
            self.stats.bounced += 1
        else:
            self._store.outbound_retry(queued.id, now + self._retry.delay(queued.attempts), outcome.reply)
            self.stats.retried += 1
            log.info("outbound: delivery %s will be retried: %s", queued.delivery_key.hex(), outcome.reply)
