"""The capture mailbox's index (issue #12, item 17): one JSON line per captured copy, so listing parses no mail.

`/captured` parsed every message of the Maildir on every request (62 s at 547 MB). Now each
copy is parsed once, when it is captured, into `DATA/captured/index.jsonl` (name, time,
envelope and From addresses, recipients, subject, size, tracked pixels and links). A read
lists `new/` (names, sizes and times only) and parses just what the index lacks or what is
newer than it (copies dropped in while the server was stopped, an append a crash cut off),
then writes the index again; copies gone from `new/` leave it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailbeacon.outbound.captured_parts import count_attachments, decoded, parse_message

log = logging.getLogger(__name__)

INDEX = "index.jsonl"
DELIVERY_HEADER = "X-Mailbeacon-Delivery"
"""Put in front of each captured copy with its delivery key (hex): the delivery says who sent it (issue #13)."""


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
    size: int = 0
    """Bytes of the message file (`path`, in the Maildir's new/)."""
    delivery: str = ""
    """The delivery key, hex, from the capture (issue #13): whose copy it is; '' for mail captured before."""
    attachments: int = 0
    """How many parts are attachments (captured_parts.py)."""


_PIXEL = re.compile(r"""<img\b[^>]*?\bsrc=["']?([^"' >]+/o/[A-Za-z0-9_-]+\.gif)""", re.I)
_CLICK = re.compile(r"""\bhref=["']?([^"' >]+/c/[A-Za-z0-9_-]+)""", re.I)
_FIELDS = ("received_at", "delivered_to", "subject", "pixel_urls", "click_urls", "mail_from", "from_address", "size")
_ADDED: dict[str, object] = {"delivery": "", "attachments": 0}
"""Fields added later (issue #13): an index written before lacks them and is read with these, not rebuilt."""


def parse_captured(path: Path, data: bytes, mtime: float) -> Captured:
    """A copy's index entry from its bytes, its HTML decoded as a mail client would."""
    message = parse_message(data)
    html = "".join(
        decoded(part) for part in message.walk() if part.get_content_type() == "text/html" and not part.is_attachment()
    )
    stamp = path.name.split(".", 1)[0]
    return Captured(
        path=path,
        received_at=int(stamp) / 1e9 if stamp.isdigit() else mtime,  # a file named by someone else: its time
        delivered_to=str(message.get("Delivered-To", "")),
        subject=str(message.get("Subject", "")),
        pixel_urls=list(dict.fromkeys(_PIXEL.findall(html))),
        click_urls=list(dict.fromkeys(_CLICK.findall(html))),
        mail_from=str(message.get("Return-Path", "")).strip().strip("<>"),
        from_address=_address(message.get("From")),
        size=len(data),
        delivery=_hex(str(message.get(DELIVERY_HEADER, ""))),
        attachments=count_attachments(message),
    )


class CaptureIndex:
    """The index of one capture Maildir; thread-safe, and kept in memory while its file does not change."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.path = maildir / INDEX
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], dict[str, Captured]] | None = None
        """((mtime_ns, size) of the index file, its entries) as last read or written."""

    def append(self, copy: Captured) -> None:
        """Add a copy just captured: one line, one write, O_APPEND (a torn line is skipped and rebuilt)."""
        line = json.dumps(_line(copy.path.name, copy), ensure_ascii=False)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8") + b"\n")
        finally:
            os.close(fd)

    def read(self) -> list[Captured]:
        """Every copy in new/, oldest first, from the index; what it lacks or is older than is parsed now."""
        new = self.maildir / "new"
        if not new.is_dir():
            return []
        with self._lock:
            on_disk = _listing(new)
            stamp, indexed = self._load()
            fresh: dict[str, Captured] = {}
            changed = stamp is None or any(name not in on_disk for name in indexed)
            for name, (mtime_ns, size) in on_disk.items():
                entry = indexed.get(name)
                if entry is None or entry.size != size or stamp is None or mtime_ns > stamp[0]:
                    changed = True  # written again below, so the index is newer than what it read
                    try:
                        entry = parse_captured(new / name, (new / name).read_bytes(), mtime_ns / 1e9)
                    except FileNotFoundError:  # taken away meanwhile
                        continue
                fresh[name] = entry
            if changed:
                self._write(fresh)
            return [fresh[name] for name in sorted(fresh)]

    def _load(self) -> tuple[tuple[int, int] | None, dict[str, Captured]]:
        """The index file's (mtime_ns, size) and entries; (None, {}) when it is missing."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None, {}
        stamp = (info.st_mtime_ns, info.st_size)
        if self._cached is not None and self._cached[0] == stamp:
            return stamp, self._cached[1]
        entries: dict[str, Captured] = {}
        torn = False
        with self.path.open("rb") as file:
            for line in file:
                entry = self._entry(line)
                if entry is None:
                    torn = True
                else:
                    entries[entry.path.name] = entry
        if torn:  # a line cut short: rebuild from the mail rather than trust the rest's times
            return None, entries
        self._cached = (stamp, entries)
        return stamp, entries

    def _entry(self, line: bytes) -> Captured | None:
        try:
            data: dict[str, Any] = json.loads(line)
            name = data["name"]
            if not isinstance(name, str) or "/" in name or name.startswith("."):
                return None
            return Captured(
                path=self.maildir / "new" / name,
                **{k: data[k] for k in _FIELDS},
                **{k: data.get(k, default) for k, default in _ADDED.items()},
            )
        except (ValueError, KeyError, TypeError):
            return None

    def _write(self, entries: dict[str, Captured]) -> None:
        """The whole index anew: a private temporary file renamed over the old one."""
        tmp = self.maildir / f".{INDEX}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as file:
                for name in sorted(entries):
                    copy = entries[name]
                    file.write(json.dumps(_line(name, copy), ensure_ascii=False).encode("utf-8") + b"\n")
            os.replace(tmp, self.path)
            info = self.path.stat()
            self._cached = ((info.st_mtime_ns, info.st_size), dict(entries))
        except OSError as exc:  # a read-only or full disk: the list is still right, only slower next time
            log.warning("capture index %s not written: %s", self.path, exc.strerror)
            tmp.unlink(missing_ok=True)


def _listing(new: Path) -> dict[str, tuple[int, int]]:
    """Name -> (mtime_ns, size) of each message file in new/ (a Maildir's dot files are not messages)."""
    found: dict[str, tuple[int, int]] = {}
    with os.scandir(new) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            found[entry.name] = (info.st_mtime_ns, info.st_size)
    return found


def _line(name: str, copy: Captured) -> dict[str, object]:
    return {"name": name, **{k: getattr(copy, k) for k in (*_FIELDS, *_ADDED)}}


def _hex(value: str) -> str:
    """A delivery key as the capture wrote it, or '' (a header someone else wrote is not trusted as one)."""
    value = value.strip().lower()
    return value if 2 <= len(value) <= 128 and len(value) % 2 == 0 and all(c in "0123456789abcdef" for c in value) else ""


def _address(header: object) -> str:
    """The first addr-spec of an address header ('' if it has none or cannot be parsed)."""
    addresses = getattr(header, "addresses", ())
    return str(addresses[0].addr_spec) if addresses else ""
