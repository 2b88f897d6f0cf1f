"""How values read on a page: times in UTC (the browser converts), durations, rates, client icons, event wording.

The live feed's script words new rows the same way; `CLIENT_ICONS` reaches it as
data on the feed element, so the icon rules live here only.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit

import jinja2

from mailbeacon.store import FeedItem
from mailbeacon.wording import many

CLIENT_ICONS: list[tuple[str, str]] = [
    # (lower-case text in the client label, icon); first match wins, so machines come before brands.
    ("privacy protection", "apple"),
    ("scanner", "robot"),
    ("preview", "robot"),
    ("library", "robot"),
    ("headless", "robot"),
    ("(bot)", "robot"),
    ("prefetch", "robot"),
    ("apple mail", "apple"),
    ("outlook", "outlook"),
    ("gmail", "gmail"),
    ("thunderbird", "thunderbird"),
    ("yahoo", "yahoo"),
    ("iphone", "mobile"),
    ("ipad", "mobile"),
    ("ios", "mobile"),
    ("android", "mobile"),
    ("proxy", "proxy"),
    ("chrome", "browser"),
    ("firefox", "browser"),
    ("safari", "browser"),
    ("edge", "browser"),
    ("opera", "browser"),
    ("browser", "browser"),
    ("mail", "mail"),
]


def client_icon(label: str | None) -> str:
    text = (label or "").lower()
    return next((icon for needle, icon in CLIENT_ICONS if needle in text), "unknown")


def describe(item: FeedItem) -> str:
    """What happened, in a few words: 'opened again after 3 h', 'clicked', 'possibly forwarded'."""
    if item.notice == "forward" or item.cls == "suspect_forward":
        return "possibly forwarded" if item.type == "open" else "clicked (possibly forwarded)"
    if item.type == "click":
        return "clicked"
    if item.notice == "first_open":
        return "opened"
    if item.notice == "open":
        return f"opened again after {duration(item.gap)}" if item.gap else "opened again"
    return "opened"


def utc(ts: float | None, seconds: bool = False) -> str:
    if ts is None:
        return "—"
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def pct(part: int | None, whole: int | None) -> str:
    if not whole:
        return "—"
    return f"{100 * (part or 0) / whole:.0f}%"


def path_part(value: str) -> str:
    """One URL path segment: '/' and '?' in a recipient stay inside the segment."""
    return quote(value, safe="@")


def is_web_url(url: str | None) -> bool:
    """Only http(s) targets become links; `javascript:` and the like stay text."""
    return bool(url) and urlsplit(str(url)).scheme.lower() in ("http", "https")


def query(params: Mapping[str, str], **changes: object) -> str:
    """`?a=1&b=2`: the page's query string with some parameters changed (None removes one)."""
    merged = {k: v for k, v in params.items() if v}
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    return "?" + urlencode(merged) if merged else "?"


BADGES = {"suspect_forward": "possibly forwarded"}


def badge(cls: str | None) -> str:
    return BADGES.get(cls or "", cls or "pending")


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        utc=utc, iso=iso, duration=duration, path_part=path_part, client_icon=client_icon, describe=describe,
        badge=badge,
    )
    env.globals.update(many=many, pct=pct, is_web_url=is_web_url, query=query, client_icons_json=json.dumps(CLIENT_ICONS, separators=(",", ":")))
