"""The outbound worker: takes due copies from the store's queue and hands them to the transport.

Several senders run at once, each with its own transport (its own upstream
connection): eight, because a sender mostly waits for the upstream's replies
(a campaign of 6,000 copies to a local aiosmtpd: 530/s with four, 710/s with
eight). A copy is claimed with a lease before it is sent and finished (sent
or bounced) after, the outcomes of copies sent meanwhile in one transaction;
a crash between the two sends it again after the lease, so a
copy may reach the upstream twice but never zero times.
Temporary failures are retried with exponential backoff and jitter until
`give_up_after`, then bounced. A sender starts no copy after the first half of
its claim's lease: with many nodes, another may claim it once the lease lapses
(issue #17), so the rest is handed back instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailbeacon.outbound.routing import MailboxTransports, Transports
from mailbeacon.outbound.transports import Outcome, Result, Transport
from mailbeacon.store import DeliveryOutcome, Queued, Store, StoreUnavailable
from mailbeacon.wording import many

log = logging.getLogger(__name__)

SEND_WITHIN = 0.5
"""The share of a claim's lease within which its copies may start: each send's timeout is a third of it."""


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
        senders: int = 8,
        batch: int = 20,
        lease: float = 300.0,
        retry: RetryPolicy = RetryPolicy(),
        idle_poll: float = 1.0,
        mailboxes: MailboxTransports | None = None,
    ) -> None:
        self._store = store
        self._factory = transport_factory
        self._mailboxes = mailboxes
        """A copy routed through its sender's connected mailbox goes out through that mailbox (issue #14)."""
        self._senders = senders
        self._batch = batch
        self._lease = lease
        self._retry = retry
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._claim_lock = asyncio.Lock()
        self._outcomes: list[tuple[DeliveryOutcome, Queued]] = []
        self._has_outcomes = asyncio.Event()
        self.stats = OutboundStats()

    def wake(self) -> None:
        """New copies are queued: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sender(n)) for n in range(self._senders)]
        self._recorder = asyncio.create_task(self._record_all())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._recorder is not None:
            self._recorder.cancel()
            await asyncio.gather(self._recorder, return_exceptions=True)
        try:
            await asyncio.to_thread(self._record, self._take_outcomes())  # what is not recorded is sent again
        except StoreUnavailable as exc:
            log.warning("outbound: outcomes not recorded at shutdown (sent again after the lease): %s", exc)

    async def _sender(self, number: int) -> None:
        transports = Transports(self._factory, self._mailboxes)
        try:
            while True:
                until = time.monotonic() + self._lease * SEND_WITHIN  # from before the claim: on the safe side
                try:
                    claimed = await self._claim()
                except StoreUnavailable as exc:
                    log.warning("outbound: cannot read the queue: %s", exc)
                    await asyncio.sleep(self._idle_poll)
                    continue
                if not claimed:
                    await self._idle()
                    continue
                for n, queued in enumerate(claimed):
                    if time.monotonic() > until:
                        await self._hand_back(claimed[n:])
                        break
                    transport: Transport | None = None
                    try:
                        transport = (  # only a mailbox's copy reads the store to find its transport
                            transports.for_copy(queued) if queued.mailbox_id is None
                            else await asyncio.to_thread(transports.for_copy, queued)
                        )
                        outcome = await asyncio.to_thread(transport.send, queued.mail_from, queued.rcpt_to, queued.body,
                                                        queued.delivery_key)
                    except Exception as exc:  # a transport's bug must not end this sender: the copy is retried
                        log.exception("outbound: delivery %s failed unexpectedly", queued.delivery_key.hex())
                        if transport is not None:
                            await asyncio.to_thread(transport.close)
                        outcome = Outcome(Result.RETRY, f"{type(exc).__name__}: {exc}")
                    self._outcomes.append((self._decide(queued, outcome), queued))
                    self._has_outcomes.set()
        finally:
            await asyncio.to_thread(transports.close)

    async def _claim(self) -> list[Queued]:
        async with self._claim_lock:  # one claim at a time in this process; the store orders processes
            return await asyncio.to_thread(self._store.claim_outbound, self._batch, self._lease)

    async def _hand_back(self, copies: list[Queued]) -> None:
        try:
            await asyncio.to_thread(self._store.release_outbound, [queued.id for queued in copies])
        except StoreUnavailable as exc:
            log.warning("outbound: %d copies wait for their lease to end: %s", len(copies), exc)

    async def _idle(self) -> None:
        """Wait for a wake-up, the next copy due (a campaign's rate spaces them) or the poll interval."""
        self._wake.clear()
        wait = self._idle_poll
        try:
            due = await asyncio.to_thread(self._store.next_claimable_at)
        except StoreUnavailable:
            due = None
        if due is not None:
            wait = min(wait, max(0.01, due - time.time()))
        try:
            await asyncio.wait_for(self._wake.wait(), wait)
        except TimeoutError:
            pass

    async def _record_all(self) -> None:
        """Record outcomes as they come, in groups: whatever arrived while the last transaction ran goes
        into the next one, so a busy queue commits (and fsyncs) once for many copies, an idle one at once.

        The lease covers the gap: a crash before a group commits sends its copies again."""
        while True:
            await self._has_outcomes.wait()
            outcomes = self._take_outcomes()
            while True:
                try:
                    await asyncio.to_thread(self._record, outcomes)
                    break
                except StoreUnavailable as exc:
                    log.warning("outbound: cannot record %d outcomes: %s", len(outcomes), exc)
                    await asyncio.sleep(self._idle_poll)

    def _take_outcomes(self) -> list[tuple[DeliveryOutcome, Queued]]:
        outcomes, self._outcomes = self._outcomes, []
        self._has_outcomes.clear()
        return outcomes

    def _record(self, outcomes: list[tuple[DeliveryOutcome, Queued]]) -> None:
        if not outcomes:
            return
        self._store.record_outbound([outcome for outcome, _ in outcomes])
        for outcome, queued in outcomes:
            if outcome.status == "sent":
                self.stats.sent += 1
            elif outcome.status == "bounced":
                self.stats.bounced += 1
            else:
                self.stats.retried += 1
            _log_outcome(outcome, queued)

    def _decide(self, queued: Queued, outcome: Outcome) -> DeliveryOutcome:
        now = time.time()
        if outcome.result is Result.SENT:
            return DeliveryOutcome(queued.id, "sent", outcome.reply, accepted_at=now)
        if outcome.result is Result.BOUNCED:
            return DeliveryOutcome(queued.id, "bounced", outcome.reply)
        if now - queued.queued_at > self._retry.give_up_after:
            gave_up = f"gave up after {many(queued.attempts + 1, 'attempt')}: {outcome.reply}"
            return DeliveryOutcome(queued.id, "bounced", gave_up)
        due = now + self._retry.delay(queued.attempts)
        return DeliveryOutcome(queued.id, "retry", outcome.reply, next_attempt_at=due)


_SAID = {"sent": "delivered", "bounced": "bounced", "retry": "will be retried"}


def _log_outcome(outcome: DeliveryOutcome, queued: Queued) -> None:
    """One line per delivery attempt, with the upstream's reply: what an operator greps for."""
    log.info(
        "outbound: copy %d %s to %s (attempt %d): %s",
        queued.id, _SAID.get(outcome.status, outcome.status), ", ".join(queued.rcpt_to), queued.attempts + 1,
        outcome.reply,
        extra={"copy_id": queued.id, "delivery": queued.delivery_key.hex(), "status": outcome.status,
               "recipients": queued.rcpt_to, "reply": outcome.reply, "attempt": queued.attempts + 1},
    )
