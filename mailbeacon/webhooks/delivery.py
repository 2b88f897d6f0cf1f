"""The delivery worker: claims due outbox messages and POSTs them, signed, to their endpoints.

A 2xx answer delivers. `410 Gone` turns the endpoint off (its pending messages
become disabled, redeliverable by hand once it is enabled again). Anything else
(another status, a redirect, no answer within the timeout) is retried with
exponential backoff and jitter until the retry window, counted from the first
failed attempt, ends; then the message is failed. Claims carry a lease, so a
server killed mid-delivery sends the message again after the lease; a server
stopped cleanly hands its claims back at once. Connections go only where the
server's `Destinations` allow (issue #12); of an answer only its status line is
kept, never its body. No attempt outlasts its claim (issue #17): with many nodes,
another one may claim the message once it lapses, and two attempts at once would
reach the receiver twice for one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

import httpx

from mailbeacon import __version__
from mailbeacon.store import DueWebhook, Store, StoreUnavailable, WebhookAttempt
from mailbeacon.store.webhooks import DELIVERED, DISABLED, FAILED, PENDING, RESPONSE_KEPT
from mailbeacon.webhooks.destinations import Destinations
from mailbeacon.webhooks.guarded import GuardedTransport, RefusedConnect
from mailbeacon.webhooks.payloads import iso
from mailbeacon.webhooks.signing import sign

log = logging.getLogger(__name__)

USER_AGENT = f"mailbeacon-webhooks/{__version__}"
CLAIM_MARGIN = 2.0
"""Seconds of a claim kept unused: recording the attempt, and clocks of nodes a little apart."""
SHORTEST_ATTEMPT = 1.0
"""An attempt gets at least this long; with less of its claim left, the message is handed back unsent."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits after the 1st, 2nd, ... failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, each ±20 %,
    while within `window` of the first failure (seven or eight attempts in 24 hours)."""

    first: float = 5.0
    """The first wait; the later ones scale with it (tests shorten them all)."""
    window: float = 24 * 3600.0
    SCHEDULE = (1, 60, 360, 1440, 3600, 7200)
    """Multiples of `first`."""

    def delay(self, failures: int) -> float:
        """The wait after the `failures + 1`-th failed attempt."""
        step = self.SCHEDULE[min(failures, len(self.SCHEDULE) - 1)]
        return self.first * step * random.uniform(0.8, 1.2)


class WebhookStats:
    def __init__(self) -> None:
        self.delivered = 0
        self.retried = 0
        self.failed = 0
        self.disabled = 0


class WebhookWorker:
    def __init__(
        self,
        store: Store,
        *,
        backoff: Backoff = Backoff(),
        senders: int = 4,
        batch: int = 4,
        timeout: float = 10.0,
        lease: float | None = None,
        idle_poll: float = 1.0,
        destinations: Destinations = Destinations(),
    ) -> None:
        """`lease` defaults to what a whole batch may take plus a margin, so no claim lapses mid-delivery."""
        self._store = store
        self._backoff = backoff
        self._senders = senders
        self._batch = batch
        self._timeout = timeout
        self._lease = lease if lease is not None else batch * timeout + 20.0
        self._idle_poll = idle_poll
        self._destinations = destinations
        self._wake = asyncio.Event()
        self._claim_lock = asyncio.Lock()
        self._held: set[int] = set()
        """Outbox rows claimed here and not yet recorded: handed back on stop."""
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self.stats = WebhookStats()

    def wake(self) -> None:
        """Messages were queued: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        # No redirects: a receiver that moved must be re-registered, and a 3xx is a failed attempt.
        self._client = httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, transport=GuardedTransport(self._destinations),
            headers={"user-agent": USER_AGENT}, trust_env=False,
        )
        self._tasks = [asyncio.create_task(self._sender()) for _ in range(self._senders)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._held:
            try:
                await asyncio.to_thread(self._store.release_webhooks, sorted(self._held))
            except StoreUnavailable as exc:
                log.warning("webhooks: claims kept until their lease ends: %s", exc)
            self._held.clear()
        if self._client is not None:
            await self._client.aclose()

    async def deliver_due(self) -> int:
        """Claim and deliver what is due now, once; how many were attempted (for tests and tools)."""
        until = time.monotonic() + self._lease - CLAIM_MARGIN  # counted from before the claim: on the safe side
        claimed = await self._claim()
        for n, due in enumerate(claimed):
            left = until - time.monotonic()
            if left < SHORTEST_ATTEMPT:  # the rest would outlast the claim: another claim sends them
                rest = [later.id for later in claimed[n:]]
                await asyncio.to_thread(self._store.release_webhooks, rest)
                self._held.difference_update(rest)
                return n
            await self._deliver(due, min(self._timeout, left))
        return len(claimed)

    async def _sender(self) -> None:
        while True:
            try:
                attempted = await self.deliver_due()
            except StoreUnavailable as exc:
                log.warning("webhooks: cannot read the outbox: %s", exc)
                await asyncio.sleep(self._idle_poll)
                continue
            except Exception:  # noqa: BLE001 - one bad message must not stop the sender for good
                log.exception("webhooks: a delivery failed; its claim lapses and it is tried again")
                await asyncio.sleep(self._idle_poll)
                continue
            if not attempted:
                await self._idle()

    async def _claim(self) -> list[DueWebhook]:
        async with self._claim_lock:  # one claim at a time in this process; the store orders processes
            claimed = await asyncio.to_thread(self._store.claim_webhooks, self._batch, self._lease)
        self._held.update(due.id for due in claimed)
        return claimed

    async def _idle(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), self._idle_poll)
        except TimeoutError:
            pass

    async def _deliver(self, due: DueWebhook, timeout: float) -> None:
        attempt = await self._post(due, timeout)
        while True:  # while the store is down keep trying: the lease keeps others off the message
            try:
                await asyncio.to_thread(self._record, due, attempt)
                break
            except StoreUnavailable as exc:
                log.warning("webhooks: cannot record delivery %s: %s", due.message_id, exc)
                await asyncio.sleep(self._idle_poll)
        self._held.discard(due.id)

    async def _post(self, due: DueWebhook, timeout: float) -> WebhookAttempt:
        assert self._client is not None, "start() the worker first"
        body = due.payload.encode()
        timestamp = int(time.time())
        headers = {
            "webhook-id": due.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(due.secret, due.message_id, timestamp, body),
            "content-type": "application/json",
        }
        attempted_at, started = time.time(), time.monotonic()
        status: int | None = None
        status_line: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(timeout):  # the whole exchange, not each read
                async with self._client.stream("POST", due.url, content=body, headers=headers) as response:
                    # The status line only: an answer's body is the receiver's, and may be anyone's
                    # (issue #12: a webhook at an internal service handed its pages back).
                    status = response.status_code
                    status_line = _printable(f"{status} {response.reason_phrase}")[:RESPONSE_KEPT]
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            if isinstance(exc.__cause__, RefusedConnect):
                error = f"refused: {exc.__cause__}"
            elif status is None:
                error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        if error is None and status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        return WebhookAttempt(attempted_at, status, error, time.monotonic() - started, status_line)

    def _record(self, due: DueWebhook, attempt: WebhookAttempt) -> None:
        status = attempt.status_code
        record = self._store.record_webhook_attempt
        if status is not None and 200 <= status < 300:
            record(due.id, attempt, DELIVERED)
            self.stats.delivered += 1
            return
        if status == 410:
            reason = f"the receiver answered 410 Gone at {iso(attempt.attempted_at)}"
            record(due.id, attempt, DISABLED, disable_reason=reason)
            self.stats.disabled += 1
            log.info("webhooks: endpoint %d disabled: %s", due.webhook_id, reason)
            return
        until = due.retry_until if due.retry_until is not None else attempt.attempted_at + self._backoff.window
        next_at = attempt.attempted_at + self._backoff.delay(due.attempts)
        if next_at > until:
            record(due.id, attempt, FAILED)
            self.stats.failed += 1
            log.info("webhooks: %s failed after %d attempts: %s", due.message_id, due.attempts + 1, attempt.error)
            return
        record(due.id, attempt, PENDING, next_attempt_at=next_at, retry_until=until)
        self.stats.retried += 1


def _printable(text: str) -> str:
    """The reason phrase as text to show: control characters (a receiver's) become spaces."""
    return "".join(c if c.isprintable() else " " for c in text).strip()
