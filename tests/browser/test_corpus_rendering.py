"""Instrumenting moves no pixel of the rendered mail (issue #18): corpus and hand-made pages in Chromium.

Each HTML part is rendered before and after instrumenting (pixel before </body>, and at the
top with a honeypot link), 600 and 375 px wide, scripts off, every subresource blocked by a
Content-Security-Policy and every request that still leaves the page aborted, so nothing is
fetched. The full-page screenshots must decode to the same pixels. The pixel's URL must be
requested all the same: markup that kept it from loading would pass the picture and lose opens.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailbeacon.instrument import Plan, instrument_message
from tests.browser.conftest import ARTIFACTS
from tests.support import corpus
from tests.support.fidelity import leaves
from tests.support.trackers import BASE, NumberedTracker

WIDTHS = (600, 375)
PLANS = {"end": Plan(), "top": Plan(pixel_at_top=True, honeypot=True)}
DOCUMENT = "http://mail.test/"
# Inline styles only: images, fonts, frames and stylesheets are refused by the browser itself;
# images from the tracker's host are let through to the route below, which records and aborts them.
CSP = f"default-src 'none'; style-src 'unsafe-inline'; img-src {BASE}"


@dataclass
class Screen:
    """One page of a given width that renders HTML bytes with nothing fetched."""

    page: Any
    cdp: Any
    width: int
    html: bytes = b""
    content_type: str = "text/html"
    requested: list[str] = field(default_factory=list)
    originals: dict[bytes, bytes] = field(default_factory=dict)
    """Screenshots of the page before instrumenting, taken once for every plan."""

    def route(self, route: Any) -> None:
        if route.request.url == DOCUMENT:
            headers = {"content-type": self.content_type, "content-security-policy": CSP}
            route.fulfill(status=200, body=self.html, headers=headers)
        else:
            self.requested.append(route.request.url)
            route.abort()

    def shot(self, html: bytes, charset: str | None) -> bytes:
        self.html = html
        self.content_type = f"text/html; charset={charset}" if charset else "text/html"
        self.page.goto(DOCUMENT, wait_until="load")
        # Chromium's own full-page capture, encoded for speed (the pixels are the same).
        size = self.cdp.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.cdp.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True, "optimizeForSpeed": True})
        return base64.b64decode(shot["data"])


@pytest.fixture(scope="module")
def screens(browser: Any) -> Iterator[dict[int, Screen]]:
    found: dict[int, Screen] = {}
    contexts = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 400}, java_script_enabled=False)
        contexts.append(context)
        page = context.new_page()
        screen = Screen(page, context.new_cdp_session(page), width)
        screen.page.route("**/*", screen.route)
        found[width] = screen
    yield found
    for context in contexts:
        context.close()


def pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes a row, filtered pixel rows) of a PNG: equal rows mean equal pixels."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    width = height = row = 0
    while pos < len(png):
        (size,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", png[pos + 8 : pos + 18])
            row = 1 + width * depth // 8 * {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            chunks.append(png[pos + 8 : pos + 8 + size])
        pos += 12 + size
    return width, height, row, zlib.decompress(b"".join(chunks))


def assert_same_rendering(screen: Screen, name: str, before: bytes, after: bytes, charset: str | None) -> None:
    if before not in screen.originals:
        screen.originals[before] = screen.shot(before, charset)
    png_before, png_after = screen.originals[before], screen.shot(after, charset)
    w0, h0, row, data0 = pixels(png_before)
    w1, h1, _, data1 = pixels(png_after)
    if (w0, h0, data0) == (w1, h1, data1):
        return
    ARTIFACTS.mkdir(exist_ok=True)
    stem = f"render-{name}-{screen.width}".replace("/", "_")
    (ARTIFACTS / f"{stem}-before.png").write_bytes(png_before)
    (ARTIFACTS / f"{stem}-after.png").write_bytes(png_after)
    # PNG filters read only the row above, so the first differing row of filtered data is the first that differs.
    first = next((i for i, (a, b) in enumerate(zip(data0, data1)) if a != b), min(len(data0), len(data1)))
    pytest.fail(
        f"{name} at {screen.width} px: {w0}x{h0} before, {w1}x{h1} after, first differing row {first // row}"
        f" (screenshots in {ARTIFACTS}/{stem}-*.png)"
    )


def html_parts(raw: bytes) -> list[tuple[bytes, str | None]]:
    """Decoded body HTML parts with their declared charset, read by Python's email package."""
    return [
        (part.get_payload(decode=True) or b"", part.get_content_charset())
        for part in leaves(raw)
        if part.get_content_type() == "text/html" and part.get_content_disposition() != "attachment"
    ]


