"""A real Tracker whose URLs are predictable, so tests can compare bytes exactly."""

from __future__ import annotations

import re

from mailbeacon.instrument import Recognised

BASE = "https://t.test"
_CLICK = re.compile(r"^https://t\.test/c/(\d+)/(\d+)\?u=(.*)$", re.S)


class NumberedTracker:
    """Pixel `https://t.test/o/{delivery}.gif`, clicks `https://t.test/c/{delivery}/{link}?u=...`.

    The target rides along (escaped) so `recognise` can unwrap like the real tracker.
    """

    def __init__(self, delivery: int = 1) -> None:
        self.delivery = delivery

    def pixel_url(self) -> str:
        return f"{BASE}/o/{self.delivery}.gif"

    def click_url(self, link: int, target: str) -> str:
        return f"{BASE}/c/{self.delivery}/{link}?u={target.encode().hex()}"

    def recognise(self, url: str) -> Recognised | None:
        if re.fullmatch(r"https://t\.test/o/\d+\.gif", url):
            return Recognised("open")
        if (m := _CLICK.match(url)) is not None:
            try:
                return Recognised("click", bytes.fromhex(m.group(3)).decode())
            except (ValueError, UnicodeDecodeError):
                return None  # like a tampered token: not ours
        return None
