# issue #14, item 5: contacts are one thing, in Chromium.
"""Import a CSV file from the dashboard, search, read a contact's page (fields, lists, subscription,
bounces, timeline), edit their fields and erase them, in a real browser against a real
`mailbeacon serve`. Screenshots at phone (390 px) and laptop (1280 px) width:
contacts-search-W, contact-page-W, contacts-import and contacts-erased under .artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailbeacon.outbound import read_captured
from tests.browser.conftest import log_in, screenshot
from tests.support.dashboard import PASSWORD, add_user, judged, send, wait_for
from tests.support.servers import Server, running_server

CSV = "email,First Name,Company\nbob@example.org,Bob,Acme\nzoe@example.org,Zoë,Initech\nnot-an-address,X,Y\n"
WIDTHS = (390, 1280)


@dataclass
class World:
    server: Server
    csv: Path
    bad_csv: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("browser-contacts")
    data = root / "data"
    key = add_user(data, "ada@example.com", "--admin")["api_key"]
    (root / "leads.csv").write_text(CSV, encoding="utf-8")
    (root / "bad.csv").write_text("name\nBob\n", encoding="utf-8")
    with running_server(data) as server:
        send(server.url, key, to="bob@example.org", bcc=["dave@example.org"], subject="Q3 plans",
             html='<p>Plans <a href="https://example.com/q3">here</a></p>')
        copies = wait_for(lambda: c if len(c := read_captured(data / "captured")) == 2 else None, "two copies")
        to_bob = next(c for c in copies if c.delivered_to == "bob@example.org")
        assert httpx.get(server.url + "/" + to_bob.pixel_urls[0].split("/", 3)[3],
                         headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120"}).status_code == 200
        judged(server.url, key, 1)
        yield World(server, root / "leads.csv", root / "bad.csv")


def test_import_search_edit_and_erase_a_contact_from_the_dashboard(browser: Any, world: World) -> None:
    url = world.server.url
    page: Any = log_in(browser, url, "ada@example.com", PASSWORD)
    problems: list[str] = []
    # CSP refusals land here; the 400 of the bad file and the 404 after the erase are the pages' own answers.
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)

    page.goto(f"{url}/contacts")
    assert page.locator(".contact-row").count() == 1  # Bob; Dave was only Bcc'd
    assert "dave@example.org" not in page.inner_text("#contacts")

    page.click("#import-link")
    page.set_input_files("#import-file", str(world.bad_csv))
    page.fill("#import-list", "leads")
    page.click("#import-form button[type=submit]")
    assert "no email column" in page.inner_text("#import-error").lower() or "email" in page.inner_text("#import-error")
    assert "Nothing was imported" in page.inner_text("#import-error")
    page.set_input_files("#import-file", str(world.csv))
    page.fill("#import-list", "leads")
    page.click("#import-form button[type=submit]")
    summary = page.inner_text("#import-summary")
    assert "imported 2 of 3 rows: 2 new" in summary and "not-an-address" in summary
    screenshot(page, "contacts-import")

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 860})
        page.goto(f"{url}/contacts")
        assert sorted(page.locator(".contact-row .recipient").all_inner_texts()) == ["bob@example.org", "zoe@example.org"]
        page.fill("#contact-q", "INITECH")
        page.press("#contact-q", "Enter")
        page.wait_for_url(re.compile(r"q=INITECH"))
        assert page.locator(".contact-row .recipient").all_inner_texts() == ["zoe@example.org"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"
        screenshot(page, f"contacts-search-{width}")

    page.goto(f"{url}/contacts?q=company")
    assert page.locator("#contacts-none-found").count() == 1  # field names are not searched

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 860})
        page.goto(f"{url}/contacts/bob@example.org")
        assert "subscribed" in page.inner_text("#contact-subscription")
        assert page.inner_text("#contact-bounces") == "No bounces."
        assert page.locator("#contact-lists li").all_inner_texts() == ["leads"]
        assert page.input_value("input[name='field:company']") == "Acme"
        assert page.locator("#contact-feed li").count() >= 1  # the open of Q3 plans
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"
        screenshot(page, f"contact-page-{width}")

    page.fill("input[name='field:company']", "")
    page.fill("#new-field-name", "title")
    page.fill("#new-field-value", "CTO")
    page.click("#fields-form button[type=submit]")
    page.wait_for_url(re.compile(r"/contacts/bob@example.org$"))
    assert "Saved the fields" in page.inner_text(".flash")
    assert page.locator("input[name='field:company']").count() == 0
    assert page.input_value("input[name='field:title']") == "CTO"
    page.fill("#new-field-name", "First Name")
    page.fill("#new-field-value", "x")
    page.click("#fields-form button[type=submit]")
    assert "Nothing was changed" in page.inner_text(".flash-error") and "first_name" in page.inner_text(".flash-error")

    page.click("#erase-form button[type=submit]")  # the box is not ticked: the browser does not send the form
    assert page.url.endswith("/contacts/bob@example.org")
    page.check("#erase-confirm")
    page.click("#erase-form button[type=submit]")
    page.wait_for_url(re.compile(r"/contacts$"))
    said = page.inner_text(".flash")
    assert said.startswith("Erased bob@example.org: 1 event, 1 feed item, 1 delivery, 1 list membership, 1 contact record")
    assert page.locator(".contact-row .recipient").all_inner_texts() == ["zoe@example.org"]
    screenshot(page, "contacts-erased")
    assert page.goto(f"{url}/contacts/bob@example.org").status == 404
    assert problems == []
