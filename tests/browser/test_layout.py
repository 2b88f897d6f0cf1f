"""Every main page at phone width (390 px) and on a laptop (1280 px), measured in Chromium (issue #13, item 9).

One server with mail worth showing: a message to a long address, opened and clicked, a
campaign, a captured copy with an attachment. Each page is saved as a screenshot under
`.artifacts/` (layout-WIDTH-PAGE.png), and measured: the document never scrolls sideways,
no table cell clips its text, no box scrolls sideways (a table's rows stack on a phone), the contact timeline
keeps an address on one line where it fits, no word is cut over two lines at 1280 px, and at 390 px the navigation is one tap away.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from mailbeacon.outbound import read_captured
from tests.browser.conftest import screenshot
from tests.support.dashboard import PASSWORD, add_user, cli, send, wait_for
from tests.support.servers import Server, running_server

WIDTHS = (390, 1280)
LONG = "bartholomew.featherstonehaugh-smythe@accounts.example-organisation.org"
THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
MEASURE = """() => {
  const doc = document.documentElement;
  const text = (el) => (el.id ? "#" + el.id + " " : el.className ? "." + el.className + " " : el.tagName + " ")
                       + el.textContent.trim().replace(/\\s+/g, " ").slice(0, 60);
  const clipped = [...document.querySelectorAll("td, th")].filter((c) => c.scrollWidth > c.clientWidth + 1);
  const scrolling = [...document.querySelectorAll("body *")].filter((el) => {
    const style = getComputedStyle(el);
    return ["auto", "scroll"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1
           && el.tagName !== "PRE" && el.tagName !== "TEXTAREA";
  });
  // Words (between spaces and hyphens, up to 24 letters) that a table cell or the feed cut over two lines.
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const host = node.parentElement;
    if (!host.closest("td, .feed-item .line, .client") || host.closest(".url, .url-cell, code, .request")) continue;
    const pattern = /[^\\s-]+/g;
    for (let m = pattern.exec(node.data); m; m = pattern.exec(node.data)) {
      if (m[0].length > 24) continue;
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  return {overflow: doc.scrollWidth - doc.clientWidth, clipped: clipped.map(text), scrolling: scrolling.map(text),
          broken: broken};
}"""


@dataclass
class World:
    server: Server
    pages: dict[str, str]
    """Page name -> path."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("layout") / "data"
    keys = {"ada": add_user(data, "ada@example.com", "--admin", "--seat", "sales")["api_key"],
            "ann": add_user(data, "ann@example.com", "--seat", "sales")["api_key"]}
    contacts = data.parent / "contacts.csv"
    contacts.write_text("email,first_name\n" + "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(1, 4))
                        + f"{LONG},Bartholomew\n")
    cli("contacts", "import", str(contacts), "--list", "autumn", "--data", str(data))
    template = data.parent / "autumn.html"
    template.write_text('<p>Hi {{ contact.first_name }},</p><p><a href="https://example.com/autumn">Autumn</a></p>')
    attached = EmailMessage()
    attached["From"], attached["To"], attached["Subject"] = "Ada <ada@example.com>", "bob@example.org", "Slides"
    attached.set_content("The slides are attached.\n")
    attached.add_alternative('<p>The <a href="https://example.com/slides">slides</a> are attached.</p>', subtype="html")
    attached.add_attachment(b"%PDF-1.4\n" * 300, maintype="application", subtype="pdf",
                            filename="quarterly-review-with-a-rather-long-file-name-2026.pdf")
    eml = data.parent / "slides.eml"
    eml.write_bytes(attached.as_bytes())
    with running_server(data) as server:
        message = send(server.url, keys["ada"], to=[LONG, "bob@example.org"], subject="Proposal for the autumn season",
                       html='<p>Hi, <a href="https://example.com/pricing?plan=team&amp;seats=25">pricing</a>.</p>')
        subprocess.run(
            [sys.executable, "-m", "mailbeacon", "campaign", "send", "--name", "autumn-release-with-a-long-name",
             "--list", "autumn", "--template", str(template), "--subject", "Autumn news for {{ contact.first_name }}",
             "--from", "News <news@example.com>", "--as", "ada@example.com", "--base-url", server.url,
             "--data", str(data), "--wait"],
            capture_output=True, text=True, timeout=120, check=True,
        )
        cli("send", str(eml), "--as", "ada@example.com", "--base-url", server.url, "--data", str(data))
        copies = wait_for(lambda: c if len(c := read_captured(data / "captured")) == 7 else None, "seven copies")
        long_copy = next(c for c in copies if c.delivered_to == LONG and c.subject.startswith("Proposal"))
        with httpx.Client(timeout=10) as client:
            for url in (long_copy.pixel_urls[0], long_copy.click_urls[0]):
                client.get(url, headers={"User-Agent": THUNDERBIRD})
        slides = next(c for c in copies if c.subject == "Slides")
        autumn = next(c for c in copies if c.subject.startswith("Autumn news"))
        unsubscribe = re.search(rf"{re.escape(server.url)}/u/[A-Za-z0-9_.=-]+", autumn.path.read_bytes().decode())
        assert unsubscribe is not None
        campaigns = httpx.get(f"{server.url}/api/v1/campaigns", headers={"Authorization": f"Bearer {keys['ada']}"})
        campaign = campaigns.json()["campaigns"][0]["id"]
        yield World(server, {
            "activity": "/activity", "messages": "/messages", "message": f"/messages/{message}",
            "contacts": "/contacts", "contact": f"/contacts/{LONG}", "campaigns": "/campaigns",
            "campaign": f"/campaigns/{campaign}", "captured": "/captured",
            "captured-message": f"/captured/{slides.path.name}", "settings": "/settings", "users": "/users",
            "unsubscribe": unsubscribe.group(0).removeprefix(server.url),
        })


@pytest.fixture(scope="module")
def sessions(browser: Any, world: World) -> Iterator[dict[int, Any]]:
    """One logged-in browser context per width (Ada, an admin: every page is hers to see)."""
    contexts = {width: browser.new_context(viewport={"width": width, "height": 844 if width == 390 else 860})
                for width in WIDTHS}
    for context in contexts.values():
        page = context.new_page()
        page.goto(f"{world.server.url}/login")
        page.fill("input[name=email]", "ada@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/activity"))
        page.close()
    yield contexts
    for context in contexts.values():
        context.close()


def check(page: Any, width: int, name: str) -> None:
    page.wait_for_load_state("networkidle")
    screenshot(page, f"layout-{width}-{name}")
    found = page.evaluate(MEASURE)
    assert found["overflow"] <= 0, f"{name} at {width} px scrolls sideways by {found['overflow']} px"
    assert found["clipped"] == [], f"{name} at {width} px clips table cells: {found['clipped']}"
    assert found["scrolling"] == [], f"{name} at {width} px has boxes that scroll sideways: {found['scrolling']}"
    if width >= 1280:  # on a phone a long address must break somewhere; on a laptop no word need
        assert found["broken"] == [], f"{name} at {width} px breaks words over lines: {found['broken']}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["activity", "messages", "message", "contacts", "contact", "campaigns", "campaign",
                                  "captured", "captured-message", "settings", "users"])
