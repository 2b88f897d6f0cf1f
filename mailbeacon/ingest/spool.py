"""An append-only, fsynced journal of events the store could not take.

While the store is down (PostgreSQL stopped, SQLite locked, disk full) the hot
path still answers: each batch is appended here and fsynced before the
responses go out. Replay moves the file aside, stores its events (the store
ignores uids it already has, so a replay interrupted by a crash and run again
stores each event exactly once), then deletes it.

A record is one line, `<crc32 of the JSON, 8 hex digits> <JSON>\\n` (issue #12):
a damaged record fails its checksum and only that line is lost to replay; the
reader resynchronises on the next newline, which a length-prefixed frame whose
length was damaged could not. Damaged lines go to a quarantine file beside the
spool. Plain JSON lines, as versions before the checksum wrote them, still replay.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from mailbeacon.events import EventKind, RawEvent

log = logging.getLogger(__name__)

_RECORD_START = re.compile(rb'[0-9a-f]{8} \{"uid":|(?<![0-9a-f]{8} )\{"uid":')
"""Where a record may begin inside a damaged line: a checksummed one, or a plain JSON one of older versions."""
_DAMAGE = (ValueError, KeyError, TypeError)
"""What decoding a damaged line raises (json, int(), base64 and EventKind raise ValueError subclasses)."""
PROBE_BYTES = 4096


class Damaged(NamedTuple):
    """A line of the spool that is not a record: torn by a failed write, glued, or corrupted."""

    line: int
    data: bytes
    reason: str


def _encode(event: RawEvent) -> bytes:
    record = {
        "uid": base64.b64encode(event.uid).decode(),  # first: a reader resynchronises on '{"uid":'
        "kind": event.kind.value,
        "delivery": base64.b64encode(event.delivery).decode(),
        "link": event.link,
        "url": event.url,
        "at": event.occurred_at,
        "ip": event.ip,
        "ua": event.user_agent,
        "method": event.method,
    }
    payload = json.dumps(record, separators=(",", ":")).encode()  # ASCII, and never a raw newline
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _decode(body: bytes) -> RawEvent:
    """The event of one line (without its newline); raises one of _DAMAGE if it is not a sound record."""
    if body[:1] == b"{":
        return _event(json.loads(body))  # a plain JSON line of a version before the checksum
    if body[8:9] != b" ":
        raise ValueError("not a spool record")
    payload = body[9:]
    if int(body[:8], 16) != zlib.crc32(payload):
        raise ValueError("checksum mismatch")
    return _event(json.loads(payload))


def _event(r: Any) -> RawEvent:
    link, url = r["link"], r["url"]
    fields = (r["ip"], r["ua"], r["method"])
    if (
        not all(isinstance(f, str) for f in fields)
        or not isinstance(r["at"], (int, float))
        or not (link is None or (isinstance(link, int) and not isinstance(link, bool)))
        or not (url is None or isinstance(url, str))
    ):
        raise TypeError("a field of the wrong type")
    return RawEvent(
        uid=base64.b64decode(r["uid"], validate=True),
        kind=EventKind(r["kind"]),
        delivery=base64.b64decode(r["delivery"], validate=True),
        link=link,
        url=url,
        occurred_at=float(r["at"]),
        ip=r["ip"],
        user_agent=r["ua"],
        method=r["method"],
    )


def _read_line(number: int, line: bytes) -> tuple[RawEvent | None, Damaged | None]:
    """The record of a spool line and the damaged bytes before it, if any.

    A record torn by a failed write and glued to the next one (versions before
    the checksum did that) loses only its own bytes: the sound record behind it
    is found again where it starts.
    """
    body = line[:-1] if line.endswith(b"\n") else line
    try:
        return _decode(body), None
    except _DAMAGE as exc:
        reason = str(exc) or type(exc).__name__
    for start in _RECORD_START.finditer(body, 1):
        try:
            event = _decode(body[start.start() :])
        except _DAMAGE:
            continue
        return event, Damaged(number, body[: start.start()], reason)
    if not line.endswith(b"\n"):
        reason = "incomplete last line"
    return None, Damaged(number, body, reason)


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.replaying = path.with_name(path.name + ".replaying")
        self.quarantine = path.with_name(path.name + ".quarantine")
        """Damaged lines, moved out of replay's way (one a line), for a person to look at."""
        self.quarantined = 0
        """Damaged records moved to the quarantine file by this process."""
        self._lock = threading.Lock()
        self._depth: int | None = None
        """Events waiting; counted from the files once, then kept up to date (metrics read it often)."""

    def append(self, events: Sequence[RawEvent]) -> None:
        """Durably append: returns only after fsync. Raises OSError (e.g. disk full), leaving the file as it was."""
        data = b"".join(_encode(e) for e in events)
        with self._lock:
            _append_lines(self.path, data)
            if self._depth is not None:
                self._depth += len(events)

    def is_writable(self) -> bool:
        """Whether a block fits beside the spool now (written, fsynced, removed); for health checks."""
        probe = self.path.with_name(self.path.name + ".probe")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, b"\0" * PROBE_BYTES)
                os.fsync(fd)
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError:
            return False
        return True

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
        """Store every sound spooled event and quarantine the damaged lines; returns how many events were new.

        Raises what `store` raises, and OSError if the quarantine cannot be written:
        the file then stays, and the next replay goes over it again.
        """
        with self._lock:
            if not self.replaying.exists():
                if not self.path.exists():
                    return 0
                os.replace(self.path, self.replaying)
                _fsync_dir(self.path.parent)
        stored = 0
        chunk: list[RawEvent] = []
        damaged: list[Damaged] = []
        for event, bad in self._read(self.replaying):
            if bad is not None:
                damaged.append(bad)
            if event is not None:
                chunk.append(event)
                if len(chunk) >= batch:
                    stored += store(chunk)
                    chunk = []
        if chunk:
            stored += store(chunk)
        if damaged:
            self._quarantine(damaged)  # before the unlink: a damaged line is moved, never dropped
        self.replaying.unlink()
        _fsync_dir(self.path.parent)
        with self._lock:
            self._depth = None  # recount: appends may have raced the replay
        return stored

    def _quarantine(self, damaged: list[Damaged]) -> None:
        _append_lines(self.quarantine, b"".join(d.data + b"\n" for d in damaged))
        self.quarantined += len(damaged)
        for d in damaged:
            log.warning(
                "spool %s: line %d is damaged (%s): %d bytes moved to %s",
                self.replaying, d.line, d.reason, len(d.data), self.quarantine,
            )

    @staticmethod
    def _read(path: Path) -> Iterator[tuple[RawEvent | None, Damaged | None]]:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    yield _read_line(number, line)


def _append_lines(path: Path, data: bytes) -> None:
    """Append whole lines and fsync; on failure cut the file back to where it was, then raise."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        start = os.fstat(fd).st_size
        if start and os.pread(fd, 1, start - 1) != b"\n":
            # A record torn by a crash mid-write (or by a version before the checksum):
            # start on a line of our own, so that only the torn one is damaged.
            data = b"\n" + data
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError:
            _truncate(fd, start, path)
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _truncate(fd: int, size: int, path: Path) -> None:
    """Cut a failed append back to where it started, so the next one is not glued onto a torn record."""
    try:
        os.ftruncate(fd, size)
    except OSError as exc:  # the next append starts on a new line anyway: only this record is damaged
        log.error("%s: could not cut a failed append back to %d bytes: %s", path, size, exc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
