"""Webhooks done to the Standard Webhooks conventions: the fan-out, the signed delivery, endpoint checks.

`WebhookFanOut` turns judged events into outbox messages, `WebhookWorker` POSTs
them with `webhook-id`, `webhook-timestamp` and `webhook-signature` headers;
`create_endpoint`, `change_endpoint`, `send_test` and `redeliver` are what the
API and the dashboard call; `Destinations` says where a webhook may go (issue #12).
The tables and queries live in `store/webhooks.py`.
"""

from __future__ import annotations

from mailbeacon.webhooks.delivery import Backoff, WebhookStats, WebhookWorker
from mailbeacon.webhooks.destinations import DestinationRefused, Destinations
from mailbeacon.webhooks.endpoints import (
    EndpointDisabled,
    WebhookError,
    change_endpoint,
    check_filter,
    check_url,
    create_endpoint,
    redeliver,
    send_test,
)
from mailbeacon.webhooks.fanout import WebhookFanOut
from mailbeacon.webhooks.payloads import FILTER_KINDS, TEST_TYPE, event_payload, iso, plan_messages, wants
from mailbeacon.webhooks.signing import new_secret, sign

__all__ = [
    "FILTER_KINDS",
    "TEST_TYPE",
    "Backoff",
    "DestinationRefused",
    "Destinations",
    "EndpointDisabled",
    "WebhookError",
    "WebhookFanOut",
    "WebhookStats",
    "WebhookWorker",
    "change_endpoint",
    "check_filter",
    "check_url",
    "create_endpoint",
    "event_payload",
    "iso",
    "new_secret",
    "plan_messages",
    "redeliver",
    "send_test",
    "sign",
    "wants",
]
