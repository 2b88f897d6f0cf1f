"""The JSON of the API's read resources: message summaries and details, contacts, feed pages.

Feed items have the live stream's shape (`feeditems`). Everything that came from a tracking
request (User-Agent, URL, IP, recipient) is passed through as data: JSON escapes it, nothing
here interprets it.
"""

from __future__ import annotations

from typing import Any

from mailbeacon.store import ClientSeen, ContactActivity, ContactRecord, FeedItem, MessageDetail, MessageSummary, UserRow
from mailbeacon.views.feeditems import item_json, notify_for
from mailbeacon.views.reports import activity_json, campaign_ref, message_json


def feed_item_json(item: FeedItem, viewer: UserRow) -> dict[str, Any]:
    """The stream's shape (`feeditems.item_json`), `notify` as the viewer's rules tell of it."""
    return item_json(item, notify_for(item, viewer.id, viewer))


def summary_json(summary: MessageSummary) -> dict[str, Any]:
    activity, recipients = summary.activity, summary.recipients

    def rate(count: int) -> float | None:
        return count / recipients if recipients else None

    return {
        "id": summary.id,
        "subject": summary.subject,
        "sender": summary.sender,
        "created_at": summary.created_at,
        "source": summary.source,
        "campaign": campaign_ref(summary.campaign_id, summary.campaign_name),
        "recipients": recipients,
        **activity_json(activity),
        "rates": {
            "open": rate(activity.unique_human_opens),
            "click": rate(activity.unique_human_clicks),
            "open_raw": rate(activity.unique_opens),
            "click_raw": rate(activity.unique_clicks),
        },
    }


def client_json(seen: ClientSeen) -> dict[str, Any]:
    return {"client": seen.client, "events": seen.events, "human": seen.human, "last_seen_at": seen.last_seen_at}


def detail_json(detail: MessageDetail, timeline_next: int | None, viewer: UserRow) -> dict[str, Any]:
    """`message_json` plus each recipient's clients and the message's newest events."""
    body = message_json(detail.report)
    clients = {key.hex(): [client_json(c) for c in seen] for key, seen in detail.clients.items()}
    for recipient in body["recipients"]:
        recipient["clients"] = clients.get(recipient["delivery"], [])
    report = detail.report
    total = len(report.recipients) if report.recipients_total is None else report.recipients_total
    body["recipients_total"] = total
    body["recipients_next"] = None  # the offset of the next page of recipients
    if report.recipients_total is not None and report.recipients:
        shown_up_to = detail.recipients_offset + len(report.recipients)
        body["recipients_next"] = shown_up_to if shown_up_to < total else None
    body["timeline"] = [feed_item_json(item, viewer) for item in detail.timeline]
    body["timeline_next"] = timeline_next
    return body


def record_json(found: ContactRecord) -> dict[str, Any]:
    """The directory's side of a contact: fields, lists, subscription and bounces (issue #14, item 5)."""
    row = found.record
    return {
        "fields": row.fields if row is not None else {},
        "lists": found.lists,
        "subscribed": row is None or row.is_subscribed,
        "unsubscribed_at": row.unsubscribed_at if row is not None else None,
        "unsubscribe_source": row.unsubscribe_source if row is not None else None,
        "bounces": {"count": found.bounces.count, "last_at": found.bounces.last_at,
                    "last_reply": found.bounces.last_reply},
    }


def contact_json(contact: ContactActivity) -> dict[str, Any]:
    return {
        "email": contact.email,
        "messages": contact.messages,
        "opens": {"raw": contact.raw_opens, "human": contact.human_opens},
        "clicks": {"raw": contact.raw_clicks, "human": contact.human_clicks},
        "first_sent_at": contact.first_sent_at,
        "last_sent_at": contact.last_sent_at,
        "last_human_open_at": contact.last_human_open_at,
        "last_activity_at": contact.last_activity_at,
    }
