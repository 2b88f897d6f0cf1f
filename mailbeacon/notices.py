"""Notification rules: which judged events a person is told of, and in what words.

The pipeline writes what an event *could* tell (`notice`: first_open, open,
click, forward; None for machine and sender events) with the quiet time before
it (`gap`); each user's rules decide whether it *is* told (pains.md H5: Apple's
prefetch, a scanner's click and the person's open make one notification, not
three). Pure: the live stream, the terminal feed and the dashboard share it.

Strings in the title and body come from the tracking request or the message
(recipient, subject, URL): plain text that every consumer must escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Noticed", "Notification", "Rules", "describe_gap", "notification_for"]

SUBJECT_CHARS = 80
URL_CHARS = 200
FORWARDED = "possibly forwarded: opened on another device/network"


class Noticed(Protocol):
    """What a feed item holds that the rules read (`mailbeacon.store.FeedItem` is one)."""

    @property
    def type(self) -> str: ...

    @property
    def notice(self) -> str | None: ...

    @property
    def gap(self) -> float | None: ...

    @property
    def recipient(self) -> str | None: ...

    @property
    def subject(self) -> str | None: ...

    @property
    def url(self) -> str | None: ...


class Rules(Protocol):
    """A user's choices (`mailbeacon.store.UserRow` is one)."""

    @property
    def notify_first_open(self) -> bool: ...

    @property
    def notify_reopen_after(self) -> float | None:
        """Seconds of quiet after which an open is told again; None: never again."""

    @property
    def notify_clicks(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Notification:
    title: str
    body: str


def notification_for(item: Noticed, rules: Rules) -> Notification | None:
    """The notification `item` gives under `rules`, or None.

    >>> class Item:
    ...     type, notice, gap, recipient, subject, url = "open", "open", 3 * 86400.0, "bob@example.org", "Offer", None
    >>> class Defaults:
    ...     notify_first_open, notify_reopen_after, notify_clicks = True, 3600.0, True
    >>> notification_for(Item(), Defaults())
    Notification(title='bob@example.org opened “Offer” again', body='opened again after 3 days')
    """
    who = item.recipient or "someone"
    subject = f"“{_cut(item.subject or '(no subject)', SUBJECT_CHARS)}”"
    if item.notice == "first_open":
        if not rules.notify_first_open:
            return None
        return Notification(f"{who} opened {subject}", "first open")
    if item.notice == "open":
        if not _quiet_long_enough(item.gap, rules.notify_reopen_after):
            return None
        return Notification(f"{who} opened {subject} again", f"opened again after {describe_gap(item.gap or 0.0)}")
    if item.notice == "click":
        if not rules.notify_clicks:
            return None
        return Notification(f"{who} clicked a link in {subject}", f"clicked {_cut(item.url or '', URL_CHARS)}")
    if item.notice == "forward":
        # Never "opened again": maybe someone else reads it. A forward's reader opening
        # it again and again is a re-open too, so the quiet period holds it back alike.
        if item.type == "click":
            if not rules.notify_clicks:
                return None
            body = f"possibly forwarded: clicked {_cut(item.url or '', URL_CHARS)} on another device/network"
            return Notification(f"{subject} to {who} possibly forwarded", body)
        if item.gap is not None and not _quiet_long_enough(item.gap, rules.notify_reopen_after):
            return None
        if item.gap is None and rules.notify_reopen_after is None:
            return None
        return Notification(f"{subject} to {who} possibly forwarded", FORWARDED)
    return None  # machine and sender events (notice None) never notify


def _quiet_long_enough(gap: float | None, reopen_after: float | None) -> bool:
    """A later open is told only after the user's quiet period; an unknown gap is not told."""
    return reopen_after is not None and gap is not None and gap >= reopen_after


def describe_gap(seconds: float) -> str:
    """A duration as a person says it, in its largest sensible unit.

    >>> describe_gap(42), describe_gap(61), describe_gap(5400), describe_gap(3 * 86400 + 7)
    ('42 seconds', '1 minute', '2 hours', '3 days')
    """
    for unit, size, switch in (("day", 86400, 1.5 * 86400), ("hour", 3600, 5400), ("minute", 60, 60)):
        if seconds >= switch:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = max(0, round(seconds))
    return f"{n} second{'s' if n != 1 else ''}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
