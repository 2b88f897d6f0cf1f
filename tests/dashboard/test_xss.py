"""Stored XSS (Mautic CVE-2022-25772): hostile recipients, subjects, URLs and User-Agents render inert on every page.

Each page is parsed as a browser would (lexbor): the only scripts are ours from
/static, no element has an event-handler attribute, no link or source is a
`javascript:` URL, and each payload is there as text a person can read.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.dashboard.conftest import API_SUBJECT, PAYLOADS, QUOTE_RECIPIENT, Hostile
from tests.support.dashboard import Session

OUR_SCRIPTS = ("/static/dashboard.js", "/static/campaigns.js")
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "srcdoc", "xlink:href", "data", "poster", "background")


def assert_inert(html: str, where: str) -> HTMLParser:
    tree = HTMLParser(html)
    for script in tree.css("script"):
        assert script.attributes.get("src") in OUR_SCRIPTS, f"{where}: a script not ours: {script.html}"
        assert not script.text().strip(), f"{where}: an inline script"
    for tag in ("object", "embed", "base", "svg script", "foreignObject"):
        assert not tree.css(tag), f"{where}: a <{tag}> element"
    for refresh in tree.css("meta[http-equiv]"):
        raise AssertionError(f"{where}: {refresh.html}")
    for node in tree.css("*"):
        for name, value in node.attributes.items():
            assert not name.lower().startswith("on"), f"{where}: event handler {name}= on <{node.tag}>"
            assert name.lower() != "style", f"{where}: inline style on <{node.tag}>"
            text = (value or "").strip().lower()
            if name.lower() in URL_ATTRIBUTES:
                assert not text.startswith(("javascript:", "data:text", "vbscript:")), f"{where}: {name}={value}"
        if node.tag == "img":
            assert str(node.attributes.get("src", "")).startswith("/static/"), f"{where}: {node.html}"
        if node.tag == "iframe":  # a captured copy, or the campaign preview's frame that a form posts into
            src = node.attributes.get("src")
            assert src is None or str(src).startswith("/captured/"), f"{where}: {node.html}"
            assert node.attributes.get("sandbox") is not None, f"{where}: an iframe without sandbox"
    return tree


def visible_text(tree: HTMLParser) -> str:
    body = tree.body
    assert body is not None
    return body.text(separator=" ")


def pages(world: Hostile) -> list[tuple[str, list[str]]]:
    """(page, payload texts a person must be able to read on it)."""
    found: list[tuple[str, list[str]]] = [
        ("/activity", [*world.recipients, *PAYLOADS, QUOTE_RECIPIENT]),
        ("/messages", [*PAYLOADS, API_SUBJECT]),
        (f"/messages/{world.api_message}", [API_SUBJECT, QUOTE_RECIPIENT, PAYLOADS[0], PAYLOADS[1]]),
        ("/contacts", [r.lower() for r in world.recipients] + [QUOTE_RECIPIENT]),
        (f"/contacts/{quote(QUOTE_RECIPIENT, safe='@')}", [QUOTE_RECIPIENT]),
        ("/captured", [API_SUBJECT, QUOTE_RECIPIENT]),
    ]
    for message_id, payload, recipient in zip(world.recorded, PAYLOADS, world.recipients):
        found.append((f"/messages/{message_id}", [payload, recipient, f"https://example.com/?q={payload}"]))
        found.append((f"/contacts/{quote(recipient, safe='')}", [recipient.lower(), payload]))
    for copy in world.captured["ann"]:
        found.append((f"/captured/{copy.path.name}", [API_SUBJECT]))
    return found


@pytest.mark.parametrize("viewer", ["ann@example.com", "ada@example.com"], ids=["sender", "admin"])
def test_hostile_data_renders_as_text_on_every_page(hostile: Hostile, viewer: str) -> None:
    with Session(hostile.server.url) as browser:
        browser.login(viewer)
        for path, readable in pages(hostile):
            response = browser.get(path)
            assert response.status_code == 200, (path, response.status_code)
            tree = assert_inert(response.text, path)
            text = visible_text(tree)
            for payload in readable:
                assert payload in text, f"{path}: {payload!r} is not shown as text"


def test_hostile_urls_never_become_links(hostile: Hostile) -> None:
    with Session(hostile.server.url) as browser:
        browser.login("ann@example.com")
        tree = HTMLParser(browser.get("/activity").text)
        hrefs = [str(a.attributes.get("href")) for a in tree.css("#feed a[href]")]
        assert hrefs and all(h.startswith(("/", "https://", "http://")) for h in hrefs)
        for link in tree.css("#feed a.url"):
            assert link.attributes.get("rel") == "noopener noreferrer"


def test_a_captured_mail_is_served_sandboxed(hostile: Hostile) -> None:
    copy = hostile.captured["ann"][0]
    with Session(hostile.server.url) as browser:
        browser.login("ann@example.com")
        response = browser.get(f"/captured/{copy.path.name}/html")
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert csp.startswith("sandbox allow-popups allow-popups-to-escape-sandbox;")
        assert "default-src 'none'" in csp and "script-src" not in csp  # no script runs in the mail
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        tree = HTMLParser(response.text)
        base = tree.css_first("base")
        assert base is not None and base.attributes.get("target") == "_blank"
        assert any("/c/" in str(a.attributes.get("href")) for a in tree.css("a"))  # links stay tracked
