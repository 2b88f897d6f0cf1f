"""Notification rules: what a person is told of each judged event, under their own rules."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from mailbeacon.notices import Notification, describe_gap, notification_for

DAY = 86400.0


@dataclass(frozen=True)
class Item:
    type: str = "open"
    notice: str | None = "first_open"
    gap: float | None = None
    recipient: str | None = "bob@example.org"
    subject: str | None = "Our offer"
    url: str | None = None


@dataclass(frozen=True)
class Rules:
    notify_first_open: bool = True
    notify_reopen_after: float | None = 3600.0
    notify_clicks: bool = True


def test_first_human_open_is_told_with_recipient_and_subject() -> None:
    assert notification_for(Item(), Rules()) == Notification("bob@example.org opened “Our offer”", "first open")
    assert notification_for(Item(), Rules(notify_first_open=False)) is None


def test_a_later_open_is_told_only_after_the_quiet_period() -> None:
    later = Item(notice="open", gap=3 * DAY)
    told = notification_for(later, Rules())
    assert told is not None and told.body == "opened again after 3 days" and told.title.endswith("again")
    assert notification_for(replace(later, gap=600.0), Rules()) is None
    assert notification_for(replace(later, gap=3600.0), Rules()) is not None
    assert notification_for(later, Rules(notify_reopen_after=None)) is None  # "never again"
    assert notification_for(replace(later, gap=None), Rules()) is None


def test_a_click_is_told_with_its_url_when_clicks_are_wanted() -> None:
    click = Item(type="click", notice="click", url="https://example.com/pricing?plan=pro")
    told = notification_for(click, Rules())
    assert told is not None and told.body == "clicked https://example.com/pricing?plan=pro"
    assert notification_for(click, Rules(notify_clicks=False)) is None


def test_a_forward_is_told_as_possibly_forwarded_never_as_opened_again() -> None:
    forward = Item(notice="forward", gap=5 * 3600.0)
    told = notification_for(forward, Rules())
    assert told is not None
    assert told.body == "possibly forwarded: opened on another device/network"
    assert "again" not in told.title + told.body
    assert notification_for(replace(forward, gap=60.0), Rules()) is None  # its reader re-reading: quiet period
    assert notification_for(forward, Rules(notify_reopen_after=None)) is None


@pytest.mark.parametrize("kind", ["open", "click"])
def test_machine_and_sender_events_never_notify(kind: str) -> None:
    everything = Rules(notify_first_open=True, notify_reopen_after=0.0, notify_clicks=True)
    assert notification_for(Item(type=kind, notice=None, gap=10 * DAY), everything) is None


def test_hostile_text_stays_plain_text_and_long_text_is_cut() -> None:
    hostile = Item(recipient="<script>alert(1)</script>", subject="x" * 500)
    told = notification_for(hostile, Rules())
    assert told is not None and told.title.startswith("<script>alert(1)</script> opened “")
    assert len(told.title) < 150 and told.title.endswith("…”")


def test_unknown_recipient_and_subject_read_naturally() -> None:
    told = notification_for(Item(recipient=None, subject=None), Rules())
    assert told is not None and told.title == "someone opened “(no subject)”"


def test_gaps_read_as_people_say_them() -> None:
    assert [describe_gap(s) for s in (0, 1, 59, 90, 3599, 7200, 86400, 3 * DAY)] == [
        "0 seconds", "1 second", "59 seconds", "2 minutes", "60 minutes", "2 hours", "24 hours", "3 days",
    ]
