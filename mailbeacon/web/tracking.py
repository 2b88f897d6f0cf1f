"""The hot path: GET /o/{token}.gif and GET /c/{token}.

Each request verifies its token (no database read), waits until its event is
kept (group commit; the spool while the store is down; memory while the disk is
full), and answers; a click that cannot be kept anywhere gets 503, never a redirect.
A bad token records nothing: the pixel still gets the image (no validity
oracle, no broken image), a click gets a short 404 page and goes nowhere.

`Tracking.answer` decides; two thin adapters deliver: `asgi()` for requests
that reach the ASGI app, and `fastpath.py`, which answers straight from
uvicorn's protocol in one write, without the ASGI request cycle.
"""

from __future__ import annotations

import asyncio
import ipaddress
import functools
import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from mailbeacon.errors import TokenInvalid
from mailbeacon.events import EventKind, RawEvent
from mailbeacon.ingest import Batcher
from mailbeacon.tokens import Keyring
from mailbeacon.web import public_page

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = [
    (b"cache-control", b"no-cache, no-store, must-revalidate, private"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
NOT_FOUND_PAGE = public_page.page(
    "broken-link", "This link leads nowhere",
    "It is damaged or was not made by this server, so it goes nowhere and nothing was recorded.",
    "If you copied it from an email, try clicking it in the email itself.",
)
BUSY_PAGE = public_page.page(
    "busy", "Please try again in a minute",
    "This link works, but the server cannot take your visit right now.",
)
_PAGE_HEADERS = [(b"content-security-policy", public_page.CSP.encode("ascii")), (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"no-referrer")]
RETRY_AFTER_S = b"30"
_REASONS = {200: b"OK", 302: b"Found", 404: b"Not Found", 503: b"Service Unavailable"}


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    head: bytes = field(init=False)
    """Status line and headers as HTTP/1.1 bytes, built once."""

    def __post_init__(self) -> None:
        reason = _REASONS.get(self.status) or HTTPStatus(self.status).phrase.encode("ascii")
        lines = [b"HTTP/1.1 %d %s" % (self.status, reason)]
        lines += [name + b": " + value for name, value in self.headers]
        object.__setattr__(self, "head", b"\r\n".join(lines) + b"\r\n\r\n")

    def http11(self, head_only: bool) -> bytes:
        """The whole HTTP/1.1 response, ready for one transport.write()."""
        return self.head if head_only else self.head + self.body


PIXEL = Response(200, [(b"content-type", b"image/gif"), (b"content-length", b"43"), *NO_STORE], GIF)
NOT_FOUND = Response(
    404,
    [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(NOT_FOUND_PAGE)).encode()), *NO_STORE,
     *_PAGE_HEADERS],
    NOT_FOUND_PAGE,
)
BUSY = Response(
    503,
    [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(BUSY_PAGE)).encode()),
     (b"retry-after", RETRY_AFTER_S), *NO_STORE, *_PAGE_HEADERS],
    BUSY_PAGE,
)
"""A click the server could not keep anywhere (store, spool and memory full): shed, never redirected as if kept."""


def _plain(status: int, text: bytes, *headers: tuple[bytes, bytes]) -> Response:
    return Response(
        status,
        [*headers, (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(text)), *NO_STORE],
        text,
    )


# issue #12: only GET and HEAD read a pixel or follow a link (RFC 9110 §15.5.6: a 405 names what is allowed)
METHOD_NOT_ALLOWED = _plain(405, b"Only GET and HEAD here.\n", (b"allow", b"GET, HEAD"))
BAD_REQUEST = _plain(400, b"An HTTP/1.1 request has exactly one Host.\n", (b"connection", b"close"))
SERVICE_UNAVAILABLE = _plain(503, b"Too many connections; try again.\n", (b"connection", b"close"))


@functools.lru_cache(maxsize=4096)
def redirect(url: str) -> Response:
    """A campaign's recipients click the same few targets: their answers are built once."""
    return Response(302, [(b"location", url.encode("ascii")), (b"content-length", b"0"), *NO_STORE], b"")


class TrackingStats:
    def __init__(self) -> None:
        self.opens = 0
        self.clicks = 0
        self.invalid = 0
        self.shed = 0
        """Clicks answered 503: neither store, spool nor memory could keep them (issue #12)."""


