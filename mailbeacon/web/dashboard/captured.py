"""Captured mail: the capture mailbox listed and searched, and one copy taken apart as Mailpit shows it.

The HTML part is served on its own URL under a sandboxing CSP, so no script in a
mail runs and the page's origin is not the dashboard's, while images (the tracking
pixel) load; `<base target="_blank">` makes its tracked links open in a new tab.
Text, headers and raw source are shown as escaped text; attachments and the .eml are
downloads only, never served inline (issue #13, item 10). A user sees the copies of
their own deliveries (whoever the From says, as a campaign's does not say them); an
admin sees all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.outbound import CaptureIndex, Captured, delivery_of, tracked_links
from mailbeacon.outbound.captured_parts import anatomy_of, attachment_of, parse_message
from mailbeacon.store import UserRow
from mailbeacon.tokens import Keyring
from mailbeacon.web.dashboard.pages import Pages

SHOWN = 200
SOURCE_SHOWN = 1_000_000
"""Characters of raw source a page shows; the .eml download has all of it."""
MAIL_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src * data:; "
    "style-src 'unsafe-inline' *"
)
DOWNLOAD_CSP = "sandbox; default-src 'none'"
"""A download opened in a tab anyway runs nothing and loads nothing."""
VIEWS = ("html", "text", "links", "headers", "source")
_HEAD = re.compile(rb"<head\b[^>]*>", re.I)
BASE = b'<base target="_blank">'


@dataclass(frozen=True, slots=True)
class Search:
    """`q` of the list: every word must be in the recipient or the subject; `to:` or `subject:` picks one."""

    text: str

    def matches(self, copy: Captured) -> bool:
        to, subject = copy.delivered_to.lower(), copy.subject.lower()
        for word in self.text.lower().split():
            field, _, value = word.partition(":")
            if value and field == "to":
                found = value in to
            elif value and field == "subject":
                found = value in subject
            else:
                found = word in to or word in subject
            if not found:
                return False
        return True


def mailbox(pages: Pages) -> CaptureIndex | None:
    """The capture mailbox's index (issue #12, item 17): the list reads it, not every message."""
    return CaptureIndex(pages.web.data_dir / "captured") if pages.web.data_dir is not None else None


class Owners:
    """Whose copy each captured copy is: its delivery's user, asked of the store once per delivery (issue #13).

    A delivery never changes hands, so what the store said is kept for the server's life.
    """

    def __init__(self, pages: Pages, keyring: Keyring) -> None:
        self.pages = pages
        self.keyring = keyring
        self._delivery: dict[str, bytes | None] = {}
        self._user: dict[bytes, int | None] = {}

    async def visible(self, copies: list[Captured], user: UserRow) -> list[Captured]:
        """Newest first, only the user's own unless they are an admin."""
        if user.is_admin:
            return copies[::-1]
        keys = [self._key(copy) for copy in copies]
        unknown = sorted({k for k in keys if k is not None and k not in self._user})
        if unknown:
            self._user.update(await self.pages.call(self.pages.store.delivery_senders, unknown))
        mine = user.email.lower()
        return [
            copy for copy, key in zip(copies[::-1], keys[::-1], strict=True)
            if (self._user.get(key) == user.id if key is not None
                # a copy naming no delivery (mail captured by another tool): as before, by its sender
                else mine in (copy.mail_from.lower(), copy.from_address.lower()))
        ]

    def _key(self, copy: Captured) -> bytes | None:
        name = copy.path.name
        if name not in self._delivery:
            self._delivery[name] = delivery_of(copy, self.keyring)
        return self._delivery[name]


def with_base(html: str) -> bytes:
    """The HTML with `<base target="_blank">` first in its head (or first of all), so links open a new tab."""
    raw = html.encode("utf-8", "replace")
    head = _HEAD.search(raw)
    if head is None:
        return BASE + raw
    return raw[: head.end()] + BASE + raw[head.end():]


