"""The pixel and the redirect, against a real `mailbeacon serve` on 127.0.0.1 and a real HTTP client."""

from __future__ import annotations

import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailbeacon.store import Store, open_store
from mailbeacon.tokens import Keyring
from mailbeacon.web.tracking import GIF
from tests.support.servers import Server, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve") / "data", "--public-metrics") as running:
        yield running


@pytest.fixture(scope="module")
def keyring(server: Server) -> Keyring:
    return Keyring.load_or_create(server.data_dir)


@pytest.fixture()
def store(server: Server) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}")
    yield opened
    opened.close()


def events_for(store: Store, delivery: bytes) -> list[object]:
    return [row for row in store.events_after(0, 100_000, None) if row.delivery_key == delivery]


def test_pixel_answers_the_gif_uncached_and_records_the_open(server: Server, keyring: Keyring, store: Store) -> None:
    delivery = secrets.token_bytes(12)
    response = httpx.get(f"{server.url}/o/{keyring.sign_open(delivery)}.gif", headers={"User-Agent": "Thunderbird/128"})
    assert response.status_code == 200
    assert response.content == GIF and len(GIF) == 43
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-cache, no-store, must-revalidate, private"
    (event,) = events_for(store, delivery)
    assert (event.type, event.user_agent, event.method, event.ip) == ("open", "Thunderbird/128", "GET", "127.0.0.1")


def test_head_on_the_pixel_is_recorded_as_head(server: Server, keyring: Keyring, store: Store) -> None:
    delivery = secrets.token_bytes(12)
    response = httpx.head(f"{server.url}/o/{keyring.sign_open(delivery)}.gif")
    assert response.status_code == 200 and response.content == b""
    assert [e.method for e in events_for(store, delivery)] == ["HEAD"]


def test_bad_pixel_token_gets_the_same_answer_and_records_nothing(server: Server, keyring: Keyring, store: Store) -> None:
    good = httpx.get(f"{server.url}/o/{keyring.sign_open(secrets.token_bytes(12))}.gif")
    before = store.count_events()
    other = Keyring({0: secrets.token_bytes(32)}, active=0)
    for token in ("x", keyring.sign_open(b"d" * 12)[:-2], other.sign_open(b"d" * 12), "A" * 10_000):
        bad = httpx.get(f"{server.url}/o/{token}.gif")
        assert (bad.status_code, bad.content) == (good.status_code, good.content)
        assert dict(bad.headers) == dict(good.headers), "no validity oracle in the headers either"
    assert store.count_events() == before


def test_click_redirects_to_the_exact_target(server: Server, keyring: Keyring, store: Store) -> None:
    delivery = secrets.token_bytes(12)
    target = "https://example.com/p?a=1&b=%2F%25&c[0]=x#frag"
    token = keyring.sign_click(delivery, 3, target)
    response = httpx.get(f"{server.url}/c/{token}?redirect=https://evil.test/&u=x")
    assert response.status_code == 302
    assert response.headers["location"] == target, "query parameters on the tracking URL never change the target"
    (event,) = events_for(store, delivery)
    assert (event.type, event.link_idx, event.url) == ("click", 3, target)


def test_every_flipped_byte_of_a_click_token_redirects_nowhere(server: Server, keyring: Keyring, store: Store) -> None:
    token = keyring.sign_click(secrets.token_bytes(12), 0, "https://example.com/")
    before = store.count_events()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    with httpx.Client(base_url=server.url) as client:
        for i, char in enumerate(token):
            flipped = token[:i] + alphabet[(alphabet.index(char) + 1) % 64] + token[i + 1 :]
            response = client.get(f"/c/{flipped}")
            assert response.status_code == 404, (i, response.status_code)
            assert "location" not in response.headers
    assert store.count_events() == before


def test_scanner_probes_get_no_500_and_record_nothing(server: Server, keyring: Keyring, store: Store) -> None:
    token = keyring.sign_click(secrets.token_bytes(12), 0, "https://example.com/")
    before = store.count_events()
    probes = [
        f"/c/{token[:10]}",
        f"/c/{token}%27",
        f"/c/{token}'",
        f"//c/{token}",
        f"/c//{token}",
        f"/c/{token}/",
        "/c/" + "A" * 10_000,
        "/c/",
        "/o/.gif",
        "/o/%ff%fe.gif",
    ]
    with httpx.Client(base_url=server.url) as client:
        for probe in probes:
            response = client.get(probe)
            assert response.status_code in (200, 404), (probe, response.status_code)
            assert "location" not in response.headers, probe
    # Raw non-UTF-8 bytes in the request line, which httpx would escape.
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"GET /c/\xff\xfe\x80" + token.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = raw.recv(4096)
    assert answer.split(b" ")[1] in (b"400", b"404"), answer[:40]
    assert store.count_events() == before


def test_redirect_goes_only_to_http_and_https(server: Server, keyring: Keyring) -> None:
    for target in ("javascript:alert(1)", "data:text/html,x", "ftp://example.com/", "//evil.test/"):
        token = keyring.sign_click(secrets.token_bytes(12), 0, target)
        response = httpx.get(f"{server.url}/c/{token}")
        assert response.status_code == 404 and "location" not in response.headers


def test_health_and_metrics(server: Server) -> None:
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200 and health.json()["store"] is True
    metrics = httpx.get(f"{server.url}/metrics").text
    for name in ("mailbeacon_requests_total", "mailbeacon_events_written_total", "mailbeacon_batches_total",
                 "mailbeacon_spool_depth"):
        assert f"\n{name}" in "\n" + metrics


