"""The fan-out: a reader of the activity feed that queues one outbox message per (endpoint, event).

Its cursor ("webhooks" in pipeline_cursors) moves in the transaction that
queues the messages, so each event is queued once per endpoint, also with
several processes running it on one store. It runs in `mailbeacon serve` (worker 0),
on the node holding its lease (issue #17); the others stand by.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mailbeacon.store import STANDBY, FanOutStep, Store, StoreUnavailable, patiently
from mailbeacon.webhooks.payloads import plan_messages

log = logging.getLogger(__name__)


class WebhookFanOut:
    def __init__(
        self,
        store: Store,
        queued: Callable[[], None] = lambda: None,
        batch: int = 500,
        idle: float = 0.2,
        busy: Callable[[], bool] = lambda: False,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        """`queued` is told when messages were queued (wakes the delivery worker); while `busy` (the
        tracking hot path under load) it steps once a second, as the classify reader does. `may_run`
        says this node holds the fan-out's lease (issue #17)."""
        self._store = store
        self._queued = queued
        self._batch = batch
        self._idle = idle
        self._busy = busy
        self._may_run = may_run
        self._task: asyncio.Task[None] | None = None

    def step(self) -> FanOutStep:
        done = self._store.advance_webhooks(self._batch, plan_messages)
        if done.queued:
            self._queued()
        return done

    def catch_up(self, patience: float = 10.0) -> int:
        """Step until the cursor reaches what the classify reader has judged; how many messages were queued.

        A busy store (another process writing) is waited for up to `patience` seconds.
        """
        queued = 0
        while True:
            done = patiently(self.step, patience)
            queued += done.queued
            if not done.moved and not done.raced:
                return queued

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self._may_run():  # another node fans out (issue #17)
                await asyncio.sleep(STANDBY)
                continue
            if self._busy():
                await asyncio.sleep(1.0)
            try:
                done = await asyncio.to_thread(self.step)
            except StoreUnavailable as exc:
                log.warning("webhooks: store unavailable, retrying: %s", exc)
                await asyncio.sleep(1.0)
                continue
            except Exception:  # noqa: BLE001 - a bad batch must not stop the fan-out for good
                log.exception("webhooks: a fan-out step failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if not done.moved and not done.raced:
                await asyncio.sleep(self._idle)
