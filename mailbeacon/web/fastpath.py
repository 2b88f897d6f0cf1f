"""Answer tracking requests straight from uvicorn's HTTP protocol, in one write.

Measured on the 2-core test machine: uvicorn's ASGI request cycle (a task, an
event, a scope dict, two writes per response) cost more than everything the
pixel itself does. This protocol subclass takes plain GET/HEAD requests for
/o/ and /c/ on keep-alive connections, hands them to `Tracking.answer`, and
writes the finished response once the event is durable. Anything else
(pipelined requests behind a pending one, percent-escaped paths, other
methods, upgrades, connection: close) goes through uvicorn and the ASGI app
as usual, to the same `Tracking.answer`.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mailbeacon.web.tracking import Response, Tracking


class _NoEvent:
    def set(self) -> None:
        pass


class _FastCycle:
    """What uvicorn's protocol reads of the current request cycle while ours waits for its commit."""

    __slots__ = ("body", "disconnected", "keep_alive", "message_event", "more_body", "response_complete")

    def __init__(self) -> None:
        self.response_complete = False
        self.disconnected = False
        self.more_body = True
        self.keep_alive = True
        self.body = b""
        self.message_event = _NoEvent()


def tracking_protocol(tracking: Tracking) -> type[HttpToolsProtocol]:
    class TrackingProtocol(HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            url: bytes = self.url
            busy = self.cycle is not None and not self.cycle.response_complete
            if (
                busy
                or not url.startswith((b"/o/", b"/c/"))
                or b"%" in url
                or not self.parser.should_keep_alive()
                or self.parser.should_upgrade()
            ):
                return super().on_headers_complete()
            method = self.parser.get_method()
            if method not in (b"GET", b"HEAD"):
                return super().on_headers_complete()
            path = url.split(b"?", 1)[0].split(b"#", 1)[0].decode("latin-1")
            user_agent = next((v.decode("latin-1") for k, v in self.headers if k == b"user-agent"), "")
            cycle = _FastCycle()
            self.cycle = cycle  # type: ignore[assignment]
            head_only = method == b"HEAD"
            client: Any = self.client

            def done(response: Response) -> None:
                if cycle.disconnected or self.transport.is_closing():
                    cycle.response_complete = True
                    return
                self.transport.write(response.http11(head_only))
                cycle.response_complete = True
                if not cycle.keep_alive:  # the server began to shut down meanwhile
                    self.transport.close()
                    return
                self.on_response_complete()

            tracking.answer(path, method.decode("ascii"), client[0] if client else "", user_agent, done)
            return None

    return TrackingProtocol
