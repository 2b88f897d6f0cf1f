"""Derived counters as the JSON API shows them: raw next to human, and what could not be tracked."""

from __future__ import annotations

from typing import Any

from mailbeacon.classify import HONEYPOT_LINK
from mailbeacon.store import Counters, MessageActivity, MessageReport, RecipientReport

IMAGES_BLOCKED = "images never loaded: clicked without loading the pixel"


def counts(counters: Counters, noun: str) -> dict[str, int]:
    return {
        "raw": getattr(counters, f"raw_{noun}"),
        "human": getattr(counters, f"human_{noun}"),
        "machine": getattr(counters, f"machine_{noun}"),
    }


def activity_json(activity: MessageActivity) -> dict[str, Any]:
    """A message's opens and clicks: raw, human, machine, and per recipient (unique)."""
    return {
        "opens": {
            **counts(activity, "opens"),
            "unique": activity.unique_opens,
            "unique_human": activity.unique_human_opens,
            "inferred": activity.inferred_opens,
        },
        "clicks": {
            **counts(activity, "clicks"),
            "unique": activity.unique_clicks,
            "unique_human": activity.unique_human_clicks,
        },
    }


def campaign_ref(campaign_id: int | None, name: str | None) -> dict[str, Any] | None:
    """The campaign a message is, if it is one: its subject is then a template (issue #13)."""
    return None if campaign_id is None else {"id": campaign_id, "name": name}


def message_json(report: MessageReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "subject": report.subject,
        "sender": report.sender,
        "created_at": report.created_at,
        "campaign": campaign_ref(report.campaign_id, report.campaign_name),
        **activity_json(report.activity),
        "recipients": [recipient_json(r) for r in report.recipients],
        "links": [
            {"idx": link.idx, "url": link.url, "clicks": {"raw": link.activity.raw_clicks,
                                                          "human": link.activity.human_clicks}}
            for link in report.links
            if link.idx != HONEYPOT_LINK  # the invisible trap is not a link anyone chose
        ],
    }


def recipient_json(recipient: RecipientReport) -> dict[str, Any]:
    activity = recipient.activity
    untrackable = [recipient.untracked_reason] if recipient.untracked_reason else []
    if activity.raw_opens == 0 and activity.inferred_open_at is not None:
        untrackable.append(IMAGES_BLOCKED)
    return {
        "recipient": recipient.recipient,
        "delivery": recipient.delivery_key.hex(),
        "shared": recipient.shared,
        "status": recipient.status,
        "subject": recipient.subject,
        "opens_tracked": recipient.opens_tracked,
        "clicks_tracked": recipient.clicks_tracked,
        "untrackable": untrackable,
        "opens": counts(activity, "opens"),
        "clicks": counts(activity, "clicks"),
        "first_open_at": activity.first_open_at,
        "last_open_at": activity.last_open_at,
        "first_human_open_at": activity.first_human_open_at,
        "inferred_open_at": activity.inferred_open_at,
    }
