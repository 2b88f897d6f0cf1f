"""A feed item as programs read it: the live stream's `data` and `mailbeacon feed --json` share this shape.

Everything that came with a tracking request (User-Agent, URL, IP) and the
recipient are data from strangers: kept as they are, escaped by JSON, never
interpreted. `notify` is what the owner's rules tell of it (mailbeacon.notices).
"""

from __future__ import annotations

from typing import Any

from mailbeacon.notices import Notification, Rules, notification_for
from mailbeacon.store import FeedItem
from mailbeacon.webhooks.payloads import event_data, iso


def item_json(item: FeedItem, notify: Notification | None) -> dict[str, Any]:
    """The webhook's event data (`webhooks.payloads.event_data`) with the time as unix seconds beside
    its ISO form, and the owner, the gap since the previous human open and `notify: {title, body} | null`."""
    return {
        **event_data(item),
        "occurred_at": item.occurred_at,
        "occurred_at_iso": iso(item.occurred_at),
        "user_id": item.user_id,
        "gap": item.gap,
        "notify": None if notify is None else {"title": notify.title, "body": notify.body},
    }


def notify_for(item: FeedItem, viewer_id: int, rules: Rules) -> Notification | None:
    """What the viewer is told: only of their own mail (and of mail nobody owns), under their rules.

    An admin watching everyone's activity is not told of other users' opens."""
    if item.user_id is not None and item.user_id != viewer_id:
        return None
    return notification_for(item, rules)
