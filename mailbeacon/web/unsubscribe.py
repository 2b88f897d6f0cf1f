"""`/u/{token}`: the unsubscribe link of campaign mail. GET and HEAD change nothing; POST unsubscribes.

Link scanners open every URL in a message (one sender found 489 of 497
unsubscribes were a security gateway), so the link shows a confirmation page
and only its form's POST, or a mail client's RFC 8058 one-click POST
(`List-Unsubscribe=One-Click`), unsubscribes. Neither needs a session or a
CSRF token: the signed token is the authority, and it names the contact
itself, so no id can be edited by hand. A tampered token gets a 404 page.
"""

from __future__ import annotations

import re

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon.errors import TokenInvalid
from mailbeacon.store import ContactRow, StoreUnavailable
from mailbeacon.web import public_page
from mailbeacon.web.context import Web

HEADERS = {
    "Content-Security-Policy": public_page.CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
MAX_BODY = 16 * 1024
"""Bytes of a POST body read to tell a one-click request from the page's form; the rest is never read."""
# RFC 8058 §3.1: the body is the key/value pair "List-Unsubscribe=One-Click", form-urlencoded or multipart.
_ONE_CLICK = re.compile(rb'List-Unsubscribe=One-Click|name="?List-Unsubscribe"?\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click')
_TITLES = {
    "confirm": "Unsubscribe?",
    "done": "You are unsubscribed",
    "already": "You are unsubscribed",
    "invalid": "Link not valid",
    "unavailable": "Try again",
}


def routes(web: Web) -> list[BaseRoute]:
    store, keyring = web.store, web.tracking.keyring
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mailbeacon.web", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    template = env.get_template("unsubscribe.html")

    def page(state: str, contact: ContactRow | None = None, status: int = 200,
             origin: tuple[str, str] = ("", "")) -> Response:
        address = mask_address(contact.email) if contact is not None else ""
        body = template.render(state=state, title=_TITLES[state], address=address, style=public_page.STYLE,
                               sender=origin[0], list_name=origin[1])
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def origin_of(campaign_id: int) -> tuple[str, str]:
        """Who sent the campaign (its From) and to which list: a reader must know what they leave."""
        campaign = store.campaign(campaign_id) if campaign_id else None
        if campaign is None:
            return "", ""
        named = next((found.name for found in store.lists() if found.id == campaign.list_id), "")
        return campaign.from_address, named

    async def unsubscribe(request: Request) -> Response:
        try:
            token = keyring.verify_unsubscribe(request.path_params["token"])
        except TokenInvalid:
            return page("invalid", status=404)
        try:
            if request.method == "POST":
                source = await one_click_or_link(request)
                contact = await run_in_threadpool(store.unsubscribe, token.contact_id, source, token.campaign_id or None)
                origin = await run_in_threadpool(origin_of, token.campaign_id)
                return page("done", contact, origin=origin) if contact is not None else page("invalid", status=404)
            contact = await run_in_threadpool(store.contact_by_id, token.contact_id)
            origin = await run_in_threadpool(origin_of, token.campaign_id)
        except StoreUnavailable:
            return page("unavailable", status=503)
        if contact is None:
            return page("invalid", status=404)
        return page("confirm" if contact.is_subscribed else "already", contact, origin=origin)

    return [Route("/u/{token}", unsubscribe, methods=["GET", "HEAD", "POST"])]


async def one_click_or_link(request: Request) -> str:
    """"one-click" for an RFC 8058 request, "link" for the confirmation page's form (or any other body)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) >= MAX_BODY:
            break
    return "one-click" if _ONE_CLICK.search(body) else "link"


def mask_address(email: str) -> str:
    """Enough of the address to recognise it, not enough to harvest it from a forwarded link.

    >>> mask_address("bob.smith@example.com"), mask_address("b@example.com")
    ('b***@example.com', '*@example.com')
    """
    local, _, domain = email.rpartition("@")
    return f"{local[0]}***@{domain}" if len(local) > 1 else f"*@{domain}"
