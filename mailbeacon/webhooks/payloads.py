"""What an endpoint receives, and which events it wants.

A payload is built once, when the fan-out queues it, and stored: every attempt
and every redelivery sends the same bytes. Machine and sender events are sent
too (programs want the raw data) unless the endpoint's filter leaves them out.

Filter entries: `open`, `click`, or one of them with a class, e.g. `open.human`,
`click.machine` (classes: human, proxied, suspect_forward, machine, sender).
An empty filter wants every event. An endpoint gets the events of its owner's
mail that happen after it was created; an admin's endpoint marked `all_users`
gets everyone's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from mailbeacon.store import FeedItem, NewWebhookMessage, Webhook
from mailbeacon.webhooks.signing import new_message_id

EVENT_TYPES = {"open": "email.opened", "click": "email.clicked"}
TEST_TYPE = "webhook.test"
CLASSES = ("human", "proxied", "suspect_forward", "machine", "sender")
FILTER_KINDS = ("open", "click", *(f"{kind}.{cls}" for kind in EVENT_TYPES for cls in CLASSES))


def iso(t: float) -> str:
    """ISO 8601 in UTC with its offset: '2026-05-01T12:00:00.250000+00:00'."""
    return datetime.fromtimestamp(t, UTC).isoformat()


def _envelope(kind: str, timestamp: float, data: dict[str, object]) -> str:
    stamp = datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": kind, "timestamp": stamp, "data": data}, separators=(",", ":"))


def event_data(item: FeedItem) -> dict[str, object]:
    """The event as JSON (its User-Agent, URL and recipient are data from strangers: kept, escaped by JSON)."""
    return {
        "id": item.id,
        "type": item.type,
        "occurred_at": iso(item.occurred_at),
        "message_id": item.message_id,
        "subject": item.subject,
        "recipient": item.recipient,
        "url": item.url,
        "link": item.link_idx,
        "ip": item.ip,
        "user_agent": item.user_agent,
        "class": item.cls,
        "reasons": list(item.reasons),
        "client": item.client,
        "first": item.first,
        "notice": item.notice,
    }


def event_payload(item: FeedItem) -> str:
    """{"type": "email.opened"|"email.clicked", "timestamp": when it happened, "data": the event}."""
    return _envelope(EVENT_TYPES.get(item.type, f"email.{item.type}"), item.occurred_at, event_data(item))


def webhook_test_payload(webhook_id: int, now: float) -> str:
    return _envelope(TEST_TYPE, now, {"webhook_id": webhook_id, "message": "a test event from mailbeacon"})


def wants(endpoint: Webhook, item: FeedItem) -> bool:
    if not (item.user_id == endpoint.user_id or endpoint.all_users):
        return False
    if item.occurred_at < endpoint.created_at:
        return False  # a new endpoint does not get the past (after an upgrade the fan-out starts at 0)
    wanted = endpoint.event_filter
    return not wanted or item.type in wanted or f"{item.type}.{item.cls}" in wanted


def plan_messages(items: Sequence[FeedItem], endpoints: Sequence[Webhook]) -> list[NewWebhookMessage]:
    """One message per (endpoint, event) it wants; an event's payload is built once for all of them."""
    messages = []
    for item in items:
        payload = None
        for endpoint in endpoints:
            if wants(endpoint, item):
                payload = payload or event_payload(item)
                messages.append(NewWebhookMessage(endpoint.id, item.id, new_message_id(), payload))
    return messages
