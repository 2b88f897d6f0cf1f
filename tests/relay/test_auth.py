"""Password guessing at the relay's AUTH, against a real server (issue #12, items 7 and 14).

The server runs with --smtp-plain-auth (loopback only), so raw clients can AUTH without TLS.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailbeacon.relay.replies import S421_AUTH_FAILURES
from mailbeacon.tokens import Keyring
from tests.support.servers import Server, running_server
from tests.support.smtp import RawSmtp, User, add_user

LIMIT = 5
"""Failed AUTHs of one client as one user within 15 minutes (mailbeacon.accounts.throttle.Limits)."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth") / "data"


@pytest.fixture(scope="module")
def owner(data_dir: Path) -> User:
    return add_user(data_dir, "owner@example.com")


@pytest.fixture(scope="module")
def server(data_dir: Path, owner: User) -> Iterator[Server]:
    with running_server(data_dir, "--smtp-plain-auth") as running:
        yield running


def relay(server: Server) -> tuple[str, int]:
    assert server.smtp is not None
    return server.smtp


def ehlo(server: Server, source: str) -> RawSmtp:
    client = RawSmtp(relay(server), source)
    assert client.command("EHLO guesser.example")[0] == 250
    return client


def test_concurrent_guesses_get_at_most_the_limit_checked_and_the_owner_still_logs_in(
    server: Server, owner: User
) -> None:
    clients = [ehlo(server, "127.0.0.1") for _ in range(59)]
    together = threading.Barrier(len(clients))
    codes: list[int] = []

    def guess(client: RawSmtp, number: int) -> None:
        together.wait(timeout=30)
        codes.append(client.plain_auth(owner.email, f"wrong guess {number}"))

    threads = [threading.Thread(target=guess, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for client in clients:
        client.close()
    replies = Counter(codes)
    assert replies[535] <= LIMIT, replies  # checked and wrong: before the fix all 59 were checked
    assert replies[454] == 59 - replies[535], replies  # the others were throttled, unchecked
    with ehlo(server, "127.0.0.1") as guesser:  # guess 60, the right password: refused unchecked
        assert guesser.plain_auth(owner.email.upper(), owner.smtp_password) == 454
    with ehlo(server, "127.0.0.2") as own:  # the owner's client elsewhere is not held by the guesser
        assert own.plain_auth(owner.email, owner.smtp_password) == 235


def test_a_connection_is_closed_after_three_failed_auths(server: Server, owner: User) -> None:
    with ehlo(server, "127.0.0.3") as client:
        assert client.plain_auth(owner.email, "wrong 1") == 535
        assert client.plain_auth("nobody@example.com", "wrong 2") == 535  # an unknown user fails alike
        assert client.command("AUTH PLAIN %%%")[0] == 501  # not base64: the third failure,
        assert client.reply() == (421, S421_AUTH_FAILURES[4:].encode())  # so 421 follows
        assert client.reply() == (0, b"")  # and the relay hangs up
    with ehlo(server, "127.0.0.3") as client:
        assert client.plain_auth(owner.email, "wrong 3") == 535
        assert client.plain_auth(owner.email, "wrong 4") == 535
        assert client.command("AUTH LOGIN")[0] == 334
        assert client.command("b3duZXI=")[0] == 334  # "owner"
        assert client.command("d3Jvbmc=") == (421, S421_AUTH_FAILURES[4:].encode())
        assert client.reply() == (0, b"")


def test_the_pixel_answers_while_guessers_hammer_auth(tmp_path: Path) -> None:
    """Before the fix, scrypt ran on the event loop: 16 guessers kept a pixel waiting for seconds."""
    data = tmp_path / "data"
    owner = add_user(data, "hammered@example.com")
    with running_server(data, "--smtp-plain-auth") as server:
        pixel = f"/o/{Keyring.load_or_create(data).sign_open(secrets.token_bytes(12))}.gif"
        stop = threading.Event()
        replies: Counter[int] = Counter()
        counting = threading.Lock()

        def hammer(number: int) -> None:
            while not stop.is_set():
                try:
                    with ehlo(server, f"127.0.1.{number + 1}") as client:
                        while not stop.is_set():
                            code = client.plain_auth(owner.email, "guess")
                            with counting:
                                replies[code] += 1
                            if code in (0, 421):
                                break
                except OSError:
                    with counting:
                        replies[0] += 1

        guessers = [threading.Thread(target=hammer, args=(n,)) for n in range(16)]
        for guesser in guessers:
            guesser.start()
        try:
            time.sleep(0.5)
            answered = 0
            with httpx.Client(base_url=server.url, timeout=1.0) as reader:  # each pixel within 1 s
                deadline = time.monotonic() + 4
                while time.monotonic() < deadline:
                    assert reader.get(pixel).status_code == 200
                    answered += 1
                    time.sleep(0.05)
        finally:
            stop.set()
            for guesser in guessers:
                guesser.join(timeout=60)
        assert answered >= 10 and replies[535] > 0, (answered, replies)
