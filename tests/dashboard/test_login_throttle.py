"""Concurrent password guesses at the dashboard's login against a real server (issue #12, item 14).

Each attempt is counted before its password is checked, so a burst of guesses gets no more
checks than the limit, and the owner logs in from another client right after.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.support.dashboard import PASSWORD, add_user
from tests.support.servers import Server, running_server

LIMIT = 5
"""Failed logins of one client as one address within 15 minutes (mailbeacon.accounts.throttle.Limits)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("throttle") / "data"
    add_user(data, "owner@example.com")
    with running_server(data) as running:
        yield running


async def login_page(client: httpx.AsyncClient) -> str:
    """The login page, as a browser loads it; its CSRF token."""
    meta = HTMLParser((await client.get("/login")).text).css_first('meta[name="csrf-token"]')
    assert meta is not None
    return str(meta.attributes["content"])


async def post_login(client: httpx.AsyncClient, csrf: str, email: str, password: str) -> int:
    answer = await client.post("/login", data={"email": email, "password": password, "csrf": csrf})
    return answer.status_code


def browser(url: str, source: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=60, transport=httpx.AsyncHTTPTransport(local_address=source))


async def burst(url: str, email: str, count: int) -> Counter[int]:
    """`count` browsers on one client address load the login page, then post their guesses together."""
    clients = [browser(url, "127.0.0.1") for _ in range(count)]
    try:
        tokens = await asyncio.gather(*(login_page(client) for client in clients))
        return Counter(await asyncio.gather(*(
            post_login(client, token, email, f"wrong guess {n}") for n, (client, token) in
            enumerate(zip(clients, tokens, strict=True))
        )))
    finally:
        for client in clients:
            await client.aclose()


async def login_from(url: str, source: str, email: str, password: str) -> int:
    async with browser(url, source) as client:
        return await post_login(client, await login_page(client), email, password)


def test_concurrent_guesses_get_at_most_the_limit_checked_and_the_owner_still_logs_in(server: Server) -> None:
    statuses = asyncio.run(burst(server.url, "owner@example.com", 59))
    assert statuses[401] <= LIMIT, statuses  # checked and wrong: before the fix all 59 were checked
    assert statuses[429] >= 59 - LIMIT and statuses[401] + statuses[429] == 59, statuses
    # Guess 60 is the right password, from the guessing client: refused unchecked.
    assert asyncio.run(login_from(server.url, "127.0.0.1", "OWNER@example.com", PASSWORD)) == 429
    # The owner from another client logs in at once: the guesser's failures are not theirs.
    assert asyncio.run(login_from(server.url, "127.0.0.2", "owner@example.com", PASSWORD)) == 303
