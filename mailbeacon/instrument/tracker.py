"""How instrumentation names tracking URLs, and how it recognises its own.

`instrument_message` takes a `Tracker` instead of building URLs itself, so the
core stays free of keys and configuration and tests can pass a tracker whose
URLs are predictable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mailbeacon.errors import TokenInvalid

if TYPE_CHECKING:
    from mailbeacon.tokens import Keyring


@dataclass(frozen=True, slots=True)
class Recognised:
    kind: str
    """"open" for our pixel, "click" for our wrapped link."""
    target: str = ""


class Tracker(Protocol):
    """Makes the tracking URLs of one delivery (one message to one recipient)."""

    def pixel_url(self) -> str: ...

    def click_url(self, link: int, target: str) -> str: ...

    def recognise(self, url: str) -> Recognised | None:
        """Our own earlier pixel or click URL (any delivery), else None."""
        ...


_OPEN_PATH = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/o/([A-Za-z0-9_-]+)\.gif$")
_CLICK_PATH = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/c/([A-Za-z0-9_-]+)$")


class TokenTracker:
    """Signed-token URLs: `{base}/o/{token}.gif` and `{base}/c/{token}`.

    >>> from mailbeacon.tokens import Keyring
    >>> keyring = Keyring({0: b"k" * 32}, active=0)
    >>> tracker = TokenTracker("https://t.example", keyring, delivery=b"d1")
    >>> tracker.recognise(tracker.click_url(0, "https://example.com/"))
    Recognised(kind='click', target='https://example.com/')
    """

    def __init__(self, base_url: str, keyring: Keyring, delivery: bytes) -> None:
        self.base_url = base_url.rstrip("/")
        self.keyring = keyring
        self.delivery = delivery

    def pixel_url(self) -> str:
        return f"{self.base_url}/o/{self.keyring.sign_open(self.delivery)}.gif"

    def click_url(self, link: int, target: str) -> str:
        return f"{self.base_url}/c/{self.keyring.sign_click(self.delivery, link, target)}"

    def recognise(self, url: str) -> Recognised | None:
        # The signature, not the host, proves the URL is ours: the base URL may have changed.
        if "/o/" not in url and "/c/" not in url:
            return None
        if (m := _OPEN_PATH.match(url)) is not None:
            try:
                self.keyring.verify_open(m.group(1))
            except TokenInvalid:
                return None
            return Recognised("open")
        if (m := _CLICK_PATH.match(url)) is not None:
            try:
                return Recognised("click", self.keyring.verify_click(m.group(1)).url)
            except TokenInvalid:
                return None
        return None
