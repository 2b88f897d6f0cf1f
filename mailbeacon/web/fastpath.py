"""Answer tracking requests with a lean HTTP/1.1 protocol; hand anything else to uvicorn.

Measured on the 2-core test machine with the server pinned to one core:
uvicorn's protocol spends more CPU per request (a scope dict, a parser
callback per header, a keep-alive timer armed and cancelled per request)
than the pixel itself does. This protocol splits the request head into its
lines once, which is all a pixel or a redirect needs, and reaches the issue's 25 % of nginx.

It takes only what it can answer exactly: a complete request head for /o/ or
/c/ in HTTP/1.1 whose every line is as RFC 9112 §5 writes it, with one Host and
without escapes, body, upgrade or `Connection: close`. At the first request it
does not take, it hands the connection with every unread byte to uvicorn's own
protocol (bounded as `head_limits` says), which serves the ASGI app (and, through
it, the same `Tracking.answer`) from then on. Requests pipelined behind a pending one wait in order.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from mailbeacon.web.head_limits import HEAD_LIMIT, HEAD_TIMEOUT, TIMED_OUT, TOO_LARGE, BoundedHttpToolsProtocol, refuse
from mailbeacon.web.tracking import SERVICE_UNAVAILABLE, Response, Tracking

MAX_BUFFERED = 65536
"""Pipelined bytes held while a request waits for its commit, before reading pauses."""

_CONTROL = bytes(range(0x21)) + b"\x7f%"
_CTL = bytes(b for b in range(0x20) if b != 0x09) + b"\x7f"
"""RFC 9110 §5.5: no control byte but HTAB in a field line; CR and LF only as the CRLF that ends one."""
_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
"""RFC 9110 §5.6.2: the bytes of a token, such as a field name."""
_METHODS = frozenset((b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"PATCH"))
"""Methods answered here (all but GET and HEAD with 405); none has a body without Content-Length
or Transfer-Encoding (RFC 9112 §6.3), and CONNECT, which has special framing, is not among them."""
_HOST, _USER_AGENT, _FORWARDED, _CONNECTION, _FRAMING = range(5)
_FIELDS = {
    b"host": _HOST,
    b"user-agent": _USER_AGENT,
    b"x-forwarded-for": _FORWARDED,
    b"connection": _CONNECTION,
    b"content-length": _FRAMING,  # a body: uvicorn frames it
    b"transfer-encoding": _FRAMING,
    b"upgrade": _FRAMING,
    b"expect": _FRAMING,
}


def parse_head(head: bytes) -> tuple[str, str, str, str] | None:
    """(method, path, user agent, X-Forwarded-For) of a request head we answer ourselves, else None.

    `head` ends before the blank line. Anything RFC 9112 §5 does not allow, or that a server may
    read two ways (a space before the colon, a bare CR or LF, obs-fold, a second Host), is None:
    uvicorn then answers 400 or frames it as its parser does.

    >>> parse_head(b"GET /o/abc.gif?x=1 HTTP/1.1\\r\\nHost: h\\r\\nUser-Agent:  Mail/1 \\r\\nAccept: */*")
    ('GET', '/o/abc.gif', 'Mail/1', '')
    >>> parse_head(b"GET /o/a%27.gif HTTP/1.1\\r\\nHost: h") is None
    True
    >>> parse_head(b"GET /o/abc.gif HTTP/1.1\\r\\nHost: h\\r\\nContent-Length : 34") is None
    True
    """
    lines = head.split(b"\r\n")
    if len(head.translate(None, _CTL)) != len(head) - 2 * (len(lines) - 1):
        return None  # a bare CR or LF, a NUL or another control byte
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if (
        version != b"HTTP/1.1"
        or method not in _METHODS
        or not target.startswith((b"/o/", b"/c/"))
        or not target.isascii()
        or len(target.translate(None, _CONTROL)) != len(target)
    ):
        return None
    hosts = 0
    user_agent = forwarded = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name.translate(None, _TCHAR):
            return None  # no colon, or a name that is not a token (whitespace before the colon, obs-fold)
        kind = _FIELDS.get(name.lower())
        if kind is None:
            continue
        if kind == _HOST:
            hosts += 1
        elif kind == _USER_AGENT:
            user_agent = value if user_agent is None else user_agent  # the first, as the ASGI path reads it
        elif kind == _FORWARDED:
            forwarded = value if forwarded is None else forwarded
        elif kind == _CONNECTION:
            # RFC 9110 §7.6.1: a list, maybe over several lines; we keep alive, so "close" or any other option goes on
            for option in value.split(b","):
                if option.strip(b" \t").lower() not in (b"keep-alive", b""):
                    return None
        else:
            return None
    if hosts != 1:
        return None  # RFC 9112 §3.2: uvicorn brings it to the app, which answers 400
    path = target.split(b"?", 1)[0].split(b"#", 1)[0].decode("ascii")
    return method.decode("ascii"), path, _text(user_agent), _text(forwarded)


def _text(value: bytes | None) -> str:
    return "" if value is None else value.strip(b" \t").decode("latin-1")


def _is_irregular(partial: bytes) -> bool:
    """Whether an incomplete head already holds a byte uvicorn's parser would stop at (a bare CR or LF, a NUL...)."""
    pending_cr = partial.endswith(b"\r")  # maybe the first half of a CRLF
    return len(partial.translate(None, _CTL)) + 2 * partial.count(b"\r\n") + pending_cr != len(partial)


