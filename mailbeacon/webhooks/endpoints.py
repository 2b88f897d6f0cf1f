"""Creating and changing endpoints, sending a test, redelivering: the checks the API and the dashboard share.

Bad input raises WebhookError with a message fit to show the user as it is.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from mailbeacon.errors import MailbeaconError
from mailbeacon.store import NewWebhookMessage, Store, UserRow, Webhook
from mailbeacon.webhooks.destinations import DestinationRefused, Destinations
from mailbeacon.webhooks.payloads import FILTER_KINDS, webhook_test_payload
from mailbeacon.webhooks.signing import new_message_id, new_secret

MAX_URL = 2000


class WebhookError(MailbeaconError):
    """An endpoint setting or request that cannot be accepted; the message says why."""


class EndpointDisabled(WebhookError):
    """Nothing is sent to a disabled endpoint, not even a test or a redelivery: enable it first."""


def check_url(url: object, destinations: Destinations) -> str:
    """An absolute http(s) URL of a host `destinations` allows; anything else is refused when saved
    (and a host that resolves somewhere refused, at delivery).

    >>> check_url("ftp://example.com/hook", Destinations())
    Traceback (most recent call last):
    ...
    mailbeacon.webhooks.endpoints.WebhookError: url must start with http:// or https://
    >>> check_url("http://2130706433/hook", Destinations())
    Traceback (most recent call last):
    ...
    mailbeacon.webhooks.endpoints.WebhookError: url: 2130706433 is a loopback address; webhooks go to public \
addresses only (an operator can allow a network with --webhook-allow-network)
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("url must be a non-empty string")
    if len(url) > MAX_URL:
        raise WebhookError(f"url must be at most {MAX_URL} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise WebhookError("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise WebhookError(f"url is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError("url must start with http:// or https://")
    if not parts.hostname:
        raise WebhookError("url must name a host")
    try:
        # Parsed as the delivery will parse it: the host it connects to is raw_host (IDNA-encoded).
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookError(f"url is not a valid URL: {exc}") from None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        destinations.check_name(parsed.raw_host.decode("ascii"), port)
    except DestinationRefused as exc:
        raise WebhookError(
            f"url: {exc}; webhooks go to public addresses only (an operator can allow a network with "
            "--webhook-allow-network)"
        ) from None
    return url


def check_filter(value: object) -> tuple[str, ...]:
    """A list of event kinds (duplicates dropped, order kept); empty means every event."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise WebhookError("event_filter must be a list of strings")
    unknown = [v for v in value if v not in FILTER_KINDS]
    if unknown:
        raise WebhookError(f"unknown event kinds {unknown!r}; use any of {', '.join(FILTER_KINDS)}")
    return tuple(dict.fromkeys(value))


def check_all_users(user: UserRow, all_users: object) -> bool:
    if not isinstance(all_users, bool):
        raise WebhookError("all_users must be true or false")
    if all_users and not user.is_admin:
        raise WebhookError("only an admin's endpoint may receive everyone's events (all_users)")
    return all_users


def create_endpoint(
    store: Store, user: UserRow, url: object, event_filter: object = (), all_users: object = False, *,
    destinations: Destinations,
) -> Webhook:
    """A new endpoint of `user`, enabled, with a fresh secret; its URL must be one `destinations` allows."""
    checked = check_url(url, destinations), check_filter(event_filter), check_all_users(user, all_users)
    return store.create_webhook(user.id, checked[0], new_secret(), checked[1], checked[2])


def change_endpoint(
    store: Store,
    user: UserRow,
    webhook_id: int,
    *,
    url: object = None,
    event_filter: object = None,
    enabled: object = None,
    all_users: object = None,
    destinations: Destinations,
) -> Webhook | None:
    """Change what is not None (enabled=True re-enables an endpoint a 410 turned off); None if it is gone."""
    if enabled is not None and not isinstance(enabled, bool):
        raise WebhookError("enabled must be true or false")
    return store.update_webhook(
        webhook_id,
        url=None if url is None else check_url(url, destinations),
        event_filter=None if event_filter is None else check_filter(event_filter),
        enabled=enabled,
        all_users=None if all_users is None else check_all_users(user, all_users),
    )


def send_test(store: Store, webhook: Webhook) -> int:
    """Queue a `webhook.test` message to the endpoint now; returns the delivery's id."""
    if not webhook.enabled:
        raise EndpointDisabled("the endpoint is disabled; enable it first")
    payload = webhook_test_payload(webhook.id, time.time())
    return store.queue_webhook(NewWebhookMessage(webhook.id, None, new_message_id(), payload))


def redeliver(store: Store, webhook: Webhook, delivery_id: int) -> bool:
    """Send a delivery of this endpoint again now (same webhook-id and body); False if it has no such delivery."""
    found = store.webhook_delivery(delivery_id)
    if found is None or found.webhook_id != webhook.id:
        return False
    if not webhook.enabled:
        raise EndpointDisabled("the endpoint is disabled; enable it first")
    return store.redeliver_webhook(delivery_id)
