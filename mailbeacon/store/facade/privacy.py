"""Server settings and the privacy job: IP truncation and retention, in bounded steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from sqlalchemy import Connection

from mailbeacon.store.backend import Lock
from mailbeacon.store.privacy import Forget, PrivacyRun, delete_step, truncate_step
from mailbeacon.store.settings import ServerSettings, checked, select_settings, upsert_setting
from mailbeacon.store.facade.base import StoreBase


class PrivacyQueries(StoreBase):
    def get_settings(self) -> ServerSettings:
        """The stored server-wide settings, defaults where none is stored."""
        with self._translated("read settings"), self._read() as conn:
            return select_settings(conn)

    def set_setting(self, name: str, value: object) -> ServerSettings:
        """Check and store one setting (ConfigError names what it takes); returns them all."""
        stored = checked(name, value)
        with self._translated(f"store the setting {name}"), self._write() as conn:
            upsert_setting(conn, name, stored, time.time())
            return select_settings(conn)

    def apply_privacy(
        self, now: float, batch: int = 1000, pause: float = 0.0, stop: Callable[[], bool] = lambda: False,
        forget: Forget | None = None,
    ) -> PrivacyRun:
        """Delete events past the retention, then cut old IPs to their network, `batch` rows a transaction.

        Resumable: stopped anywhere (`stop()` is asked between transactions), the next
        run goes on from there. `pause` seconds between transactions leave the write
        lock to the hot path meanwhile. `forget` (mailbeacon.pipeline.privacy.forget_addresses)
        makes the classifier's memory of each delivery forget the old addresses as well.
        """
        settings = self.get_settings()
        deleted = truncated = 0
        if settings.retention_days is not None:
            cutoff = now - settings.retention_days * 86400.0
            deleted = self._in_steps("delete old events", partial(delete_step, cutoff=cutoff, limit=batch), pause, stop)
        if settings.ip_truncate_after_days is not None:
            cutoff = now - settings.ip_truncate_after_days * 86400.0
            step = partial(truncate_step, cutoff=cutoff, limit=batch, now=now, forget=forget)
            truncated = self._in_steps("truncate old IPs", step, pause, stop)
        return PrivacyRun(truncated=truncated, deleted=deleted)

    def _in_steps(
        self, action: str, step: Callable[[Connection], tuple[int, bool]], pause: float, stop: Callable[[], bool]
    ) -> int:
        """Run `step` (rows changed, done) one write transaction at a time until done; total rows changed."""
        total = 0
        while True:
            with self._translated(action), self._write(Lock.PIPELINE) as conn:
                changed, done = step(conn)
            total += changed
            if done or stop():
                return total
            if pause:
                time.sleep(pause)
