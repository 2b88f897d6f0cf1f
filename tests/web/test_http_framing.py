"""# issue #12: the fast path frames every request head as uvicorn does, or leaves it to uvicorn.

The same heads go over raw sockets to `mailbeacon serve` (fast path) and to the same app under
stock uvicorn (httptools); both must give the same answers, close alike and store the same events.
A property checks `parse_head` against two real HTTP parsers, httptools and h11.
"""

from __future__ import annotations

import re
import secrets
import selectors
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import h11
import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from mailbeacon.web.fastpath import parse_head
from tests.support.servers import Server, running_server

SMUGGLED = b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"  # 34 bytes: a body to one reading, a request to another
assert len(SMUGGLED) == 34

# {o} is a valid pixel path, {c} a valid click path, each for a delivery of its own.
HEADS: dict[str, bytes] = {
    "plain pixel": b"GET {o} HTTP/1.1\r\nHost: x\r\n\r\n",
    "plain click": b"GET {c} HTTP/1.1\r\nHost: x\r\nUser-Agent: Mail/1\r\n\r\n",
    "space before the colon": b"GET {o} HTTP/1.1\r\nHost: x\r\nContent-Length : 34\r\n\r\n" + SMUGGLED,
    "tab before the colon": b"GET {o} HTTP/1.1\r\nHost: x\r\nContent-Length\t: 34\r\n\r\n" + SMUGGLED,
    "bare LF before Content-Length": b"GET {o} HTTP/1.1\r\nHost: x\nContent-Length: 34\r\n\r\n" + SMUGGLED,
    "bare CR before Content-Length": b"GET {o} HTTP/1.1\r\nHost: x\rContent-Length: 34\r\n\r\n" + SMUGGLED,
    "Content-Length body": b"GET {o} HTTP/1.1\r\nHost: x\r\nContent-Length: 34\r\n\r\n" + SMUGGLED,
    "Content-Length twice": b"GET {o} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 34\r\n\r\n" + SMUGGLED,
    "line without a colon": b"GET {o} HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    "empty field name": b"GET {o} HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
    "name not a token": b"GET {o} HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n",
    "NUL in a value": b"GET {o} HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "control byte in a value": b"GET {o} HTTP/1.1\r\nHost: x\r\nX-A: \x01\r\n\r\n",
    "DEL in a value": b"GET {c} HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n",
    "obs-text in a value": b"GET {o} HTTP/1.1\r\nHost: x\r\nUser-Agent: caf\xe9\r\n\r\n",
    "tabs around a value": b"GET {o} HTTP/1.1\r\nHost: x\r\nUser-Agent:\tMail/2\t\r\n\r\n",
    "no Host": b"GET {o} HTTP/1.1\r\nUser-Agent: Mail/1\r\n\r\n",
    "two Hosts": b"GET {o} HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "empty Host": b"GET {o} HTTP/1.1\r\nHost:\r\n\r\n",
    "second Connection: close": b"GET {o} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
    "Connection list with close": b"GET {c} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n",
    "Connection: closed": b"GET {o} HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n",
    "obs-fold": b"GET {o} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "obs-fold first line": b"GET {o} HTTP/1.1\r\n Host: x\r\n\r\n",
    "Transfer-Encoding chunked": b"GET {o} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding with space": b"GET {o} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding gzip, chunked": b"GET {c} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding and Content-Length": (
        b"GET {o} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 34\r\n\r\n0\r\n\r\n" + SMUGGLED
    ),
    "Transfer-Encoding identity": b"GET {o} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n" + SMUGGLED,
    "bare LF line ends": b"GET {o} HTTP/1.1\nHost: x\n\n",
    "LF then CRLF end": b"GET {o} HTTP/1.1\r\nHost: x\n\r\n",
    "CRLF then LF end": b"GET {o} HTTP/1.1\r\nHost: x\r\n\n",
    "HTTP/1.0": b"GET {o} HTTP/1.0\r\nHost: x\r\n\r\n",
    "HTTP/1.0 without Host": b"GET {o} HTTP/1.0\r\n\r\n",
    "two spaces in the request line": b"GET {o}  HTTP/1.1\r\nHost: x\r\n\r\n",
    "DEL in the target": b"GET {o}?a=\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
    "fragment in the target": b"GET {o}#frag HTTP/1.1\r\nHost: x\r\n\r\n",
    "upgrade": b"GET {o} HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
    "expect 100-continue": b"GET {o} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
    "pipelined pixel and click": b"GET {o} HTTP/1.1\r\nHost: x\r\n\r\nGET {c} HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined after a body": b"GET {o} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET {c} HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined behind a bad one": b"GET {o} HTTP/1.1\r\nHost: x\r\n\r\nGET {c} HTTP/1.1\r\nHost : x\r\n\r\n" + SMUGGLED,
    "TRACE": b"TRACE {o} HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS": b"OPTIONS {c} HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST with a body": b"POST {c} HTTP/1.1\r\nHost: x\r\nContent-Length: 34\r\n\r\n" + SMUGGLED,
    "CONNECT": b"CONNECT {o} HTTP/1.1\r\nHost: x\r\n\r\n",
    "lower-case method": b"get {o} HTTP/1.1\r\nHost: x\r\n\r\n",
}

