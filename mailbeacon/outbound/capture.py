"""The capture mailbox: where copies go when no upstream is configured, and how to read them back.

A Maildir in the data directory, as Mailpit and MailHog keep, so a newcomer can
send, open and click without any mail server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from mailbeacon.outbound.capture_index import DELIVERY_HEADER, Captured, CaptureIndex, parse_captured
from mailbeacon.outbound.transports import Outcome, Result

log = logging.getLogger(__name__)


class CaptureTransport:
    """The built-in capture mailbox: a Maildir, like Mailpit or MailHog keep, durable once `send` returns.

    Each copy gets `Return-Path` and `Delivered-To` in front, as a delivery agent
    adds them, and `X-Mailbeacon-Delivery` (its delivery key: who sent it, issue #13);
    the rest is the exact bytes the relay queued. Its entry is appended to the
    mailbox's index (capture_index.py) once the copy is durable.
    """

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.index = CaptureIndex(maildir)
        self._counter = 0
        self._lock = threading.Lock()
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)  # mail is private (issue #12)

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes, delivery: bytes | None = None) -> Outcome:
        with self._lock:
            self._counter += 1
            name = f"{time.time_ns()}.P{os.getpid()}Q{self._counter}.{socket.gethostname().replace('/', '_')}"
        envelope = f"Return-Path: <{mail_from}>\r\nDelivered-To: {', '.join(rcpt_to)}\r\n".encode()
        if delivery is not None:  # the copy names its delivery, so an index rebuilt from the mail keeps its sender
            envelope += f"{DELIVERY_HEADER}: {delivery.hex()}\r\n".encode()
        tmp = self.maildir / "tmp" / name
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, envelope + body)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, self.maildir / "new" / name)
            _fsync_dir(self.maildir / "new")
        except OSError as exc:
            return Outcome(Result.RETRY, f"capture mailbox: {exc.strerror}")
        path = self.maildir / "new" / name
        try:
            self.index.append(parse_captured(path, envelope + body, time.time()))
        except OSError as exc:  # captured all the same: the next read finds it missing and indexes it
            log.warning("capture index: %s not appended: %s", name, exc.strerror)
        return Outcome(Result.SENT, f"250 captured as {name}")

    def close(self) -> None:
        pass


def read_captured(maildir: Path) -> list[Captured]:
    """Every captured copy, oldest first, from the mailbox's index (rebuilt where it is missing or stale)."""
    return CaptureIndex(maildir).read()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