class TrackingProtocol(asyncio.Protocol):
    """One connection; constructed by uvicorn as its `http` protocol class (see `protocol_for`)."""

    tracking: Tracking
    head_timeout: float = HEAD_TIMEOUT

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_event_loop()
        self._keep_alive = float(config.timeout_keep_alive)
        self._limit_concurrency: int | None = config.limit_concurrency
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
        self._head_since = 0.0  # when the first byte of the head in the buffer came
        self._idle_timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        peer = transport.get_extra_info("peername")
        self._client = peer[0] if isinstance(peer, tuple) else ""
        self._server_state.connections.add(self)
        self._last_activity = self._loop.time()
        self._arm(self._last_activity + self._keep_alive)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._closing = True
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._last_activity = self._loop.time()
        if self._buffer:
            self._buffer += data
        else:
            self._buffer = data
            self._head_since = self._last_activity
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
                if end < 0 or end > HEAD_LIMIT:
                    self._await_head(buffer, end)
                    break
                request = parse_head(buffer[:end])
                if request is None:
                    self._hand_over()
                    break
                method, path, user_agent, forwarded = request
                self._buffer = buffer[end + 4 :]
                self._head_since = self._last_activity  # the next head, if any, came with the last bytes
                if self._limit_concurrency is not None and len(self._server_state.connections) >= self._limit_concurrency:
                    self._closing = True  # as uvicorn does past its limit_concurrency
                    self._head_only = method == "HEAD"
                    self._busy = True
                    self._done(SERVICE_UNAVAILABLE)
                    break
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

    def _await_head(self, buffer: bytes, end: int) -> None:
        """The buffer holds no complete head yet: refuse it if too long, hand it over if irregular, else wait for it."""
        if end > HEAD_LIMIT or len(buffer) > HEAD_LIMIT:
            self._refuse(TOO_LARGE)
        elif _is_irregular(buffer):
            self._hand_over()  # uvicorn answers it as its parser reads it, at once
        elif self._head_since + self.head_timeout < self._timer_due:
            self._arm(self._head_since + self.head_timeout)

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
        transport = self._release()
        successor = BoundedHttpToolsProtocol(
            config=self._config, server_state=self._server_state, app_state=self._app_state, _loop=self._loop,
            head_timeout=self.head_timeout, head_started=self._head_since,
        )
        successor.connection_made(transport)
        transport.set_protocol(successor)
        buffered, self._buffer = self._buffer, b""
        successor.data_received(buffered)

    def _refuse(self, answer: bytes) -> None:
        """Answer a head we will not read (too long, too slow) and close the connection."""
        transport = self._release()
        self._buffer = b""
        refuse(transport, self._loop, answer)

    def _release(self) -> asyncio.Transport:
        """Give up the connection: uvicorn's server no longer counts it as ours."""
        transport = self._transport
        assert transport is not None
        self._server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._paused:
            self._paused = False
            transport.resume_reading()
        self._transport = None
        return transport

    # the one timer of a connection: keep-alive and head deadlines, not re-armed per request

    def _arm(self, due: float) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._timer_due = due
        self._idle_timer = self._loop.call_at(due, self._check_idle)

    def _check_idle(self) -> None:
        """Close a keep-alive connection idle for the configured timeout, or one whose head is late."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        now = self._loop.time()
        waiting_head = bool(self._buffer) and not self._busy
        if waiting_head and now >= self._head_since + self.head_timeout:
            self._refuse(TIMED_OUT)  # issue #12: however slowly the bytes trickle in
            return
        idle = now - self._last_activity
        if not self._busy and idle >= self._keep_alive:
            transport.close()
            return
        due = self._last_activity + self._keep_alive
        if waiting_head:
            due = min(due, self._head_since + self.head_timeout)
        self._arm(max(due, now + 0.05))


def protocol_for(tracking: Tracking, head_timeout: float = HEAD_TIMEOUT) -> type[TrackingProtocol]:
    """The protocol class for uvicorn's `http=` setting, bound to this process's `Tracking`."""
    return type("BoundTrackingProtocol", (TrackingProtocol,), {"tracking": tracking, "head_timeout": head_timeout})