def download(data: bytes, filename: str, media_type: str) -> Response:
    """A file to save, never to render: attachment disposition, nosniff, a sandbox if opened anyway."""
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": disposition(filename),
        "Content-Security-Policy": DOWNLOAD_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


def disposition(filename: str) -> str:
    """`attachment` with an ASCII filename and the exact one in `filename*` (RFC 6266 §4.3, RFC 8187)."""
    name = "".join(c for c in filename.replace("/", "_").replace("\\", "_") if c.isprintable()).strip(" .") or "file"
    ascii_name = "".join(c if c.isascii() and c not in '"%;' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def eml_name(copy: Captured) -> str:
    stem = re.sub(r"[^\w .-]+", "", copy.subject).strip()[:80]
    return f"{stem or 'message'}.eml"


def routes(pages: Pages) -> list[BaseRoute]:
    index = mailbox(pages)  # one per server: it keeps the index in memory while its file is unchanged
    owners = Owners(pages, pages.web.tracking.keyring)
    keyring = pages.web.tracking.keyring

    async def mine(user: UserRow) -> list[Captured]:
        return await owners.visible(await pages.call(index.read), user) if index is not None else []

    async def find(request: Request, user: UserRow) -> Captured | None:
        name = request.path_params["name"]
        return next((c for c in await mine(user) if c.path.name == name), None)  # never a path built from the URL

    async def captured_list(request: Request, user: UserRow) -> Response:
        copies = await mine(user)
        search = Search(request.query_params.get("q", "").strip()[:200])
        found = [c for c in copies if search.matches(c)] if search.text else copies
        links = {c.path.name: len(tracked_links(c, keyring)) for c in found[:SHOWN]}
        return pages.render(request, "captured.html", user, copies=found[:SHOWN], total=len(found),
                            everything=len(copies), q=search.text, links=links)

    async def captured_one(request: Request, user: UserRow) -> Response:
        found = await message_of(request, user)
        if found is None:
            return pages.not_found(request, user)
        copy, message, data = found
        parts = await pages.call(anatomy_of, message)
        view = request.query_params.get("view", "")
        if view not in VIEWS:
            view = "html" if parts.html is not None else "text"
        source = data.decode("utf-8", "replace") if view == "source" else ""
        return pages.render(
            request, "captured_one.html", user, copy=copy, parts=parts, view=view, source=source[:SOURCE_SHOWN],
            source_cut=len(source) > SOURCE_SHOWN, links=tracked_links(copy, keyring), eml=eml_name(copy),
        )

    async def message_of(request: Request, user: UserRow) -> tuple[Captured, EmailMessage, bytes] | None:
        copy = await find(request, user)
        if copy is None:
            return None
        try:
            data = await pages.call(copy.path.read_bytes)
        except FileNotFoundError:  # deleted since the index was read
            return None
        return copy, await pages.call(parse_message, data), data

    async def captured_html(request: Request, user: UserRow) -> Response:
        found = await message_of(request, user)
        html = (await pages.call(anatomy_of, found[1])).html if found else None
        if html is None:
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

    async def captured_eml(request: Request, user: UserRow) -> Response:
        found = await message_of(request, user)
        if found is None:
            return pages.not_found(request, user)
        copy, _, data = found
        return download(data, eml_name(copy), "message/rfc822")

    async def captured_attachment(request: Request, user: UserRow) -> Response:
        found = await message_of(request, user)
        number = request.path_params["number"]
        attached = await pages.call(attachment_of, found[1], number) if found else None
        if attached is None:
            return pages.not_found(request, user)
        attachment, data = attached
        # Whatever the mail declares (text/html, image/svg+xml...), it is served as bytes to save.
        return download(data, attachment.filename, "application/octet-stream")

    return [
        Route("/captured", pages.view(captured_list)),
        Route("/captured/{name}", pages.view(captured_one)),
        Route("/captured/{name}/html", pages.view(captured_html)),
        Route("/captured/{name}/message.eml", pages.view(captured_eml)),
        Route("/captured/{name}/attachments/{number:int}", pages.view(captured_attachment)),
    ]
