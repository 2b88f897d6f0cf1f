"""# issue #12: only GET and HEAD on /o/ and /c/ are reads; every other method gets 405 and records nothing."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest

from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from tests.support.servers import Server, running_server

METHODS = ["TRACE", "OPTIONS", "POST", "DELETE", "PUT", "PATCH", "PROPFIND"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("methods") / "data") as running:
        yield running


def _stored(server: Server, deliveries: list[bytes]) -> list[tuple[bytes, str]]:
    with open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}") as store:
        wanted = set(deliveries)
        return [(row.delivery_key, row.method) for row in store.events_after(0, 100_000, None) if row.delivery_key in wanted]


def _paths(keyring: Keyring, delivery: bytes) -> list[str]:
    return [f"/o/{keyring.sign_open(delivery)}.gif", f"/c/{keyring.sign_click(delivery, 0, 'https://example.com/')}"]


@pytest.mark.parametrize("method", METHODS)
def test_other_methods_get_405_on_both_paths_and_record_nothing(server: Server, method: str) -> None:
    keyring = Keyring.load_or_create(server.data_dir)
    refused, read = secrets.token_bytes(12), secrets.token_bytes(12)
    requests = b""
    for path in _paths(keyring, refused):
        requests += f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()  # no body: the fast path's
        requests += f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi".encode()  # a body: uvicorn's
        requests += f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()  # after the hand-over
    last_pixel, last_click = _paths(keyring, read)
    requests += f"GET {last_pixel} HTTP/1.1\r\nHost: x\r\n\r\n".encode()  # the connection still frames right
    requests += f"HEAD {last_click} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    answer = server.exchange(requests)
    heads = re.findall(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n((?:[^\r]+\r\n)*)", answer)
    assert [status for status, _ in heads] == [b"405"] * 6 + [b"200", b"302"], answer
    for _, fields in heads[:6]:
        assert b"allow: GET, HEAD\r\n" in fields
    assert _stored(server, [refused, read]) == [(read, "GET"), (read, "HEAD")]


def test_connect_gets_405_and_records_nothing(server: Server) -> None:
    """CONNECT makes the rest of the connection a tunnel to httptools: one request a connection."""
    keyring = Keyring.load_or_create(server.data_dir)
    delivery = secrets.token_bytes(12)
    for path in _paths(keyring, delivery):
        answer = server.exchange(f"CONNECT {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 405 ") and b"\r\nallow: GET, HEAD\r\n" in answer, answer
    assert _stored(server, [delivery]) == []


def test_other_methods_from_an_http_client_get_405(server: Server) -> None:
    keyring = Keyring.load_or_create(server.data_dir)
    delivery = secrets.token_bytes(12)
    with httpx.Client(base_url=server.url) as client:
        for path in _paths(keyring, delivery):
            for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
                response = client.request(method, path, content=b"x=1")
                assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD"), (method, path)
                assert "location" not in response.headers
    assert _stored(server, [delivery]) == []
