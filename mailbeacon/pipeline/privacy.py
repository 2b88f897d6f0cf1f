"""The privacy job in `mailbeacon serve`: apply the retention and IP truncation settings every hour.

It runs on worker 0 beside the classify reader, once at start and then every
`every` seconds, in small transactions with pauses so the tracking hot path
keeps the write lock (measured on SQLite: a 1,000-event truncation transaction
holds it about 50 ms with its commit, a deletion about 20 ms). The settings are read on each run, so a change on the
dashboard takes effect within the hour (or at once with `mailbeacon privacy apply`).
With many nodes it runs on the one holding its lease (issue #17), at once when it takes it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from mailbeacon.classify import Memory
from mailbeacon.store import STANDBY, PrivacyRun, Store, StoreUnavailable

log = logging.getLogger(__name__)

HOURLY = 3600.0


def forget_addresses(memory: dict[str, Any], before: float) -> dict[str, Any]:
    """A delivery's classifier memory keeping, of events before `before`, only the network of their address.

    The network (/24 or /48) is what the rules compare between events; the full
    address serves only the honeypot's ten-minute trap, long over by then.
    """
    kept = Memory.from_json(memory)
    kept.seen = [dataclasses.replace(s, ip=s.network) if s.at < before else s for s in kept.seen]
    kept.trapped = [t for t in kept.trapped if float(t[2]) >= before]
    return kept.to_json()


class PrivacyJob:
    def __init__(
        self,
        store: Store,
        every: float = HOURLY,
        batch: int = 1000,
        pause: float = 0.05,
        clock: Callable[[], float] = time.time,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._may_run = may_run
        self._every = every
        self._batch = batch
        self._pause = pause
        self._clock = clock
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        """Runs completed, for tests and metrics."""
        self.last: PrivacyRun | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Ends after the transaction in progress; the next start resumes where this one stopped."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def run_once(self) -> PrivacyRun:
        return self._store.apply_privacy(
            self._clock(), self._batch, self._pause, stop=self._stopping.is_set, forget=forget_addresses
        )

    async def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._may_run():  # another node runs it (issue #17)
                await self._sleep(STANDBY)
                continue
            try:
                self.last = await asyncio.to_thread(self.run_once)
                self.runs += 1
                if self.last.truncated or self.last.deleted:
                    log.info("privacy: %d IPs truncated, %d old events deleted", self.last.truncated, self.last.deleted)
            except StoreUnavailable as exc:
                log.warning("privacy: store unavailable, next try in a minute: %s", exc)
                await self._sleep(min(60.0, self._every))
                continue
            except Exception:  # noqa: BLE001 - a failing run must not end the job for good
                log.exception("privacy: a run failed; next try in a minute")
                await self._sleep(min(60.0, self._every))
                continue
            await self._sleep(self._every)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