def test_page_fits_its_width(sessions: dict[int, Any], world: World, name: str, width: int) -> None:
    page = sessions[width].new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # CSP refusals land here
    try:
        page.goto(world.server.url + world.pages[name])
        check(page, width, name)
        assert problems == []
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_login_page_fits_its_width(browser: Any, world: World, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{world.server.url}/login")
        check(page, width, "login")
    finally:
        context.close()


def test_the_contact_timeline_keeps_an_address_whole_where_it_fits(sessions: dict[int, Any], world: World) -> None:
    page = sessions[1280].new_page()
    try:
        page.goto(world.server.url + world.pages["contact"])
        lines = page.eval_on_selector_all("#contact-feed .recipient", "els => els.map(e => e.getClientRects().length)")
        assert lines and all(n == 1 for n in lines), f"an address broken over lines: {lines}"
    finally:
        page.close()


def test_the_navigation_is_one_tap_away_at_phone_width(sessions: dict[int, Any], world: World) -> None:
    page = sessions[390].new_page()
    try:
        page.goto(f"{world.server.url}/activity")
        toggle = page.locator("#nav-toggle")
        assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
        assert not page.locator("#nav-messages").is_visible()  # folded away: it does not crowd the bar
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        for link in page.locator("#nav a").all():
            box = link.bounding_box()
            assert link.is_visible() and box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, \
                link.inner_text()
        screenshot(page, "layout-390-navigation-open")
        page.locator("#nav-messages").click()
        page.wait_for_url(re.compile(r"/messages$"))
        assert page.locator("#nav-toggle").get_attribute("aria-expanded") == "false"  # closed again on the next page
        assert json.loads(page.evaluate("JSON.stringify(document.documentElement.scrollWidth)")) <= 390
    finally:
        page.close()


def test_an_attachment_and_the_eml_are_downloaded_not_shown(sessions: dict[int, Any], world: World) -> None:
    page = sessions[1280].new_page()
    try:
        page.goto(world.server.url + world.pages["captured-message"])
        with page.expect_download(timeout=10_000) as attachment:
            page.locator("#attachments li.attachment .button").first.click()
        assert attachment.value.suggested_filename == "quarterly-review-with-a-rather-long-file-name-2026.pdf"
        with page.expect_download(timeout=10_000) as eml:
            page.click("#download-eml")
        assert eml.value.suggested_filename == "Slides.eml"
        assert page.url.endswith(world.pages["captured-message"])  # still on the page: nothing opened in it
        page.click("#view-source")
        page.wait_for_url(re.compile(r"view=source$"))
        assert "Content-Disposition: attachment" in page.inner_text("#captured-source")  # the mail's own, as text
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_readers_pages_say_who_sent_the_mail_and_look_like_the_others(browser: Any, world: World, width: int) -> None:
    """Issue #13, item 12: the unsubscribe page names the sender and the list; a broken link's page is styled."""
    context = browser.new_context(viewport={"width": width, "height": 844 if width == 390 else 860})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Refused" in m.text else None)  # the CSP's refusals
    try:
        page.goto(world.server.url + world.pages["unsubscribe"])
        assert page.locator("#sender").inner_text() == "News <news@example.com>"
        assert page.locator("#list").inner_text() == "autumn"
        check(page, width, "unsubscribe")
        unsubscribe_look = page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor")
        answer = page.goto(world.server.url + "/c/not-a-token-of-ours")
        assert answer is not None and answer.status == 404
        assert page.locator("h1").inner_text() == "This link leads nowhere"
        assert page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor") == unsubscribe_look
        check(page, width, "broken-link")
        assert problems == []  # nothing refused by the CSP
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_non_admin_is_told_an_admin_page_is_for_admins_and_others_mail_stays_404(
    browser: Any, world: World, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 844 if width == 390 else 860})
    page = context.new_page()
    try:
        page.goto(f"{world.server.url}/login")
        page.fill("input[name=email]", "ann@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/activity"))
        answer = page.goto(world.server.url + world.pages["users"])
        assert answer is not None and answer.status == 403
        assert page.locator("#admins-only h1").inner_text() == "This page is for admins"
        check(page, width, "admins-only")
        other = page.goto(world.server.url + world.pages["message"])  # Ada's message: no hint that it exists
        assert other is not None and other.status == 404
    finally:
        context.close()