def assert_renders_unchanged(screens: dict[int, Screen], name: str, raw: bytes) -> None:
    for screen in screens.values():
        screen.originals.clear()
    for label, plan in PLANS.items():
        result = instrument_message(raw, plan, NumberedTracker())
        if not result.report.changed:
            assert result.message == raw  # passed through (plain text, signed, malformed): nothing to render
            continue
        before, after = html_parts(raw), html_parts(result.message)
        assert len(before) == len(after)
        changed = [(i, old, new, charset) for i, ((old, charset), (new, _)) in enumerate(zip(before, after)) if old != new]
        assert len(changed) >= sum(1 for part in result.report.parts if part.pixel), "a part with a pixel is unchanged"
        for screen in screens.values():
            screen.requested.clear()
            for i, old, new, charset in changed:
                assert_same_rendering(screen, f"{name}-part{i}-{label}", old, new, charset)
            pixel = NumberedTracker().pixel_url()
            assert len(changed) == 0 or pixel in screen.requested, f"{name}: the pixel was never requested"
            assert all(url.startswith(BASE) for url in screen.requested), "a request got past the CSP"


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus.params("html"))
def test_template_renders_the_same_once_instrumented(screens: dict[int, Screen], path: Path) -> None:
    assert_renders_unchanged(screens, path.name, corpus.as_message(path.read_bytes()))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus.params("mime"))
def test_message_renders_the_same_once_instrumented(screens: dict[int, Screen], path: Path) -> None:
    assert_renders_unchanged(screens, path.name, path.read_bytes())


# Shapes of page the corpus lacks; each one moved the earlier inline or display:block pixel.
PAGES = {
    "text only": "<html><body>Hello</body></html>",
    "centred text": '<html><body style="margin:0;text-align:center">Hello world</body></html>',
    "no body": "<p>Hi</p>",
    "doctype without html or body": (
        '<!DOCTYPE html><table><tr><td style="font-size:20px"><img src="x.png" width="20" height="20"></td></tr></table>'
    ),
    "unclosed cell": "<html><body><table width=100%><tr><td align=center>cell\n</body></html>",
    "margin collapsing through body": '<html><body style="margin:0"><div style="margin:30px 0">x</div></body></html>',
    "floats at the end": (
        '<html><body style="margin:0"><div style="float:left;width:50%;height:100px;background:red"></div>'
        '<div style="float:left;width:50%;height:100px;background:blue"></div></body></html>'
    ),
    "right to left, floats at the end": (
        '<html dir="rtl"><body style="margin:0"><div style="float:right;width:50%;height:100px;background:red"></div>'
        '<div style="float:right;width:50%;height:100px;background:blue"></div></body></html>'
    ),
    "content to the bottom edge": '<html><body style="margin:0"><div style="height:900px;background:#036"></div></body></html>',
    "tall line height on body": '<html><body style="margin:0;line-height:40px"><table><tr><td>x</td></tr></table></body></html>',
    "preformatted body": '<html><body style="white-space:pre">line\n</body></html>',
}


@pytest.mark.parametrize(("name", "html"), PAGES.items(), ids=PAGES.keys())
def test_page_shapes_render_the_same_once_instrumented(screens: dict[int, Screen], name: str, html: str) -> None:
    assert_renders_unchanged(screens, name.replace(" ", "-"), corpus.as_message(html.encode()))
