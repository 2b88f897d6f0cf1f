"""Captured mail: the capture mailbox listed, and one copy shown as its recipient would see it.

The HTML part is served on its own URL under a sandboxing CSP, so no script in a
mail runs and the page's origin is not the dashboard's, while images (the tracking
pixel) load; `<base target="_blank">` makes its tracked links open in a new tab.
A user sees the copies they sent (envelope sender or From); an admin sees all.
"""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.outbound import CaptureIndex, Captured
from mailbeacon.outbound.capture_index import decoded
from mailbeacon.store import UserRow
from mailbeacon.web.dashboard.pages import Pages

SHOWN = 200
MAIL_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src * data:; "
    "style-src 'unsafe-inline' *"
)
_HEAD = re.compile(rb"<head\b[^>]*>", re.I)
BASE = b'<base target="_blank">'


def mailbox(pages: Pages) -> CaptureIndex | None:
    """The capture mailbox's index (issue #12, item 17): the list reads it, not every message."""
    return CaptureIndex(pages.web.data_dir / "captured") if pages.web.data_dir is not None else None


def visible(copies: list[Captured], user: UserRow) -> list[Captured]:
    """Newest first, only the user's own unless they are an admin."""
    mine = user.email.lower()
    return [
        c for c in reversed(copies)
        if user.is_admin or mine in (c.mail_from.lower(), c.from_address.lower())
    ]


def parts_of(path: Path) -> tuple[str | None, str | None]:
    """(HTML, plain text) of a copy, each decoded with its part's charset; None where the mail has none."""
    message = BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    found: dict[str, str] = {}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/html", "text/plain") and not part.is_attachment() and kind not in found:
            found[kind] = decoded(part)
    return found.get("text/html"), found.get("text/plain")


def with_base(html: str) -> bytes:
    """The HTML with `<base target="_blank">` first in its head (or first of all), so links open a new tab."""
    raw = html.encode("utf-8", "replace")
    head = _HEAD.search(raw)
    if head is None:
        return BASE + raw
    return raw[: head.end()] + BASE + raw[head.end():]


def routes(pages: Pages) -> list[BaseRoute]:
    index = mailbox(pages)  # one per server: it keeps the index in memory while its file is unchanged

    async def find(request: Request, user: UserRow) -> Captured | None:
        if index is None:
            return None
        name = request.path_params["name"]
        copies = visible(await pages.call(index.read), user)
        return next((c for c in copies if c.path.name == name), None)  # never a path built from the URL

    async def captured_list(request: Request, user: UserRow) -> Response:
        copies = visible(await pages.call(index.read), user) if index else []
        return pages.render(request, "captured.html", user, copies=copies[:SHOWN], total=len(copies))

    async def captured_one(request: Request, user: UserRow) -> Response:
        copy = await find(request, user)
        if copy is None:
            return pages.not_found(request, user)
        html, text = await pages.call(parts_of, copy.path)
        return pages.render(request, "captured_one.html", user, copy=copy, has_html=html is not None, text=text)

    async def captured_html(request: Request, user: UserRow) -> Response:
        copy = await find(request, user)
        html = (await pages.call(parts_of, copy.path))[0] if copy else None
        if copy is None or html is None:
            return pages.not_found(request, user)
        return Response(
            with_base(html),
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": MAIL_CSP,
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    return [
        Route("/captured", pages.view(captured_list)),
        Route("/captured/{name}", pages.view(captured_one)),
        Route("/captured/{name}/html", pages.view(captured_html)),
    ]
