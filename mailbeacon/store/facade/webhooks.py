"""Webhook endpoints, their outbox fan-out, claims and delivery log."""

from __future__ import annotations

import time
from collections.abc import Sequence

from mailbeacon.store.backend import Lock
from mailbeacon.store.webhooks import (
    DueWebhook,
    FanOut,
    FanOutStep,
    NewWebhookMessage,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    claim_due_webhooks,
    delete_webhook,
    insert_webhook,
    insert_webhook_message,
    load_fan_out,
    next_webhook_due,
    record_attempt,
    release_leases,
    requeue,
    save_fan_out,
    select_webhook,
    select_webhook_deliveries,
    select_webhook_delivery,
    select_webhooks,
    update_webhook,
)
from mailbeacon.store.facade.base import StoreBase


class WebhookQueries(StoreBase):
    def create_webhook(
        self, user_id: int, url: str, secret: str, event_filter: Sequence[str], all_users: bool = False
    ) -> Webhook:
        """Store an endpoint as given; mailbeacon.webhooks.create_endpoint checks the URL and makes the secret."""
        with self._translated("create a webhook"), self._write() as conn:
            return insert_webhook(conn, user_id, url, secret, event_filter, all_users, time.time())

    def webhooks_of(self, user_id: int) -> list[Webhook]:
        """A user's endpoints, oldest first."""
        with self._translated("read webhooks"), self._read() as conn:
            return select_webhooks(conn, user_id)

    def webhook(self, webhook_id: int) -> Webhook | None:
        """One endpoint, whoever owns it: callers check `user_id`."""
        with self._translated("read a webhook"), self._read() as conn:
            return select_webhook(conn, webhook_id)

    def update_webhook(
        self,
        webhook_id: int,
        *,
        url: str | None = None,
        event_filter: Sequence[str] | None = None,
        enabled: bool | None = None,
        all_users: bool | None = None,
    ) -> Webhook | None:
        """Change what is not None; enabled=False marks pending messages disabled, True re-enables."""
        with self._translated("update a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return update_webhook(
                conn, webhook_id, url=url, event_filter=event_filter, enabled=enabled, all_users=all_users
            )

    def delete_webhook(self, webhook_id: int) -> bool:
        """The endpoint, its outbox and its delivery log; False if there was none."""
        with self._translated("delete a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return delete_webhook(conn, webhook_id)

    def webhook_deliveries(self, webhook_id: int, before: int | None = None, limit: int = 50) -> list[WebhookDelivery]:
        """The delivery log, newest first, deliveries with id < `before`, each with its attempts."""
        with self._translated("read webhook deliveries"), self._read() as conn:
            return select_webhook_deliveries(conn, webhook_id, before, limit)

    def webhook_delivery(self, delivery_id: int) -> WebhookDelivery | None:
        with self._translated("read a webhook delivery"), self._read() as conn:
            return select_webhook_delivery(conn, delivery_id)

    def redeliver_webhook(self, delivery_id: int) -> bool:
        """Queue a delivery again now, with the same webhook-id and body; False if there is no such delivery."""
        with self._translated("redeliver a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return requeue(conn, delivery_id, time.time())

    def queue_webhook(self, message: NewWebhookMessage) -> int:
        """Queue one message (a test event) now; returns the delivery's id."""
        with self._translated("queue a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return insert_webhook_message(conn, message, time.time())

    def advance_webhooks(self, limit: int, fan_out: FanOut) -> FanOutStep:
        """Queue messages for the next `limit` feed items after the fan-out's cursor, moving it in the same
        transaction; `fan_out` runs between the read and the write, as the pipeline's derive does."""
        with self._translated("fan out webhooks"):
            with self._read() as conn:
                position, end, items, endpoints = load_fan_out(conn, limit)
            if end == position:
                return FanOutStep(moved=False, queued=0)
            messages = fan_out(items, endpoints) if items else []
            with self._write(Lock.WEBHOOKS) as conn:
                if not save_fan_out(conn, position, end, messages, time.time()):
                    return FanOutStep(moved=False, queued=0, raced=True)
            return FanOutStep(moved=True, queued=len(messages))

    def claim_webhooks(self, limit: int, lease: float) -> list[DueWebhook]:
        """Up to `limit` due messages of enabled endpoints, held for `lease` seconds against other workers."""
        with self._translated("claim webhooks"), self._write(Lock.WEBHOOKS) as conn:
            return claim_due_webhooks(conn, time.time(), limit, lease)

    def record_webhook_attempt(
        self,
        delivery_id: int,
        attempt: WebhookAttempt,
        status: str,
        *,
        next_attempt_at: float | None = None,
        retry_until: float | None = None,
        disable_reason: str | None = None,
    ) -> bool:
        """Log an attempt and set the delivery's status (pending with `next_attempt_at` to retry);
        `disable_reason` also turns the endpoint off. False if the delivery was deleted or changed meanwhile."""
        with self._translated("record a webhook attempt"), self._write() as conn:
            return record_attempt(conn, delivery_id, attempt, status, next_attempt_at, retry_until, disable_reason)

    def release_webhooks(self, delivery_ids: Sequence[int]) -> None:
        with self._translated("release webhooks"), self._write() as conn:
            release_leases(conn, delivery_ids)

    def next_webhook_at(self) -> float | None:
        """When the earliest pending message of an enabled endpoint is due; None when there is none."""
        with self._translated("read the webhook outbox"), self._read() as conn:
            return next_webhook_due(conn)
