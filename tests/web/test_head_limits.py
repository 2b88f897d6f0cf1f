"""# issue #12: request heads are bounded in size and in time, on the fast path and after the hand-over to uvicorn,
and slow clients do not take the server from everyone else."""

from __future__ import annotations

import re
import resource
import secrets
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from mailbeacon.web.tracking import GIF
from tests.support.servers import Server, running_server, start_server

HANDED_OVER = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
"""A request the fast path leaves to uvicorn: the connection is uvicorn's from then on."""


def _connect(server: Server) -> socket.socket:
    raw = server.connect()
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return raw


def _read_answer(raw: socket.socket) -> bytes:
    """One whole answer (head and body, by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += raw.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += raw.recv(65536)
    return data


def _memory_kb(server: Server, field: str) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


def _send_huge_head(server: Server, first: bytes, size: int, answers: list[bytes]) -> None:
    """Send `first`, then a head of `size` bytes in 64 KB pieces, until the server answers or closes."""
    with _connect(server) as raw:
        if first:
            raw.sendall(first)
            _read_answer(raw)
        raw.sendall(b"GET /o/x.gif HTTP/1.1\r\nHost: x\r\nX-Filler: ")
        piece, sent, received = b"a" * 65536, 0, b""
        try:
            while sent < size:
                if select.select([raw], [], [], 0)[0]:
                    break  # answered: read it
                raw.sendall(piece)
                sent += len(piece)
            while chunk := raw.recv(65536):
                received += chunk
        except OSError:  # reset, or no answer in time
            pass
        answers.append(received)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("heads") / "data", "--head-timeout", "1") as running:
        yield running


def test_24_mb_heads_get_431_and_the_server_stays_small(server: Server) -> None:
    httpx.get(server.url + "/healthz")  # the app warm
    peak_before = _memory_kb(server, "VmHWM")
    answers: list[bytes] = []
    senders = [
        threading.Thread(target=_send_huge_head, args=(server, first, 24 << 20, answers))
        for first in (b"", b"", HANDED_OVER, HANDED_OVER)  # on the fast path, and on uvicorn's after the hand-over
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    growth_mb = (_memory_kb(server, "VmHWM") - peak_before) / 1024
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 431 Request Header Fields Too Large"] * 4
    assert growth_mb < 32, f"the server's peak memory grew by {growth_mb:.0f} MB"  # 110 MB before issue #12's fix
    assert httpx.get(server.url + "/healthz").status_code == 200


def _trickle(server: Server, first: bytes) -> tuple[bytes, float]:
    """A head one byte every 0.1 s for up to 8 s; what the server sent, and when it closed (from the head's first byte)."""
    with _connect(server) as raw:
        if first:
            raw.sendall(first)
            _read_answer(raw)
        head = b"GET /o/x.gif HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
        received, start = b"", time.monotonic()
        try:
            for byte in head:
                if select.select([raw], [], [], 0.1)[0]:
                    chunk = raw.recv(65536)
                    received += chunk
                    if not chunk:
                        return received, time.monotonic() - start
                if time.monotonic() - start > 8:
                    break
                raw.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return received, time.monotonic() - start
        return received, float("inf")


@pytest.mark.parametrize("first", [b"", HANDED_OVER], ids=["fast path", "after the hand-over"])
def test_a_one_byte_trickle_is_closed_within_the_head_timeout(server: Server, first: bytes) -> None:
    received, closed_after = _trickle(server, first)  # the server runs with --head-timeout 1
    assert received.startswith(b"HTTP/1.1 408 "), received
    assert closed_after < 1 + 3  # the head timeout, plus the 2 s it reads on so the client reads the 408


@contextmanager
def _open_files_limit(soft: int) -> Iterator[None]:
    """Processes started inside inherit this soft limit, as on a system whose default is 1,024."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, before[1]), before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_a_new_client_gets_its_pixel_while_1000_slow_connections_are_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 2200:
        pytest.skip("the hard limit on open files is below 2,200 here")
    with _open_files_limit(1024):  # the server raises it to the hard limit when it starts
        server = start_server(data, "--head-timeout", "60")
    try:
        keyring = Keyring.load_or_create(data)
        slow_deliveries = [secrets.token_bytes(12) for _ in range(1000)]
        slow = []
        try:
            for delivery in slow_deliveries:
                raw = _connect(server)
                raw.sendall(f"GET /o/{keyring.sign_open(delivery)}.gif HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
                slow.append(raw)
            for raw in slow:
                raw.sendall(b"a")  # still coming, byte by byte
            new = secrets.token_bytes(12)
            pixel = httpx.get(f"{server.url}/o/{keyring.sign_open(new)}.gif", timeout=10)
            assert (pixel.status_code, pixel.content) == (200, GIF)
            for raw in slow:
                raw.sendall(b"\r\n\r\n")
            answers = [_read_answer(raw) for raw in slow]
        finally:
            for raw in slow:
                raw.close()
        assert all(answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(GIF) for answer in answers)
        with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
            stored = {row.delivery_key for row in store.events_after(0, 10_000, None)}
        assert stored == {new, *slow_deliveries}
    finally:
        server.stop()


def test_past_max_connections_requests_get_503(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--max-connections", "20") as server:
        keyring = Keyring.load_or_create(server.data_dir)
        idle = [_connect(server) for _ in range(20)]
        try:
            time.sleep(0.2)  # accepted
            for request in (f"GET /o/{keyring.sign_open(b'full' * 3)}.gif HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                            HANDED_OVER):
                with _connect(server) as raw:
                    raw.sendall(request)
                    assert _read_answer(raw).startswith(b"HTTP/1.1 503 "), request
        finally:
            for raw in idle:
                raw.close()
        time.sleep(0.2)
        assert httpx.get(f"{server.url}/o/{keyring.sign_open(b'room' * 3)}.gif").status_code == 200
