"""The shared corpus of real emails, read in place from ../shared/corpus (never copied here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("MAILBEACON_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
ABSENT = f"corpus not found at {ROOT} (set MAILBEACON_CORPUS to ../shared/corpus)"


def files(kind: str) -> list[Path]:
    folder = ROOT / kind
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def params(kind: str) -> list[object]:
    """One pytest param per corpus file, named by file; a single skip when absent."""
    found = files(kind)
    if not found:
        return [pytest.param(None, id=f"{kind}-absent", marks=pytest.mark.skip(reason=ABSENT))]
    return [pytest.param(p, id=p.name) for p in found]


def as_message(html: bytes) -> bytes:
    """Wrap a standalone template as a single-part UTF-8 message, as a sender would."""
    return (
        b"From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: corpus\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + html
    )