ANSWERS_WHAT_UVICORN_DROPS = "pipelined behind a bad one"


@dataclass
class Exchange:
    sock: socket.socket
    received: bytearray = field(default_factory=bytearray)
    closed: bool = False


def exchange_all(requests: list[tuple[Server, bytes]], quiet: float = 2.5) -> list[tuple[list[bytes], bool]]:
    """Send every request to its server on a connection of its own, all at once; read until each closes
    or `quiet` s pass.

    Returns, per connection, the status codes received and whether the server closed it.
    (uvicorn's keep-alive timeout is 5 s, so a connection still open after `quiet` was kept alive.)
    """
    exchanges = [Exchange(server.connect()) for server, _ in requests]
    selector = selectors.DefaultSelector()
    try:
        for one, (_, request) in zip(exchanges, requests):
            one.sock.sendall(request)
            one.sock.setblocking(False)
            selector.register(one.sock, selectors.EVENT_READ, one)
        deadline = time.monotonic() + quiet
        while selector.get_map() and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                one = key.data
                try:
                    chunk = one.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    one.received += chunk
                else:
                    one.closed = True
                    selector.unregister(one.sock)
    finally:
        selector.close()
        for one in exchanges:
            one.sock.close()
    return [(re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(one.received)), one.closed) for one in exchanges]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    base = tmp_path_factory.mktemp("framing")
    with running_server(base / "fast") as fast, running_server(base / "plain", module="tests.support.plain_uvicorn") as plain:
        yield fast, plain


def _requests(server: Server) -> tuple[list[bytes], list[bytes]]:
    """Each head with tokens of this server's keys, and the deliveries they name (two per head)."""
    keyring = Keyring.load_or_create(server.data_dir)
    requests, deliveries = [], []
    for _ in HEADS:
        opened, clicked = secrets.token_bytes(12), secrets.token_bytes(12)
        deliveries += [opened, clicked]
    for i, head in enumerate(HEADS.values()):
        pixel = f"/o/{keyring.sign_open(deliveries[2 * i])}.gif".encode()
        click = f"/c/{keyring.sign_click(deliveries[2 * i + 1], 0, 'https://example.com/')}".encode()
        requests.append(head.replace(b"{o}", pixel).replace(b"{c}", click))
    return requests, deliveries


def _events_per_head(server: Server, deliveries: list[bytes]) -> list[int]:
    with open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}") as store:
        stored = [row.delivery_key for row in store.events_after(0, 100_000, None)]
    return [stored.count(deliveries[i]) + stored.count(deliveries[i + 1]) for i in range(0, len(deliveries), 2)]


def test_tricky_heads_get_the_same_framing_from_the_fast_path_as_from_uvicorn(servers: tuple[Server, Server]) -> None:
    fast, plain = servers
    fast_requests, fast_deliveries = _requests(fast)
    plain_requests, plain_deliveries = _requests(plain)
    answered = exchange_all([(fast, r) for r in fast_requests] + [(plain, r) for r in plain_requests])
    fast_answers, plain_answers = answered[: len(HEADS)], answered[len(HEADS) :]
    fast_events = _events_per_head(fast, fast_deliveries)
    plain_events = _events_per_head(plain, plain_deliveries)
    differences = [
        f"{name}: fast path {fa} stored {fe}, uvicorn {pa} stored {pe}"
        for name, fa, pa, fe, pe in zip(HEADS, fast_answers, plain_answers, fast_events, plain_events)
        if (fa, fe) != (pa, pe) and name != ANSWERS_WHAT_UVICORN_DROPS
    ]
    assert not differences, "\n".join(differences)
    answers = dict(zip(HEADS, fast_answers))
    # uvicorn writes its 400 for the second request and closes before the first one's answer (stored) is written;
    # the fast path answers the first, then uvicorn refuses the second alike.
    assert answers[ANSWERS_WHAT_UVICORN_DROPS] == ([b"200", b"400"], True)
    assert dict(zip(HEADS, plain_answers))[ANSWERS_WHAT_UVICORN_DROPS] == ([b"400"], True)
    assert answers["plain pixel"] == ([b"200"], False)  # the table does reach the fast path
    assert answers["space before the colon"] == ([b"400"], True)  # and the smuggled request never runs
    assert answers["two Hosts"][0] == [b"400"] and answers["no Host"][0] == [b"400"]  # RFC 9112 §3.2


