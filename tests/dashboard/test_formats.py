"""How the dashboard words and links things, and where it lets a login send you."""

from __future__ import annotations

import pytest

from mailbeacon.store import FeedItem
from mailbeacon.web.dashboard.formats import client_icon, describe, is_web_url, query
from mailbeacon.web.dashboard.pages import safe_next


def item(**changes: object) -> FeedItem:
    fields: dict[str, object] = dict(
        id=1, type="open", occurred_at=0.0, user_id=1, message_id=1, subject="s", recipient="r", link_idx=None,
        url=None, ip="1.2.3.4", user_agent="ua", cls="human", reasons=(), client=None, first=True, notice="first_open",
        gap=None,
    )
    fields.update(changes)
    return FeedItem(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("changes,words", [
    ({}, "opened"),
    ({"notice": "open", "gap": 3 * 3600}, "opened again after 3 h"),
    ({"notice": "open", "gap": 90}, "opened again after 2 min"),
    ({"notice": "forward", "cls": "suspect_forward"}, "possibly forwarded"),
    ({"notice": None, "cls": "machine"}, "opened"),
    ({"type": "click", "notice": "click", "link_idx": 0}, "clicked"),
    ({"type": "click", "notice": "forward", "cls": "suspect_forward"}, "clicked (possibly forwarded)"),
])
def test_what_happened_in_a_few_words(changes: dict[str, object], words: str) -> None:
    assert describe(item(**changes)) == words


@pytest.mark.parametrize("label,icon", [
    ("Thunderbird (Windows)", "thunderbird"), ("Gmail (image proxy)", "gmail"), ("Gmail (prefetch)", "robot"),
    ("Apple Mail (Privacy Protection)", "apple"), ("Apple Mail (iPhone)", "apple"), ("Outlook desktop (Windows)",
    "outlook"), ("Microsoft Preview (link preview)", "robot"), ("Yahoo Mail", "yahoo"), ("Mobile Safari (iPhone)",
    "mobile"), ("Chrome (Mac)", "browser"), ("python-requests (http library)", "robot"), ("Proofpoint (scanner)",
    "robot"), (None, "unknown"), ("unknown", "unknown"),
])
def test_client_icons(label: str | None, icon: str) -> None:
    assert client_icon(label) == icon


def test_only_web_urls_become_links() -> None:
    assert is_web_url("https://example.com/") and is_web_url("HTTP://example.com/")
    assert not any(is_web_url(u) for u in ("javascript:alert(1)", " javascript:x", "data:text/html,x", "", None))


def test_query_strings_keep_the_other_parameters() -> None:
    assert query({"sort": "open_rate", "after": "1:2", "recipient": ""}, after=None, dir="asc") == "?sort=open_rate&dir=asc"
    assert query({}, before=5) == "?before=5"


@pytest.mark.parametrize("target,expected", [
    ("/messages?recipient=a%40b", "/messages?recipient=a%40b"), ("/", "/"), (None, "/activity"), ("", "/activity"),
    ("//evil.example", "/activity"), ("/\\evil.example", "/activity"), ("https://evil.example/", "/activity"),
    ("/\t/evil.example", "/activity"), ("/ok\r\nSet-Cookie: x", "/activity"), ("evil.example", "/activity"),
])
def test_login_only_sends_you_to_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
