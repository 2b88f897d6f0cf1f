"""A captured copy's tracking URLs read with our keys (issue #13, item 3): each link's target, whose copy it is.

A `/c/` token carries its target and link index, signed and encrypted by the keyring, so
whoever holds the keys (the dashboard, `mailbeacon captured`) can say where a link leads
without the store. The honeypot link (`HONEYPOT_LINK`) is a trap for scanners, invisible
in the mail: people-facing lists leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbeacon.errors import TokenInvalid
from mailbeacon.events import HONEYPOT_LINK
from mailbeacon.outbound.capture_index import Captured
from mailbeacon.tokens import ClickToken, Keyring


@dataclass(frozen=True, slots=True)
class TrackedLink:
    url: str
    """The tracked URL in the copy (`.../c/{token}`): what a reader's click requests."""
    target: str | None
    """Where it redirects; None for a token our keys do not open (another server's, or damaged)."""


def tracked_links(copy: Captured, keyring: Keyring | None) -> list[TrackedLink]:
    """The copy's tracked links in order, each with its target, without the honeypot."""
    links = []
    for url in copy.click_urls:
        token = _click_token(url, keyring)
        if token is not None and token.link == HONEYPOT_LINK:
            continue
        links.append(TrackedLink(url, token.url if token is not None else None))
    return links


def delivery_of(copy: Captured, keyring: Keyring | None) -> bytes | None:
    """The copy's delivery key: as the capture recorded it, else from its first token our keys open.

    Copies captured before the capture recorded it (issue #13) still name their delivery in
    their pixel and links; a copy with neither (plain text, untracked) has none.
    """
    if copy.delivery:
        return bytes.fromhex(copy.delivery)
    if keyring is None:
        return None
    for url in copy.pixel_urls:
        token = url.rsplit("/o/", 1)[-1].removesuffix(".gif")
        try:
            return keyring.verify_open(token).delivery
        except TokenInvalid:
            continue
    for url in copy.click_urls:
        if (click := _click_token(url, keyring)) is not None:
            return click.delivery
    return None


def _click_token(url: str, keyring: Keyring | None) -> ClickToken | None:
    if keyring is None or "/c/" not in url:
        return None
    try:
        return keyring.verify_click(url.rsplit("/c/", 1)[1])
    except TokenInvalid:
        return None
