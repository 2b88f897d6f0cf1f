"""An append-only, fsynced journal of events the store could not take.

While the store is down (PostgreSQL stopped, SQLite locked, disk full) the hot
path still answers: each batch is appended here and fsynced before the
responses go out. Replay moves the file aside, stores its events (the store
ignores uids it already has, so a replay interrupted by a crash and run again
stores each event exactly once), then deletes it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mailbeacon.events import EventKind, RawEvent

log = logging.getLogger(__name__)


def _encode(event: RawEvent) -> bytes:
    record = {
        "uid": base64.b64encode(event.uid).decode(),
        "kind": event.kind.value,
        "delivery": base64.b64encode(event.delivery).decode(),
        "link": event.link,
        "url": event.url,
        "at": event.occurred_at,
        "ip": event.ip,
        "ua": event.user_agent,
        "method": event.method,
    }
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> RawEvent:
    r = json.loads(line)
    return RawEvent(
        uid=base64.b64decode(r["uid"]),
        kind=EventKind(r["kind"]),
        delivery=base64.b64decode(r["delivery"]),
        link=r["link"],
        url=r["url"],
        occurred_at=r["at"],
        ip=r["ip"],
        user_agent=r["ua"],
        method=r["method"],
    )


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.replaying = path.with_name(path.name + ".replaying")
        self._lock = threading.Lock()
        self._depth: int | None = None
        """Events waiting; counted from the files once, then kept up to date (metrics read it often)."""

    def append(self, events: Sequence[RawEvent]) -> None:
        """Durably append: returns only after fsync. Raises OSError (e.g. disk full)."""
        data = b"".join(_encode(e) for e in events)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if self._depth is not None:
                self._depth += len(events)

    def depth(self) -> int:
        """Events waiting in the spool (complete lines in both files)."""
        with self._lock:
            if self._depth is None:
                self._depth = self._count()
            return self._depth

    def _count(self) -> int:
        total = 0
        for path in (self.path, self.replaying):
            try:
                with path.open("rb") as f:
                    total += sum(1 for line in f if line.endswith(b"\n"))
            except FileNotFoundError:
                pass
        return total

    def pending(self) -> bool:
        return self.path.exists() or self.replaying.exists()

    def replay(self, store: Callable[[Sequence[RawEvent]], int], batch: int = 500) -> int:
        """Store every spooled event; returns how many were new. Raises what `store` raises."""
        with self._lock:
            if not self.replaying.exists():
                if not self.path.exists():
                    return 0
                os.replace(self.path, self.replaying)
                _fsync_dir(self.path.parent)
        stored = 0
        chunk: list[RawEvent] = []
        for event in self._read(self.replaying):
            chunk.append(event)
            if len(chunk) >= batch:
                stored += store(chunk)
                chunk = []
        if chunk:
            stored += store(chunk)
        self.replaying.unlink()
        _fsync_dir(self.path.parent)
        with self._lock:
            self._depth = None  # recount: appends may have raced the replay
        return stored

    @staticmethod
    def _read(path: Path) -> Iterator[RawEvent]:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    # A torn last line: its batch was never acknowledged, so nobody was answered for it.
                    log.warning("spool %s: ignoring an incomplete last line %d", path, number)
                    continue
                yield _decode(line)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
