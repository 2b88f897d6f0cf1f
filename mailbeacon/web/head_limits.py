"""Bounds on request heads, the same on both protocols: 16 KB and a few seconds from their first byte.

uvicorn's httptools protocol has neither (issue #12: four 24 MB heads took a server to 1.58 GB;
a one-byte trickle kept a connection for ever), so connections the fast path hands over get
`BoundedHttpToolsProtocol`, which counts the bytes of the head it is reading and times it.
A refused head is answered 408 or 431 and the connection closed in stages (RFC 9112 §9.6).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_LIMIT = 16384
"""Bytes of one request head (request line and fields); nginx's default large_client_header_buffers."""
HEAD_TIMEOUT = 10.0
"""Seconds from a head's first byte to its end, whatever trickles in meanwhile (`serve --head-timeout`)."""
LINGER = 2.0
"""Seconds a refused connection is still read (and what comes discarded) so the client reads the answer."""
LINGER_BYTES = 16 << 20
"""What a refused connection may still send before it is closed: enough for a client that checks for an answer
between its writes to read it, which a reset would discard."""


def _refusal(status: int, reason: bytes, text: bytes) -> bytes:
    # RFC 9110 §15.5.9 and RFC 6585 §5: the answer, then the close it announces.
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, reason, len(text), text)
    )


TOO_LARGE = _refusal(431, b"Request Header Fields Too Large", b"Request head larger than 16 KB.\n")
TIMED_OUT = _refusal(408, b"Request Timeout", b"Request head not complete in time.\n")


class _Draining(asyncio.Protocol):
    """Reads and drops what a refused client still sends, then closes: closing with unread bytes would reset
    the connection, and a reset can discard the answer before the client reads it (RFC 9112 §9.6)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._budget = LINGER_BYTES
        self._timer = loop.call_later(LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        self._budget -= len(data)
        if self._budget < 0:
            self._transport.close()

    def eof_received(self) -> bool:
        self._transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()


def refuse(transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, answer: bytes) -> None:
    """Write `answer`, half-close, and drain the connection for a moment before closing it."""
    transport.write(answer)
    transport.set_protocol(_Draining(transport, loop))
    if not transport.is_reading():
        transport.resume_reading()
    if transport.can_write_eof():
        transport.write_eof()
    else:  # pragma: no cover - TLS transports cannot half-close
        transport.close()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's protocol, with the head limits; serves connections the fast path hands over.

    Head bytes are counted a received chunk at a time, from the chunk after the previous head
    ended: a head is cut off within one chunk past `HEAD_LIMIT`, and what httptools holds stays bounded.
    """

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None,
        *, head_timeout: float = HEAD_TIMEOUT, head_started: float | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timeout = head_timeout
        self._in_head = True  # between two messages or inside a head, not in a body
        self._head_bytes = 0
        self._head_started = head_started  # loop time of the head's first byte
        self._head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._in_head or self.transport.is_closing() or self.parser is None:
            return
        if self._head_bytes > HEAD_LIMIT:
            self._refuse(TOO_LARGE)
        elif self._head_started is not None and self._head_timer is None:
            self._head_timer = self.loop.call_at(self._head_started + self._head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    # httptools' callbacks

    def on_message_begin(self) -> None:
        if self._head_started is None:
            self._head_started = self.loop.time()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._head_started = None
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()

    # refusals

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and self._head_started is not None and not self.transport.is_closing():
            self._refuse(TIMED_OUT)

    def _refuse(self, answer: bytes) -> None:
        self._cancel_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is still being written: no room for another
            return
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        self.parser = None  # type: ignore[assignment]
        refuse(self.transport, self.loop, answer)
