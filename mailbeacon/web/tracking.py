"""The hot path: GET /o/{token}.gif and GET /c/{token}, as bare ASGI.

Each request verifies its token (no database read), waits until its event is
durable (group commit, or the spool while the store is down), and answers.
A bad token records nothing: the pixel still gets the image (no validity
oracle, no broken image), a click gets a short 404 page and goes nowhere.
Starlette's routing and request objects cost more than this whole path, so
these two routes skip them; everything else goes through the Starlette app.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from mailbeacon.errors import TokenInvalid
from mailbeacon.events import EventKind, RawEvent
from mailbeacon.ingest import Batcher
from mailbeacon.tokens import Keyring

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = [
    (b"cache-control", b"no-cache, no-store, must-revalidate, private"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
_PIXEL_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"image/gif"), (b"content-length", b"43"), *NO_STORE],
}
_PIXEL_BODY = {"type": "http.response.body", "body": GIF}
_EMPTY_BODY = {"type": "http.response.body", "body": b""}
NOT_FOUND_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<p>This link is damaged or was not made by this server, so it leads nowhere. "
    b"If you copied it from an email, try clicking it in the email itself.</p>\n"
)
_NOT_FOUND_START = {
    "type": "http.response.start",
    "status": 404,
    "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(NOT_FOUND_PAGE)).encode()),
        *NO_STORE,
    ],
}


class TrackingStats:
    def __init__(self) -> None:
        self.opens = 0
        self.clicks = 0
        self.invalid = 0


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class Tracking:
    def __init__(self, keyring: Keyring, batcher: Batcher) -> None:
        self.keyring = keyring
        self.batcher = batcher
        self.stats = TrackingStats()
        # Event uids: a random prefix per process and a counter. Unique without a
        # syscall per request, and consecutive, so the uid index grows at its end.
        self._uid_prefix = secrets.token_bytes(8)
        self._uid_counter = itertools.count(time.time_ns())

    def _event(self, scope: dict[str, Any], kind: EventKind, delivery: bytes, link: int | None, url: str | None) -> RawEvent:
        client = scope.get("client")
        return RawEvent(
            uid=self._uid_prefix + next(self._uid_counter).to_bytes(8, "big"),
            kind=kind,
            delivery=delivery,
            link=link,
            url=url,
            occurred_at=time.time(),
            ip=client[0] if client else "",
            user_agent=_header(scope, b"user-agent"),
            method=scope["method"],
        )

    async def pixel(self, scope: dict[str, Any], send: Any) -> None:
        path: str = scope["path"]
        if path.endswith(".gif"):
            try:
                token = self.keyring.verify_open(path[3:-4])
            except TokenInvalid:
                self.stats.invalid += 1
            else:
                self.stats.opens += 1
                await self.batcher.record(self._event(scope, EventKind.OPEN, token.delivery, None, None))
        else:
            self.stats.invalid += 1
        await send(_PIXEL_START)
        await send(_EMPTY_BODY if scope["method"] == "HEAD" else _PIXEL_BODY)

    async def click(self, scope: dict[str, Any], send: Any) -> None:
        try:
            token = self.keyring.verify_click(scope["path"][3:])
            url = token.url
            if not url.startswith(("https://", "http://")) or not url.isascii() or not url.isprintable():
                raise TokenInvalid("not an http(s) target")
        except TokenInvalid:
            self.stats.invalid += 1
            await send(_NOT_FOUND_START)
            await send(_EMPTY_BODY if scope["method"] == "HEAD" else {"type": "http.response.body", "body": NOT_FOUND_PAGE})
            return
        self.stats.clicks += 1
        await self.batcher.record(self._event(scope, EventKind.CLICK, token.delivery, token.link, url))
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", url.encode("ascii")), (b"content-length", b"0"), *NO_STORE],
            }
        )
        await send(_EMPTY_BODY)
