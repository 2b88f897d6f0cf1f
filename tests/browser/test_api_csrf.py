"""# issue #12: a same-site page cannot make a logged-in browser send mail through the JSON API.

The attacker's page is served from another port of 127.0.0.1: the same site, so Chromium
sends the dashboard's SameSite=Lax session cookie with its form. A `text/plain` form needs
no CORS preflight and can shape its body as JSON; without the session's CSRF token the
API refuses it, and nothing reaches the capture mailbox or the store.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailbeacon.outbound.capture import read_captured
from tests.support.dashboard import PASSWORD, add_user
from tests.support.servers import Server, running_server


def attacker_page(api: str) -> bytes:
    """A form whose text/plain body reads as the JSON of POST /api/v1/messages ("name=value" lands in html)."""
    name = '{"to": "victim@example.org", "subject": "from the attacker", "html": "<p>hello'
    return (
        "<html><body>"
        f'<form id=attack method=post enctype="text/plain" action="{html.escape(api)}/api/v1/messages">'
        f'<input type=hidden name="{html.escape(name)}" value="{html.escape("</p>" + chr(34) + "}")}"></form>'
        "<script>document.getElementById('attack').submit()</script>"
        "</body></html>"
    ).encode()


@pytest.fixture()
def attacker(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain static site on another port of 127.0.0.1, serving the files of a folder."""
    root = tmp_path / "attacker"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}", root
    finally:
        site.shutdown()
        site.server_close()
        thread.join(timeout=5)


def messages_of(server: Server, api_key: str) -> list[Any]:
    answer = httpx.get(f"{server.url}/api/v1/messages", headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    found: list[Any] = answer.json()["messages"]
    return found


def test_a_text_plain_form_on_a_same_site_page_sends_no_mail(
    browser: Any, tmp_path: Path, attacker: tuple[str, Path]
) -> None:
    data = tmp_path / "data"
    ann = add_user(data, "ann@example.com", "--seat", "sales")
    with running_server(data) as server:
        site, root = attacker
        (root / "index.html").write_bytes(attacker_page(server.url))
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", "ann@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/activity")

        with page.expect_navigation(url=f"{server.url}/api/v1/messages", timeout=15_000) as landed:
            page.goto(site)  # the logged-in user visits the attacker's page; its form posts itself
        answer = landed.value
        assert answer is not None
        text = page.inner_text("body")
        # 403, not 401: the session cookie did ride along, and the missing CSRF token stopped the call.
        assert answer.status == 403, text
        assert "CSRF" in json.loads(text)["error"]
        time.sleep(1.0)  # the outbound worker would have delivered by now (it is woken on queueing)
        assert messages_of(server, ann["api_key"]) == []
        assert read_captured(data / "captured") == []
        context.close()
