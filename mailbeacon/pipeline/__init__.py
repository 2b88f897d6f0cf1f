"""Readers of the events log: each derives, in id order, what its cursor has not yet covered.

The classify reader is the one there is: a verdict for each event and the
counters of deliveries, messages and links. It runs in `mailbeacon serve`
(worker 0) and in `mailbeacon reclassify`; several processes may run it on one
store, as each step holds the store's pipeline lock. With many nodes, the one holding
the reader's lease runs it and the others stand by (`may_run`, issue #17).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging

from mailbeacon.classify import Policy
from mailbeacon.pipeline.derive import READER, derive
from mailbeacon.store import STANDBY, Batch, Store, StoreUnavailable, Verdict, patiently

__all__ = ["READER", "Pipeline", "derive"]

log = logging.getLogger(__name__)

BUSY_BATCH = 50


class Pipeline:
    def __init__(
        self,
        store: Store,
        policy: Policy | None = None,
        batch: int = 500,
        idle: float = 0.2,
        busy: Callable[[], bool] = lambda: False,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        """`busy` says the tracking hot path is under load: then one small step a second, so the
        pixel and the redirect keep the core (measured: a pipeline at full speed took two thirds
        of the hot path's throughput on one core). The backlog is worked off when the burst ends.
        `may_run` says this node holds the reader's lease (issue #17)."""
        self._store = store
        self._policy = policy or Policy()
        self._batch = batch
        self._idle = idle
        self._busy = busy
        self._may_run = may_run
        self._task: asyncio.Task[None] | None = None

    def step(self) -> int:
        """Derive from the next batch of events; how many there were (0: caught up)."""
        return self._step_sized(self._batch)

    def _step_sized(self, size: int) -> int:
        return self._store.advance_reader(READER, size, self._derive)

    def catch_up(self, patience: float = 10.0) -> int:
        """Step until caught up; a busy store (another process writing) is waited for up to `patience` s."""
        total = 0
        while True:
            n = patiently(self.step, patience)
            if n == 0:
                return total
            total += max(n, 0)  # -1: another process took this step

    def reclassify(self) -> int:
        """Forget every verdict and counter, then derive them all again with today's rules."""
        self._store.reset_reader(READER)
        return self.catch_up()

    def _derive(self, batch: Batch) -> list[Verdict]:
        return derive(batch, self._policy)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self._may_run():  # another node's reader runs (issue #17)
                await asyncio.sleep(STANDBY)
                continue
            under_load = self._busy()
            if under_load:
                await asyncio.sleep(1.0)
            try:
                derived = await asyncio.to_thread(self._step_sized, BUSY_BATCH if under_load else self._batch)
            except StoreUnavailable as exc:
                log.warning("pipeline: store unavailable, retrying: %s", exc)
                await asyncio.sleep(1.0)
                continue
            except Exception:  # noqa: BLE001 - a bad batch must not stop the reader for good
                log.exception("pipeline: a batch failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if derived == 0:
                await asyncio.sleep(self._idle)
