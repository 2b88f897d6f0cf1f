"""Answer tracking requests with a lean HTTP/1.1 protocol; hand anything else to uvicorn.

Measured on the 2-core test machine with the server pinned to one core:
uvicorn's protocol spends more CPU per request (a scope dict, a parser
callback per header, a keep-alive timer armed and cancelled per request)
than the pixel itself does. A subclass of it that skipped only the ASGI cycle
reached 16 % of nginx; this protocol reads the request head with two `find`s,
which is all a pixel or a redirect needs, and reaches the issue's 25 %.

It takes only what it can answer exactly: a complete `GET`/`HEAD` request
head for /o/ or /c/ in HTTP/1.1, without escapes, body, upgrade or
`Connection: close`. At the first request it does not take, it hands the
connection with every unread byte to uvicorn's own protocol, which serves
the ASGI app (and, through it, the same `Tracking.answer`) from then on.
Requests pipelined behind a pending one wait in order.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mailbeacon.web.tracking import Response, Tracking

MAX_HEAD = 8192
"""Longer request heads (10 KB tokens, cookie floods) go to uvicorn, which answers them properly."""
MAX_BUFFERED = 65536
"""Pipelined bytes held while a request waits for its commit, before reading pauses."""

_CONTROL = bytes(range(0x21)) + b"\x7f%"


def parse_head(head: bytes) -> tuple[str, str, str, str] | None:
    """(method, path, user agent, X-Forwarded-For) of a request head we answer ourselves, else None.

    >>> parse_head(b"GET /o/abc.gif?x=1 HTTP/1.1\\r\\nHost: h\\r\\nUser-Agent:  Mail/1 \\r\\nAccept: */*")
    ('GET', '/o/abc.gif', 'Mail/1', '')
    >>> parse_head(b"GET /o/a%27.gif HTTP/1.1\\r\\nHost: h") is None
    True
    """
    line_end = head.find(b"\r\n")
    if line_end < 0:
        line_end = len(head)
    parts = head[:line_end].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if (
        version != b"HTTP/1.1"
        or method not in (b"GET", b"HEAD")
        or not target.startswith((b"/o/", b"/c/"))
        or not target.isascii()
        or len(target.translate(None, _CONTROL)) != len(target)
    ):
        return None
    fields = head[line_end:].lower()
    if b"\r\ncontent-length:" in fields or b"\r\ntransfer-encoding:" in fields:
        return None  # a body: uvicorn frames it
    if b"\r\nupgrade:" in fields or b"\r\nexpect:" in fields:
        return None
    at = fields.find(b"\r\nconnection:")
    if at >= 0:
        end = fields.find(b"\r\n", at + 2)
        if b"close" in fields[at : end if end >= 0 else len(fields)]:
            return None
    path = target.split(b"?", 1)[0].split(b"#", 1)[0].decode("ascii")
    user_agent = _field(head, fields, line_end, b"\r\nuser-agent:")
    return method.decode("ascii"), path, user_agent, _field(head, fields, line_end, b"\r\nx-forwarded-for:")


def _field(head: bytes, fields: bytes, line_end: int, name: bytes) -> str:
    """The value of the header `name` ("\\r\\nname:", lower case) found in `fields`, the lowered head after its first line."""
    at = fields.find(name)
    if at < 0:
        return ""
    start = line_end + at + len(name)
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip(b" \t").decode("latin-1")


class TrackingProtocol(asyncio.Protocol):
    """One connection; constructed by uvicorn as its `http` protocol class (see `protocol_for`)."""

    tracking: Tracking

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_event_loop()
        self._keep_alive = float(config.timeout_keep_alive)
        self._transport: asyncio.Transport | None = None
        self._client = ""
        self._buffer = b""
        self._busy = False  # a request is waiting for its commit
        self._head_only = False
        self._parsing = False
        self._closing = False  # close once the pending answer is written
        self._eof = False  # the client sent all it will: answer what is buffered, then close
        self._paused = False  # our reading, while too much is pipelined
        self._write_paused = False
        self._last_activity = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        peer = transport.get_extra_info("peername")
        self._client = peer[0] if isinstance(peer, tuple) else ""
        self._server_state.connections.add(self)
        self._last_activity = self._loop.time()
        self._idle_timer = self._loop.call_later(self._keep_alive, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._closing = True
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._last_activity = self._loop.time()
        self._buffer = self._buffer + data if self._buffer else data
        if not self._busy:
            self._answer_buffered()
        elif len(self._buffer) > MAX_BUFFERED and not self._paused:
            self._paused = True
            assert self._transport is not None
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        if not self._busy:
            self._answer_buffered()
        return True  # we close the transport ourselves, once the pending answers are written

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._busy:
            self._answer_buffered()

    # uvicorn's server

    def shutdown(self) -> None:
        """Graceful shutdown: close now if idle, else after the pending answer."""
        self._closing = True
        if not self._busy and self._transport is not None:
            self._transport.close()

    # requests

    def _answer_buffered(self) -> None:
        if self._parsing:
            return  # an answer given synchronously inside the loop below: it continues
        self._parsing = True
        try:
            while self._buffer and not self._busy and not self._closing and not self._write_paused:
                buffer = self._buffer
                end = buffer.find(b"\r\n\r\n")
                request = parse_head(buffer[:end]) if 0 <= end <= MAX_HEAD else None
                if request is None:
                    if end >= 0 or len(buffer) > MAX_HEAD or b"\n\n" in buffer:
                        self._hand_over()
                    break  # else wait for the rest of the head
                method, path, user_agent, forwarded = request
                self._buffer = buffer[end + 4 :]
                self._busy = True
                self._head_only = method == "HEAD"
                client = self.tracking.client_ip(self._client, forwarded) if forwarded else self._client
                self.tracking.answer(path, method, client, user_agent, self._done)
        finally:
            self._parsing = False
        transport = self._transport
        if transport is None or self._busy:
            return
        if self._eof:
            transport.close()
        elif self._paused and len(self._buffer) <= MAX_BUFFERED:
            self._paused = False
            transport.resume_reading()

    def _done(self, response: Response) -> None:
        transport = self._transport
        self._busy = False
        if transport is None or transport.is_closing():
            return
        transport.write(response.http11(self._head_only))
        self._last_activity = self._loop.time()
        if self._closing:
            transport.close()
            return
        if self._buffer or self._paused or self._eof:
            self._answer_buffered()

    def _hand_over(self) -> None:
        """Let uvicorn's protocol serve this connection from here, starting with the unread bytes."""
        transport = self._transport
        assert transport is not None
        self._server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        successor = HttpToolsProtocol(
            config=self._config, server_state=self._server_state, app_state=self._app_state, _loop=self._loop
        )
        successor.connection_made(transport)
        transport.set_protocol(successor)
        buffered, self._buffer = self._buffer, b""
        if self._paused:
            self._paused = False
            transport.resume_reading()
        self._transport = None
        successor.data_received(buffered)

    def _check_idle(self) -> None:
        """Close a keep-alive connection idle for the configured timeout; one timer per connection, not per request."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        idle = self._loop.time() - self._last_activity
        if self._busy or idle < self._keep_alive:
            self._idle_timer = self._loop.call_later(max(self._keep_alive - idle, 0.05), self._check_idle)
        else:
            transport.close()


def protocol_for(tracking: Tracking) -> type[TrackingProtocol]:
    """The protocol class for uvicorn's `http=` setting, bound to this process's `Tracking`."""
    return type("BoundTrackingProtocol", (TrackingProtocol,), {"tracking": tracking})
