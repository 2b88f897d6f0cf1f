"""`mailbeacon feed`: the activity feed in a terminal, newest last, or as JSON lines for programs.

A line says when (local time with its zone), the verdict (human, machine and
why, sender, proxied, possibly forwarded), who did what to which message, and
with which client. Recipients, subjects, URLs and User-Agents come from
strangers: they are printed as plain text (rich `Text`, never markup) with
control characters removed, so nothing in them can style, move or clear the
terminal.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from rich.console import Console
from rich.text import Text

from mailbeacon.notices import FORWARDED, Notification
from mailbeacon.store import FeedFilter, FeedItem, Store, StoreUnavailable, UserRow
from mailbeacon.views.feeditems import item_json, notify_for

POLL = 0.5
PAGE = 500

BADGES = {
    "human": "bold green",
    "proxied": "green",
    "suspect_forward": "magenta",
    "machine": "grey50",
    "sender": "yellow",
}

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates that can reorder
# what a terminal shows ("Trojan Source", CVE-2021-42574).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None) -> str:
    """Plain printable text: each control character becomes a space, then runs of spaces shrink.

    >>> clean("bob\\x1b[2J\\x1b]8;;http://evil\\x07@example.org\\n\\u202etxt.exe")
    'bob [2J ]8;;http://evil @example.org txt.exe'
    """
    return " ".join(_UNSAFE.sub(" ", text or "").split())


def local_time(t: float) -> str:
    """The viewer's local time with its zone, so it never reads as UTC by mistake (pains.md H6)."""
    return datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def what_happened(item: FeedItem) -> list[tuple[str, str]]:
    """(text, style) pieces after the recipient: the verb, the subject, and what kind of event it was."""
    subject = (f"“{clean(item.subject) or '(no subject)'}”", "italic")
    url = clean(item.url)
    if item.notice == "forward":
        how = f"possibly forwarded: clicked {url} on another device/network" if item.type == "click" else FORWARDED
        return [("'s copy of ", ""), subject, (f" {how}", "magenta")]
    if item.type == "click":
        return [(f" clicked {url} in ", ""), subject]
    return [(" opened ", ""), subject, (" (first open)" if item.notice == "first_open" else "", "")]


def line(item: FeedItem) -> Text:
    cls = item.cls or "unjudged"
    badge = cls if cls != "machine" or not item.reasons else f"machine: {', '.join(item.reasons)}"
    text = Text(no_wrap=False)
    text.append(local_time(item.occurred_at), style="dim")
    text.append("  ")
    text.append(f"[{clean(badge)}]", style=BADGES.get(cls, "dim"))
    text.append("  ")
    text.append(clean(item.recipient) or "(unknown recipient)", style="bold")
    for piece, style in what_happened(item):
        text.append(piece, style=style)
    if item.client:
        text.append(f"  · {clean(item.client)}", style="cyan")
    return text


class FeedPrinter:
    """Prints items as lines or JSON; JSON carries `notify` by the owner's rules (looked up once each)."""

    def __init__(self, store: Store, console: Console, as_json: bool, viewer: UserRow | None) -> None:
        self._store = store
        self._console = console
        self._as_json = as_json
        self._viewer = viewer
        self._owners: dict[int, UserRow | None] = {}

    def print(self, items: Iterable[FeedItem]) -> None:
        for item in items:
            if self._as_json:
                # JSON escapes every control character; print it raw, not through rich's markup.
                self._console.out(json.dumps(item_json(item, self._notify(item))), highlight=False)
            else:
                self._console.print(line(item))

    def _notify(self, item: FeedItem) -> Notification | None:
        owner = self._viewer or self._owner(item.user_id)
        return None if owner is None else notify_for(item, owner.id, owner)

    def _owner(self, user_id: int | None) -> UserRow | None:
        if user_id is None:
            return None
        if user_id not in self._owners:
            self._owners[user_id] = self._store.user_by_id(user_id)
        return self._owners[user_id]


def recent(store: Store, user: UserRow | None, limit: int) -> tuple[list[FeedItem], int]:
    """The newest `limit` judged items, oldest first, and the position to follow on from."""
    position = store.reader_position("classify")
    where = FeedFilter(user_id=None if user is None else user.id)
    items = store.feed(where, before=position + 1, limit=limit) if limit else []
    return list(reversed(items)), position


def follow(
    store: Store,
    user_ids: Sequence[int] | None,
    after: int,
    emit: Callable[[list[FeedItem]], None],
    warn: Callable[[str], None],
    stop: Callable[[], bool] = lambda: False,
    poll: float = POLL,
) -> None:
    """Emit items as the classifier judges them, until `stop()` (or Ctrl-C); a busy or absent store is waited for."""
    warned = False
    while not stop():
        try:
            items = store.feed_after(after, PAGE, user_ids)
        except StoreUnavailable as exc:
            if not warned:
                warn(f"mailbeacon: waiting for the store: {exc}")
                warned = True
            time.sleep(1.0)
            continue
        warned = False
        if items:
            emit(items)
            after = items[-1].id
        if len(items) < PAGE:
            time.sleep(poll)
