"""Settings, "Signed in", in a real browser (issue #12, item 13): two browsers, one signs the other out.

Chromium contexts keep cookies apart as two computers would; the phone's next page after
"Sign out" (or "Sign out everywhere else") on the laptop is the login page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import log_in, screenshot
from tests.support.dashboard import PASSWORD, add_user
from tests.support.servers import Server, running_server

PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("browser-sessions") / "data"
    add_user(data, "ann@example.com")
    with running_server(data) as running:
        yield running


def logged_in_page(browser: Any, server: Server, **context: Any) -> Any:
    return log_in(browser, server.url, "ann@example.com", PASSWORD, **context)


def test_sign_out_another_browser_and_then_everywhere_else(browser: Any, server: Server) -> None:
    laptop = logged_in_page(browser, server)
    phone = logged_in_page(browser, server, user_agent=PHONE)
    laptop.goto(f"{server.url}/settings#sessions")
    rows = laptop.locator("#session-list .session-row")
    assert rows.count() == 2
    assert "this browser" in rows.nth(0).inner_text()
    assert "Safari" in rows.nth(1).inner_text() or "iPhone" in rows.nth(1).inner_text()
    screenshot(laptop, "settings-sessions")
    rows.nth(1).get_by_role("button", name="Sign out").click()
    laptop.wait_for_url(re.compile(r"/settings"))
    assert "That browser is signed out." in laptop.inner_text("#flash")
    assert laptop.locator("#session-list .session-row").count() == 1
    phone.goto(f"{server.url}/messages")
    assert "/login" in phone.url

    phone = logged_in_page(browser, server, user_agent=PHONE)
    laptop.goto(f"{server.url}/settings")
    laptop.click("#sessions-end-others button")
    laptop.wait_for_url(re.compile(r"/settings"))
    assert "Signed out everywhere else (1 session)" in laptop.inner_text("#flash")
    phone.goto(f"{server.url}/settings")
    assert "/login" in phone.url
    laptop.goto(f"{server.url}/settings")
    assert "/settings" in laptop.url
