"""The dashboard in a real browser: log in, see a message, watch its open arrive live, click through captured mail.

One `mailbeacon serve` with the capture mailbox as upstream; tracked links point at
a local HTTP server standing in for the sender's website. Each main page is saved
as a screenshot under `.artifacts/`.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.outbound.capture import read_captured
from tests.browser.conftest import log_in, screenshot
from tests.support.servers import Server, running_server

PASSWORD = "correct horse battery"
THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
HOSTILE_UA = "<script>alert('ua')</script>\"><img src=x onerror=alert('img')>"
SUBJECT = "Proposal for Bob"


class Landing(http.server.BaseHTTPRequestHandler):
    """The sender's website: every tracked link lands here."""

    def do_GET(self) -> None:
        body = f"<html><title>Landed</title><h1 id=landed>Landed on {self.path}</h1></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class World:
    server: Server
    landing: str
    ann_key: str
    message_id: int


def cli(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def wait_for(condition: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    landing = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Landing)
    threading.Thread(target=landing.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{landing.server_address[1]}"
    data = tmp_path_factory.mktemp("browser") / "data"
    ann = json.loads(cli("user", "add", "ann@example.com", "--seat", "sales", "--json", "--data", str(data)))
    cli("user", "password", "ann@example.com", "--password-stdin", "--data", str(data), input=PASSWORD + "\n")
    with running_server(data) as server:
        html = (f"<html><body><p>Hi Bob,</p><p>Here is <a href=\"{site}/pricing\">our pricing</a>.</p>"
                "</body></html>")
        sent = httpx.post(
            f"{server.url}/api/v1/messages",
            headers={"Authorization": f"Bearer {ann['api_key']}"},
            json={"to": "bob@example.org", "subject": SUBJECT, "html": html},
            timeout=10,
        )
        assert sent.status_code == 202, sent.text
        wait_for(lambda: read_captured(data / "captured"), "the copy in the capture mailbox")
        try:
            yield World(server, site, ann["api_key"], sent.json()["message_id"])
        finally:
            landing.shutdown()
            landing.server_close()


def login(browser: Any, world: World) -> Any:
    return log_in(browser, world.server.url, "ann@example.com", PASSWORD)


def test_log_in_see_the_message_and_its_open_arrive_live(browser: Any, world: World) -> None:
    page = login(browser, world)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    assert page.locator("#feed .feed-item").count() == 0
    screenshot(page, "activity-empty")

    messages = page.context.new_page()
    messages.goto(f"{world.server.url}/messages")
    messages.wait_for_selector(f"#messages >> text={SUBJECT}")
    screenshot(messages, "messages")
    messages.click(f"#messages >> text={SUBJECT}")
    messages.wait_for_url(re.compile(rf"/messages/{world.message_id}$"))
    assert "bob@example.org" in messages.inner_text("body")

    # The recipient opens the mail: its pixel loads in another tab.
    pixel = read_captured(world.server.data_dir / "captured")[0].pixel_urls[0]
    browser.new_context(user_agent=THUNDERBIRD).new_page().goto(pixel)
    item = page.locator("#feed .feed-item").first
    item.wait_for(timeout=20_000)  # no reload: the live stream brought it
    assert "bob@example.org" in item.inner_text()
    page.locator("#toasts").get_by_text("bob@example.org", exact=False).first.wait_for(timeout=10_000)
    screenshot(page, "activity-live")
    # Then a request whose User-Agent is a script: it arrives as text, and runs nowhere.
    browser.new_context(user_agent=HOSTILE_UA).new_page().goto(pixel)
    page.locator("#feed .feed-item").nth(1).wait_for(timeout=20_000)
    page.reload()
    page.locator("#feed .feed-item").nth(1).wait_for(timeout=10_000)
    messages.reload()
    screenshot(messages, "message-detail")
    assert dialogs == []  # the hostile User-Agent ran nowhere


def test_click_through_captured_mail_lands_and_is_recorded(browser: Any, world: World) -> None:
    page = login(browser, world)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{world.server.url}/captured")
    page.get_by_text(SUBJECT).first.click()
    frame = page.frame_locator("#captured-frame")
    link = frame.get_by_text("our pricing")
    link.wait_for(timeout=10_000)
    screenshot(page, "captured")
    with page.context.expect_page(timeout=10_000) as opened:
        link.click()
    landed = opened.value
    landed.wait_for_load_state()
    assert landed.url == f"{world.landing}/pricing"
    assert "Landed on /pricing" in landed.inner_text("#landed")

    def click_in_feed() -> bool:
        page.goto(f"{world.server.url}/activity")
        return "pricing" in page.inner_text("#feed")

    wait_for(click_in_feed, "the click in the activity feed")
    screenshot(page, "activity-click")
    for path in ("/contacts", "/settings"):
        page.goto(f"{world.server.url}{path}")
        screenshot(page, path.strip("/"))
    assert dialogs == []


def test_another_users_session_sees_none_of_it(browser: Any, world: World, tmp_path: Path) -> None:
    cli("user", "add", "eve@example.com", "--data", str(world.server.data_dir))
    cli("user", "password", "eve@example.com", "--password-stdin", "--data", str(world.server.data_dir),
        input="eve's own long password\n")
    page = browser.new_context().new_page()
    page.goto(f"{world.server.url}/login")
    page.fill("input[name=email]", "eve@example.com")
    page.fill("input[name=password]", "eve's own long password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/activity"))
    assert "bob@example.org" not in page.inner_text("body")
    response = page.goto(f"{world.server.url}/messages/{world.message_id}")
    assert response is not None and response.status == 404
    assert SUBJECT not in page.inner_text("body")


def test_start_a_campaign_preview_it_and_watch_it_finish(browser: Any, world: World) -> None:
    data = world.server.data_dir
    contacts = data.parent / "friends.csv"
    contacts.write_text("email,first_name\n" + "".join(f"friend{n}@example.org,Friend {n}\n" for n in range(1, 7)))
    cli("contacts", "import", str(contacts), "--list", "friends", "--data", str(data))
    page = login(browser, world)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # CSP refusals land here
    page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
    page.goto(f"{world.server.url}/campaigns/new")
    page.fill("#campaign-name-input", "friends-news")
    page.select_option("#campaign-list-select", "friends")
    page.fill("#campaign-subject-input", "News for {{ contact.first_name }}")
    page.fill("#campaign-html", '<p>Hi {{ contact.first_name | default("there") }},</p>'
                                f'<p><a href="{world.landing}/spring">Spring offers</a></p>')
    page.fill("#campaign-rate", "3")  # slow enough to watch the progress move
    page.click("#preview-button")
    page.frame_locator("#campaign-preview").get_by_text("Hi Friend 1,").wait_for(timeout=10_000)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "campaign-new")
    page.click("#start-button")
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    assert page.locator("#campaign-progress[data-poll]").count() == 1  # still sending: the page polls
    # campaigns.js polls the report and reloads the page when the status changes: no reload here.
    page.locator("#campaign-status", has_text="done").wait_for(timeout=30_000)
    copy = next(c for c in read_captured(data / "captured") if c.delivered_to == "friend1@example.org")
    browser.new_context(user_agent=THUNDERBIRD).new_page().goto(copy.pixel_urls[0])

    def opened() -> bool:
        page.reload()
        return page.inner_text("#progress-counts [data-field=sent]") == "6" and page.locator("#timeline-chart").count() == 1

    wait_for(opened, "the campaign's first open on its report")
    screenshot(page, "campaign-report")
    page.goto(f"{world.server.url}/campaigns")
    assert "friends-news" in page.inner_text("#campaigns")
    assert problems == []
