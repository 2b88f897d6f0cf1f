"""A feed item as programs read it: the live stream's `data` and `mailbeacon feed --json` share this shape.

Everything that came with a tracking request (User-Agent, URL, IP) and the
recipient are data from strangers: kept as they are, escaped by JSON, never
interpreted. `notify` is what the owner's rules tell of it (mailbeacon.notices).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mailbeacon.notices import Notification, Rules, notification_for
from mailbeacon.store import FeedItem


def item_json(item: FeedItem, notify: Notification | None) -> dict[str, Any]:
    """{id, type, occurred_at (unix seconds), occurred_at_iso (UTC), user_id, message_id, subject, recipient,
    link, url, ip, user_agent, class, reasons, client, first, notice, gap, notify: {title, body} | null}."""
    return {
        "id": item.id,
        "type": item.type,
        "occurred_at": item.occurred_at,
        "occurred_at_iso": datetime.fromtimestamp(item.occurred_at, UTC).isoformat(),
        "user_id": item.user_id,
        "message_id": item.message_id,
        "subject": item.subject,
        "recipient": item.recipient,
        "link": item.link_idx,
        "url": item.url,
        "ip": item.ip,
        "user_agent": item.user_agent,
        "class": item.cls,
        "reasons": list(item.reasons),
        "client": item.client,
        "first": item.first,
        "notice": item.notice,
        "gap": item.gap,
        "notify": None if notify is None else {"title": notify.title, "body": notify.body},
    }


def notify_for(item: FeedItem, viewer_id: int, rules: Rules) -> Notification | None:
    """What the viewer is told: only of their own mail (and of mail nobody owns), under their rules.

    An admin watching everyone's activity is not told of other users' opens."""
    if item.user_id is not None and item.user_id != viewer_id:
        return None
    return notification_for(item, rules)