LOOPBACK = ("127.0.0.0/8", "::1/128")


class Tracking:
    def __init__(self, keyring: Keyring, batcher: Batcher, trusted_proxies: Sequence[str] = LOOPBACK) -> None:
        self.keyring = keyring
        self.batcher = batcher
        self._trusted_networks = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)
        self.stats = TrackingStats()
        # Event uids: a random prefix per process and a counter. Unique without a
        # syscall per request, and consecutive, so the uid index grows at its end.
        self._uid_prefix = secrets.token_bytes(8)
        self._uid_counter = itertools.count(time.time_ns())

    def client_ip(self, peer: str, forwarded_for: str) -> str:
        """The reader's address: the peer's, or behind a trusted proxy the last hop it did not add itself.

        Only a trusted proxy's X-Forwarded-For is believed; anyone else could write any address there.
        """
        if not forwarded_for or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop if _is_ip(hop) else peer
        return hops[0] if _is_ip(hops[0]) else peer

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Tracking per process, a few proxy addresses
    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted_networks)

    def answer(self, path: str, method: str, ip: str, user_agent: str, done: Callable[[Response], None]) -> None:
        """Call `done` with the response: at once for a bad token, after the commit for a good one."""
        if method != "GET" and method != "HEAD":
            return done(METHOD_NOT_ALLOWED)  # and nothing recorded (issue #12)
        if path.startswith("/o/"):
            delivery = self._open(path)
            if delivery is None:
                self.stats.invalid += 1
                return done(PIXEL)
            self.stats.opens += 1
            event = self._event(EventKind.OPEN, delivery, None, None, ip, user_agent, method)
            # The image draws whatever happens (issue #12): an open not kept is counted lost by the batcher.
            self.batcher.submit(event, lambda kept: done(PIXEL))
            return None
        click = self._click(path)
        if click is None:
            self.stats.invalid += 1
            return done(NOT_FOUND)
        delivery, link, url = click
        self.stats.clicks += 1
        event = self._event(EventKind.CLICK, delivery, link, url, ip, user_agent, method)
        response = redirect(url)
        self.batcher.submit(event, lambda kept: done(response if kept else self._shed()))
        return None

    def _shed(self) -> Response:
        """A click that could not be kept is not redirected as if it were: 503, try again (issue #12)."""
        self.stats.shed += 1
        return BUSY

    def _open(self, path: str) -> bytes | None:
        if not path.endswith(".gif"):
            return None
        try:
            return self.keyring.verify_open(path[3:-4]).delivery
        except TokenInvalid:
            return None

    def _click(self, path: str) -> tuple[bytes, int, str] | None:
        try:
            token = self.keyring.verify_click(path[3:])
        except TokenInvalid:
            return None
        url = token.url
        if not url.startswith(("https://", "http://")) or not url.isascii() or not url.isprintable():
            return None  # only ever redirect to the web
        return token.delivery, token.link, url

    def _event(
        self, kind: EventKind, delivery: bytes, link: int | None, url: str | None, ip: str, user_agent: str, method: str
    ) -> RawEvent:
        uid = self._uid_prefix + next(self._uid_counter).to_bytes(8, "big")
        # positional: keyword construction of a NamedTuple costs twice as much, per request
        return RawEvent(uid, kind, delivery, link, url, time.time(), ip, user_agent, method)

    async def asgi(self, scope: dict[str, Any], send: Any) -> None:
        """The same answer through ASGI (requests the fast path leaves to the app)."""
        client = scope.get("client")
        user_agent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"user-agent"), "")
        forwarded = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"), "")
        answered: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        def done(response: Response) -> None:
            if not answered.done():  # the client may have gone, cancelling the wait
                answered.set_result(response)

        peer = client[0] if client else ""
        hosts = sum(1 for k, _ in scope["headers"] if k == b"host")
        if hosts > 1 or (hosts == 0 and scope["http_version"] == "1.1"):
            answered.set_result(BAD_REQUEST)  # RFC 9112 §3.2, as the fast path hands it here
        else:
            self.answer(scope["path"], scope["method"], self.client_ip(peer, forwarded), user_agent, done)
        response = await answered
        await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else response.body})


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
