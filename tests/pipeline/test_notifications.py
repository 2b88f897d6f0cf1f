"""Notification rules over events the real pipeline judged (pains.md H5: useful, not spam)."""

from __future__ import annotations

from mailbeacon.notices import notification_for
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import FeedFilter, Store, UserRow
from tests.pipeline.test_pipeline import CHROME, OUTLOOK, hit, sent

RULES = UserRow(id=1, email="a@example.com", is_admin=False, seat="basic", api_key_hash="k", smtp_password_hash="p",
                created_at=0.0)
"""The defaults a new user has: first open, re-open after an hour, every click."""


def told(store: Store) -> list[str]:
    items = reversed(store.feed(FeedFilter(), limit=100))
    return [f"{n.title} / {n.body}" for i in items if (n := notification_for(i, RULES)) is not None]


def test_apple_prefetch_a_scanner_click_then_the_person_make_one_notification(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 120, ip="17.58.101.9", ua="Mozilla/5.0")  # Apple Mail Privacy Protection
    hit(store, key, "click", 4, ip="40.107.1.9", ua=CHROME, link=0)  # Microsoft's scanner
    hit(store, key, "open", 3600)  # the person, in Thunderbird
    hit(store, key, "open", 3700)  # and again soon: not worth telling
    Pipeline(store).catch_up()
    assert told(store) == ["r0@example.org opened “s” / first open"]


def test_a_reopen_after_the_quiet_period_a_click_and_a_forward_are_each_told_once(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3600)
    hit(store, key, "click", 3650, ua=CHROME, link=1)
    hit(store, key, "open", 3600 + 2 * 86400)
    hit(store, key, "open", 3600 + 3 * 86400, ip="203.0.113.77", ua=OUTLOOK)  # another client and network
    Pipeline(store).catch_up()
    assert told(store) == [
        "r0@example.org opened “s” / first open",
        "r0@example.org clicked a link in “s” / clicked https://example.com/",
        "r0@example.org opened “s” again / opened again after 2 days",
        "“s” to r0@example.org possibly forwarded / possibly forwarded: opened on another device/network",
    ]
