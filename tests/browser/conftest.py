"""Headless Chromium from Debian's packages, driven by Playwright, against a real `mailbeacon serve`.

Skipped with a reason where `chromium` is absent; CI installs it and sets
MAILBEACON_REQUIRE_CHROMIUM=1, so there a missing browser fails instead.
Screenshots of the main pages go to `.artifacts/` (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("MAILBEACON_REQUIRE_CHROMIUM"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def screenshot(page: object, name: str, full_page: bool = True) -> Path:
    """Save a PNG of the whole page (or of the viewport) as a test artefact; returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path


def log_in(browser: object, url: str, email: str, password: str, **context: object) -> object:
    """A new browser context (as another computer would be) logged in through the login form; its page on /activity."""
    page = browser.new_context(viewport={"width": 1280, "height": 860}, **context).new_page()  # type: ignore[attr-defined]
    page.goto(f"{url}/activity")
    assert "/login" in page.url  # not logged in yet
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/activity"))
    return page