# The property: whatever parse_head takes, two real parsers read the same way: one request, no
# body, kept alive, the same method, target, User-Agent and X-Forwarded-For.

_BYTES = b"aZ0-_.:;, \t\r\n\x00\x01\x7f\xff\"()/?=%"
_GOOD = [
    b"User-Agent: Mail/1", b"User-Agent:", b"user-agent:  Mozilla/5.0 (X11)  ", b"X-Forwarded-For: 203.0.113.9",
    b"Connection: keep-alive", b"connection: Keep-Alive, ", b"Accept: */*", b"X-A: \xe9\t", b"Accept-Encoding: gzip",
]
_TRICKY = [
    b"Host: x", b"Connection: close", b"connection: Keep-Alive, x", b"Content-Length: 0", b"Content-Length : 5",
    b"Transfer-Encoding: chunked", b"Host : x", b" Host: x", b"User-Agent: x\r", b"User-Agent: x\ny: z", b"\tX: y",
    b"Upgrade: h2c", b"Expect: 100-continue", b"User-Agent: a\x00", b"X-Forwarded-For: 1.2.3.4\x7f", b"",
]
_lines = st.one_of(
    st.sampled_from(_GOOD),
    st.sampled_from(_TRICKY),
    st.builds(lambda n, v: n + b":" + v, st.sampled_from([b"X", b"User-Agent", b"Host", b"X(", b"X Y", b"\xffX"]),
              st.lists(st.sampled_from(list(_BYTES)), max_size=8).map(bytes)),
    st.lists(st.sampled_from(list(_BYTES)), max_size=12).map(bytes),
)


def _head(method: bytes, target: bytes, version: bytes, lines: list[bytes], host_at: int, sep: bytes) -> bytes:
    lines = [*lines[:host_at], b"Host: track.example", *lines[host_at:]]
    return method + b" " + target + b" " + version + b"".join(sep + line for line in lines)


_wild_heads = st.builds(
    _head,
    st.sampled_from([b"GET", b"HEAD", b"TRACE", b"POST", b"CONNECT", b"GE T", b"get"]),
    st.sampled_from([b"/o/abc.gif", b"/c/tok?u=1", b"/o/a\x00b.gif", b"/c/a b", b"/o/x.gif#f", b"/healthz"]),
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1 ", b"http/1.1"]),
    st.lists(_lines, max_size=6),
    st.integers(0, 6),
    st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r"]),
)
_near_heads = st.builds(  # mostly regular heads, with at most one odd line: most are taken
    lambda method, target, lines, odd, at, host_at: _head(method, target, b"HTTP/1.1", [*lines[:at], *odd, *lines[at:]],
                                                          host_at, b"\r\n"),
    st.sampled_from([b"GET", b"HEAD", b"OPTIONS"]),
    st.sampled_from([b"/o/abc.gif", b"/c/tok?u=1", b"/c/tok#x"]),
    st.lists(st.sampled_from(_GOOD), max_size=5),
    st.lists(_lines, max_size=1),
    st.integers(0, 5),
    st.integers(0, 6),
)
_heads = st.one_of(_near_heads, _wild_heads)


class _Reader:
    """httptools' callbacks, collecting one request."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = 0
        self.body = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value.strip(b" \t")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete += 1


def _first(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((value.decode("latin-1") for key, value in headers if key == name), "")


@settings(max_examples=400, deadline=None)
@given(_heads)
def test_what_the_fast_path_takes_httptools_and_h11_read_the_same(head: bytes) -> None:
    taken = parse_head(head)
    if taken is None:
        return
    method, path, user_agent, forwarded = taken
    wire = head + b"\r\n\r\n"

    reader = _Reader()
    parser = httptools.HttpRequestParser(reader)
    parser.feed_data(wire)  # raises on anything llhttp refuses
    assert reader.complete == 1 and reader.body == b"" and parser.should_keep_alive() and not parser.should_upgrade()
    assert parser.get_method().decode() == method
    assert httptools.parse_url(reader.url).path.decode() == path
    assert [key for key, _ in reader.headers].count(b"host") == 1
    assert (_first(reader.headers, b"user-agent"), _first(reader.headers, b"x-forwarded-for")) == (user_agent, forwarded)

    connection = h11.Connection(h11.SERVER)
    connection.receive_data(wire)
    request = connection.next_event()
    assert isinstance(request, h11.Request), request
    assert isinstance(connection.next_event(), h11.EndOfMessage)  # no body
    assert connection.next_event() is h11.NEED_DATA and connection.our_state is h11.SEND_RESPONSE
    assert (request.method.decode(), request.target.decode().split("?")[0].split("#")[0]) == (method, path)
    assert _first(list(request.headers), b"user-agent") == user_agent
    assert _first(list(request.headers), b"x-forwarded-for") == forwarded
    assert b"close" not in [t.strip().lower() for k, v in request.headers if k == b"connection" for t in v.split(b",")]
