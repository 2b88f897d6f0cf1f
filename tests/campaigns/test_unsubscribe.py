"""The unsubscribe link against a real `mailbeacon serve`: scanners' GETs and HEADs change nothing, a POST does.

Contacts are imported with the CLI, as an operator would; the links are signed
with the data directory's keys, as a campaign send signs them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.campaigns.unsubscribe import unsubscribe_headers, unsubscribe_url
from mailbeacon.cli import main
from mailbeacon.store import ContactRow, Store, open_store
from mailbeacon.tokens import Keyring
from tests.support.servers import Server, running_server

CAMPAIGN = 7
PEOPLE = ["ann@example.com", "bob@example.com", "carol@example.com", "dan@example.com"]
SCANNERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Barracuda Sentinel (EE)",
    "Mimecast-URL-Protect/1.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "",  # some gateways send no User-Agent at all
]


@dataclass
class World:
    server: Server
    store: Store
    keyring: Keyring

    def contact(self, email: str) -> ContactRow:
        found = self.store.contact_by_email(email)
        assert found is not None
        return found

    def url(self, email: str) -> str:
        return unsubscribe_url(self.server.url, self.keyring, self.contact(email).id, CAMPAIGN)

    def subscribed(self) -> list[str]:
        return [e for e in PEOPLE if self.contact(e).is_subscribed]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("unsubscribe")
    data_dir = folder / "data"
    (folder / "people.csv").write_text("email,first_name\n" + "".join(f"{e},{e[:3]}\n" for e in PEOPLE))
    result = CliRunner().invoke(
        main, ["contacts", "import", str(folder / "people.csv"), "--list", "news", "--data", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    with running_server(data_dir) as server, open_store(f"sqlite:///{data_dir / 'mailbeacon.db'}") as store:
        yield World(server, store, Keyring.load_or_create(data_dir))


def test_a_hundred_scanner_gets_and_heads_change_no_subscriber(world: World) -> None:
    urls = [world.url(e) for e in PEOPLE]
    with httpx.Client(timeout=10) as client:
        for n, (url, agent) in enumerate(zip(itertools.cycle(urls), itertools.cycle(SCANNERS))):
            if n == 100:
                break
            method = "HEAD" if n % 3 == 0 else "GET"
            response = client.request(method, url, headers={"User-Agent": agent}, follow_redirects=True)
            assert response.status_code == 200, response.text
            if method == "GET":
                assert 'data-state="confirm"' in response.text and '<form method="post">' in response.text
            else:
                assert response.content == b""
    assert world.subscribed() == PEOPLE


def test_the_confirmation_page_shows_who_and_leaks_nothing(world: World) -> None:
    response = httpx.get(world.url("dan@example.com"), timeout=10)
    assert response.status_code == 200
    assert re.search(r'<strong id="address">d\*\*\*@example.com</strong>', response.text)
    assert "dan@example.com" not in response.text  # a forwarded link does not hand out the address
    assert response.headers["referrer-policy"] == "no-referrer"  # the token is in the URL
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert world.subscribed() == PEOPLE


def test_posting_the_confirmation_form_unsubscribes_once(world: World) -> None:
    url = world.url("ann@example.com")
    response = httpx.post(url, data={"confirm": "yes"}, timeout=10)
    assert response.status_code == 200 and 'data-state="done"' in response.text
    assert "You are unsubscribed" in response.text
    ann = world.contact("ann@example.com")
    assert (ann.unsubscribe_source, ann.unsubscribe_campaign_id) == ("link", CAMPAIGN)
    assert "ann@example.com" not in world.subscribed()
    again = httpx.post(url, data={"confirm": "yes"}, timeout=10)
    assert again.status_code == 200 and world.contact("ann@example.com").unsubscribed_at == ann.unsubscribed_at
    page = httpx.get(url, timeout=10)
    assert 'data-state="already"' in page.text and "<form" not in page.text


@pytest.mark.parametrize(
    ("email", "send"),
    [
        ("bob@example.com", {"content": b"List-Unsubscribe=One-Click",
                             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("carol@example.com", {"files": {"List-Unsubscribe": (None, "One-Click")}}),
    ],
    ids=["urlencoded", "multipart"],
)
def test_the_rfc8058_one_click_post_unsubscribes(world: World, email: str, send: dict[str, object]) -> None:
    url = world.url(email)
    (_, header), (_, post) = unsubscribe_headers(url)
    assert header == f"<{url}>" and post == "List-Unsubscribe=One-Click"
    response = httpx.post(url, timeout=10, **send)  # type: ignore[arg-type]
    assert response.status_code == 200
    assert world.contact(email).unsubscribe_source == "one-click"


def test_tampered_or_unknown_tokens_get_a_404_page_and_change_nothing(world: World) -> None:
    before = world.subscribed()
    good = world.url("dan@example.com")
    token = good.rsplit("/", 1)[1]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    forged = [
        f"{world.server.url}/u/{flipped}",
        f"{world.server.url}/u/{token[:-3]}",
        f"{world.server.url}/u/{token}%27",
        f"{world.server.url}/u/{'A' * 10_000}",
        f"{world.server.url}/u/not-a-token",
        unsubscribe_url(world.server.url, Keyring({0: b"x" * 32}, 0), world.contact("dan@example.com").id, CAMPAIGN),
        unsubscribe_url(world.server.url, world.keyring, 999_999, CAMPAIGN),  # signed, but no such contact
    ]
    for url in forged:
        for method in ("GET", "POST"):
            response = httpx.request(method, url, content=b"List-Unsubscribe=One-Click", timeout=10)
            assert response.status_code == 404, (url, response.status_code)
            assert 'data-state="invalid"' in response.text
    for method in ("PUT", "DELETE", "PATCH"):
        assert httpx.request(method, good, timeout=10).status_code == 405
    assert world.subscribed() == before and "dan@example.com" in before