def test_several_workers_share_the_port_and_store_every_open(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--workers", "2") as two:
        keyring = Keyring.load_or_create(two.data_dir)
        deliveries = [secrets.token_bytes(12) for _ in range(200)]
        with httpx.Client(base_url=two.url) as client:
            for delivery in deliveries:
                assert client.get(f"/o/{keyring.sign_open(delivery)}.gif").status_code == 200
        store = open_store(f"sqlite:///{two.data_dir / 'mailbeacon.db'}")
        try:
            stored = {row.delivery_key for row in store.events_after(0, 1000, None)}
        finally:
            store.close()
    assert stored == set(deliveries)


def test_pipelined_requests_are_answered_in_order(server: Server, keyring: Keyring, store: Store) -> None:
    first, second = secrets.token_bytes(12), secrets.token_bytes(12)
    target = "https://example.com/second"
    requests = (
        f"GET /o/{keyring.sign_open(first)}.gif HTTP/1.1\r\nHost: x\r\n\r\n"
        f"GET /c/{keyring.sign_click(second, 1, target)} HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ).encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(requests)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"302", b"200"], answer
    assert f"location: {target}".encode() in answer.lower()
    assert answer.index(GIF) < answer.lower().index(b"location:")
    assert len(events_for(store, first)) == 1 and len(events_for(store, second)) == 1


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_until_closed(raw: socket.socket) -> bytes:
    answer = b""
    while chunk := raw.recv(65536):
        answer += chunk
    return answer


def test_a_request_arriving_byte_by_byte_is_answered_once_complete(server: Server, keyring: Keyring, store: Store) -> None:
    delivery = secrets.token_bytes(12)
    request = f"GET /o/{keyring.sign_open(delivery)}.gif HTTP/1.1\r\nHost: x\r\nUser-Agent: Slow/1\r\n\r\n".encode()
    with _connect(server) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(request)):
            raw.send(request[i : i + 1])
        raw.shutdown(socket.SHUT_WR)  # answered although the client sent all it will
        answer = _read_until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(GIF)
    assert [e.user_agent for e in events_for(store, delivery)] == ["Slow/1"]


def test_connection_close_gets_its_answer_then_the_close(server: Server, keyring: Keyring, store: Store) -> None:
    delivery = secrets.token_bytes(12)
    with _connect(server) as raw:
        raw.sendall(f"GET /o/{keyring.sign_open(delivery)}.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = _read_until_closed(raw)  # returns only because the server closed
    assert answer.count(b"HTTP/1.1 ") == 1 and answer.endswith(GIF)
    assert len(events_for(store, delivery)) == 1


def test_other_routes_after_tracking_requests_on_one_connection(server: Server, keyring: Keyring, store: Store) -> None:
    """The connection changes hands at the first request the lean path does not take; the rest keep their order."""
    first, second = secrets.token_bytes(12), secrets.token_bytes(12)
    requests = (
        f"GET /o/{keyring.sign_open(first)}.gif HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        f"HEAD /o/{keyring.sign_open(second)}.gif HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ).encode()
    with _connect(server) as raw:
        raw.sendall(requests)
        answer = _read_until_closed(raw)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [b"200", b"200", b"200", b"404"], answer
    assert b"# TYPE" in answer  # the metrics page, second as sent
    assert [e.method for e in events_for(store, first)] == ["GET"]
    assert [e.method for e in events_for(store, second)] == ["HEAD"]


def test_a_malformed_request_line_gets_a_400_and_records_nothing(server: Server, keyring: Keyring, store: Store) -> None:
    delivery = secrets.token_bytes(12)
    with _connect(server) as raw:
        raw.sendall(f"GET /o/{keyring.sign_open(delivery)}.gif HTTP/1.1 extra\r\nHost: x\r\n\r\n".encode())
        answer = _read_until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert events_for(store, delivery) == []


def test_an_idle_keep_alive_connection_is_closed(server: Server, keyring: Keyring) -> None:
    with _connect(server) as raw:
        raw.sendall(f"GET /o/{keyring.sign_open(b'idle')}.gif HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        start = time.monotonic()
        answer = _read_until_closed(raw)  # uvicorn's keep-alive timeout is 5 s
    assert answer.endswith(GIF) and 4 < time.monotonic() - start < 9


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(server: Server, keyring: Keyring, store: Store) -> None:
    behind, spoofed = secrets.token_bytes(12), secrets.token_bytes(12)
    # The test client is on loopback, which is trusted by default, as nginx on the same host would be.
    headers = {"X-Forwarded-For": "203.0.113.9, 198.51.100.20"}
    assert httpx.get(f"{server.url}/o/{keyring.sign_open(behind)}.gif", headers=headers).status_code == 200
    (event,) = events_for(store, behind)
    assert event.ip == "198.51.100.20"  # the hop our proxy saw; what the client wrote before it is not proof
    with running_server(server.data_dir.parent / "strict", "--trusted-proxy", "10.0.0.0/8") as strict:
        strict_keys = Keyring.load_or_create(strict.data_dir)
        url = f"{strict.url}/o/{strict_keys.sign_open(spoofed)}.gif"
        assert httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
        with open_store(f"sqlite:///{strict.data_dir / 'mailbeacon.db'}") as strict_store:
            (event,) = events_for(strict_store, spoofed)
    assert event.ip == "127.0.0.1"
