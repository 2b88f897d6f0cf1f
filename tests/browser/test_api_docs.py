"""The API reference at /api/docs in Chromium (issue #13, item 11): Redoc draws the OpenAPI document.

It must render known routes and their descriptions under the page's CSP, load nothing from
another host, and fit a phone and a laptop (screenshots api-docs-WIDTH.png under .artifacts/).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.support.servers import Server, running_server

LOGO_REFUSED = "cdn.redoc.ly/redoc/logo-mini"
"""Redoc's attribution badge asks for its logo from Redocly's CDN: the CSP refuses it (no third party)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("api-docs-browser") / "data") as running:
        yield running


@pytest.mark.parametrize("width", [1280, 390])
def test_the_api_reference_renders_the_routes(browser: Any, server: Server, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 860})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        answered: list[str] = []
        page.on("response", lambda r: answered.append(r.url))
        page.goto(f"{server.url}/api/docs")
        page.get_by_text("/api/v1/events", exact=True).first.wait_for(timeout=30_000)  # a known route, drawn
        assert page.title() == "API reference · mailbeacon"
        page.wait_for_load_state("networkidle")
        screenshot(page, f"api-docs-{width}", full_page=False)  # Redoc draws what is in view
        if width >= 1280:  # (at phone width Redoc draws later sections as they scroll into view)
            route = page.get_by_text("/api/v1/campaigns/{campaign_id}/recipients.csv", exact=True).first
            route.click()  # the operation's own page: its summary and parameters, from openapi.json
            page.get_by_text("Every list member the campaign reached, one CSV row each, streamed").first.wait_for(
                timeout=10_000)
            page.get_by_text("campaign_id", exact=True).first.wait_for(timeout=10_000)
            screenshot(page, f"api-docs-{width}-operation", full_page=False)
        assert [e for e in errors if LOGO_REFUSED not in e] == []  # the CSP refused nothing else: styles applied
        assert answered and all(url.startswith(server.url) for url in answered), answered  # nothing from elsewhere
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        context.close()
