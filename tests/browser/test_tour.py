"""The README tour as a newcomer's browser sees it: Ada's dashboard shows Bob's open as a person's, with its toast.

The README's screenshot (docs/live-feed.png) is this test's `tour-live-feed.png`: the same user,
message and User-Agent as the tour's commands (issue #13, item 1).
"""

from __future__ import annotations

import re
import smtplib
from pathlib import Path
from typing import Any

from mailbeacon.outbound.capture import read_captured
from tests.browser.conftest import log_in, screenshot
from tests.support.dashboard import add_user, wait_for
from tests.support.servers import running_server

ROOT = Path(__file__).resolve().parents[2]
TOUR = (ROOT / "README.md").read_text()
THUNDERBIRD = re.search(r"^TB='([^']+)'$", TOUR, re.M)
"""The User-Agent the tour's curl sends."""


def test_the_tours_open_is_a_human_one_with_its_toast(browser: Any, tmp_path: Path) -> None:
    assert THUNDERBIRD is not None, "the tour sets TB='...' for its curl"
    data = tmp_path / "mailbeacon-data"
    ada = add_user(data, "ada@example.com", "--seat", "sales", password="choose a long one")  # as the tour does
    with running_server(data) as server:
        assert server.smtp is not None
        with smtplib.SMTP(*server.smtp, timeout=10) as relay:
            relay.starttls()
            relay.login(ada["email"], ada["smtp_password"])
            relay.sendmail(ada["email"], ["bob@example.org"], (ROOT / "examples" / "welcome.eml").read_text())
        copy = wait_for(lambda: read_captured(data / "captured"), "Bob's copy")[0]
        page = log_in(browser, server.url, "ada@example.com", "choose a long one")
        page.context.browser.new_context(user_agent=THUNDERBIRD.group(1)).new_page().goto(copy.pixel_urls[0])
        item = page.locator("#feed .feed-item").first
        item.wait_for(timeout=20_000)
        toast = page.locator("#toasts").get_by_text("bob@example.org", exact=False).first
        toast.wait_for(timeout=10_000)
        assert "Your proposal, as promised" in toast.inner_text()
        page.locator("#feed .feed-item >> text=human").first.wait_for(timeout=10_000)  # judged a person
        assert "Thunderbird" in item.inner_text()
        screenshot(page, "tour-live-feed", full_page=False)
