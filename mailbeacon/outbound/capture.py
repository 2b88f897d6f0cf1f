"""The capture mailbox: where copies go when no upstream is configured, and how to read them back.

A Maildir in the data directory, as Mailpit and MailHog keep, so a newcomer can
send, open and click without any mail server.
"""

from __future__ import annotations

import email.policy
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from pathlib import Path

from mailbeacon.outbound.transports import Outcome, Result


class CaptureTransport:
    """The built-in capture mailbox: a Maildir, like Mailpit or MailHog keep, durable once `send` returns.

    Each copy gets `Return-Path` and `Delivered-To` in front, as a delivery agent
    adds them; the rest is the exact bytes the relay queued.
    """

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._counter = 0
        self._lock = threading.Lock()
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> Outcome:
        with self._lock:
            self._counter += 1
            name = f"{time.time_ns()}.P{os.getpid()}Q{self._counter}.{socket.gethostname().replace('/', '_')}"
        envelope = f"Return-Path: <{mail_from}>\r\nDelivered-To: {', '.join(rcpt_to)}\r\n".encode()
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
        return Outcome(Result.SENT, f"250 captured as {name}")

    def close(self) -> None:
        pass



@dataclass(frozen=True, slots=True)
class Captured:
    """One captured copy, with the tracking URLs a reader's client would load or follow."""

    path: Path
    received_at: float
    delivered_to: str
    subject: str
    pixel_urls: list[str] = field(default_factory=list)
    click_urls: list[str] = field(default_factory=list)
    mail_from: str = ""
    """The envelope sender (Return-Path)."""
    from_address: str = ""
    """The address in the From header."""


_PIXEL = re.compile(r"""<img\b[^>]*?\bsrc=["']?([^"' >]+/o/[A-Za-z0-9_-]+\.gif)""", re.I)
_CLICK = re.compile(r"""\bhref=["']?([^"' >]+/c/[A-Za-z0-9_-]+)""", re.I)


def read_captured(maildir: Path) -> list[Captured]:
    """Every captured copy, oldest first, its HTML decoded as a mail client would."""
    found = []
    new = maildir / "new"
    paths = sorted(new.iterdir(), key=lambda p: p.name) if new.is_dir() else []
    for path in paths:
        message = BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
        html = "".join(
            part.get_content()
            for part in message.walk()
            if part.get_content_type() == "text/html" and not part.is_attachment()
        )
        found.append(
            Captured(
                path=path,
                received_at=int(path.name.split(".", 1)[0]) / 1e9,
                delivered_to=str(message.get("Delivered-To", "")),
                subject=str(message.get("Subject", "")),
                pixel_urls=list(dict.fromkeys(_PIXEL.findall(html))),
                click_urls=list(dict.fromkeys(_CLICK.findall(html))),
                mail_from=str(message.get("Return-Path", "")).strip().strip("<>"),
                from_address=_address(message.get("From")),
            )
        )
    return found


def _address(header: object) -> str:
    """The first addr-spec of an address header ('' if it has none or cannot be parsed)."""
    addresses = getattr(header, "addresses", ())
    return str(addresses[0].addr_spec) if addresses else ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
