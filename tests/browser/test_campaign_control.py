# issue #13, item 6: the campaign page's Pause, Resume and Cancel buttons, in Chromium.
"""Pause, resume and cancel a campaign from its page in a real browser, against a real `mailbeacon serve`
delivering to a real aiosmtpd upstream: the buttons post with the session's CSRF token, the page
says what happened, and the upstream receives nothing while the campaign is paused or after it
is cancelled. Saved as the screenshots campaign-paused and campaign-cancelled.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from tests.browser.conftest import log_in, screenshot
from tests.support.dashboard import PASSWORD, add_user, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Sink, running_sink

READERS = [f"reader{n:02}@example.org" for n in range(30)]
"""At a copy a second, the rest takes longer than the clicks: cancel finds copies to withdraw."""


@dataclass
class World:
    server: Server
    sink: Sink


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("browser-control") / "data"
    add_user(data, "ann@example.com", "--seat", "sales")
    contacts = data.parent / "readers.csv"
    contacts.write_text("email,first_name\n" + "".join(f"{r},R{n}\n" for n, r in enumerate(READERS)))
    (data.parent / "t.html").write_text("<p>Hi {{ contact.first_name }}</p>\n")
    runner = CliRunner()
    assert runner.invoke(main, ["contacts", "import", str(contacts), "--list", "readers", "--data", str(data)]).exit_code == 0
    with running_sink() as sink, running_server(data, "--upstream", sink.url) as server:
        sent = runner.invoke(main, [
            "campaign", "send", "--name", "slow", "--list", "readers", "--template", str(data.parent / "t.html"),
            "--subject", "Hi {{ contact.first_name }}", "--from", "ann@example.com", "--as", "ann@example.com",
            "--rate", "1/s", "--base-url", server.url, "--data", str(data)])
        assert sent.exit_code == 0, sent.output
        yield World(server, sink)


def test_pause_resume_and_cancel_from_the_campaign_page(browser: Any, world: World) -> None:
    page: Any = log_in(browser, world.server.url, "ann@example.com", PASSWORD)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # CSP refusals land here
    page.goto(f"{world.server.url}/campaigns")
    page.click(".campaign-name")
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    wait_for(lambda: len(world.sink.received) >= 2, "two copies")

    page.click("#pause-form button")
    page.locator("#campaign-status", has_text="paused").wait_for(timeout=10_000)
    assert "is paused" in page.inner_text(".flash") and page.locator("#paused-note").count() == 1
    assert page.locator("#pause-form").count() == 0 and page.locator("#resume-form").count() == 1
    time.sleep(1.5)  # a copy a sender took before the pause still arrives
    held = len(world.sink.received)
    time.sleep(2.5)
    assert len(world.sink.received) == held < len(READERS), "nothing arrives while paused"
    screenshot(page, "campaign-paused")

    page.click("#resume-form button")
    page.locator("#campaign-status", has_text="queued").wait_for(timeout=10_000)
    wait_for(lambda: len(world.sink.received) > held, "a copy after the resume")

    page.once("dialog", lambda dialog: dialog.dismiss())  # a second thought: nothing is cancelled
    page.click("#cancel-form button")
    assert page.inner_text("#campaign-status") == "queued"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-form button")
    page.locator("#campaign-status", has_text="cancelled").wait_for(timeout=10_000)
    time.sleep(1.5)
    sent = len(world.sink.received)
    page.reload()
    withdrawn = int(page.inner_text("#progress-counts [data-field=withdrawn]"))
    assert sent + withdrawn == len(READERS) and withdrawn > 0
    assert page.locator("#withdrawn-note").count() == 1 and page.locator("#cancel-form, #resume-form").count() == 0
    time.sleep(2)
    assert len(world.sink.received) == sent, "nothing arrives after the cancel"
    assert Counter(r.rcpt_tos[0] for r in world.sink.received) == Counter(READERS[:sent])  # in order, each once
    screenshot(page, "campaign-cancelled")
    assert problems == []
