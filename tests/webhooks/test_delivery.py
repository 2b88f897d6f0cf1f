"""The delivery worker in-process against a real receiver and a real store: what counts as delivered,
what is retried, when it gives up. The backoff is shortened; its shape is checked as numbers.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailbeacon.store import Store, WebhookDelivery, open_store
from mailbeacon.webhooks import Backoff, Destinations, WebhookWorker, create_endpoint, send_test
from tests.support.databases import sqlite_url
from tests.webhooks.receiver import Receiver, running_receiver

LOCAL = Destinations.of_server(["127.0.0.0/8"])
"""The receivers of these tests listen on 127.0.0.1, as --webhook-allow-network 127.0.0.0/8 allows."""


@pytest.fixture()
def local_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(sqlite_url(tmp_path)) as store:
        store.migrate()
        yield store


def deliver_until(store: Store, worker: WebhookWorker, done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run the worker until `done()`, for at most `timeout` seconds."""

    async def run() -> None:
        await worker.start()
        try:
            deadline = time.monotonic() + timeout
            while not await asyncio.to_thread(done):
                if time.monotonic() > deadline:
                    raise AssertionError(f"not done after {timeout}s")
                await asyncio.sleep(0.05)
        finally:
            await worker.stop()

    asyncio.run(run())


def one_test_message(store: Store, receiver: Receiver, name: str) -> tuple[int, str]:
    """An endpoint at the receiver's /name with a queued test message; (delivery id, path)."""
    user_id = store.add_user(f"{name}@example.com", False, "basic", name, "unused")
    user = store.user_by_id(user_id)
    assert user is not None
    hook = create_endpoint(store, user, receiver.url(name), destinations=LOCAL)
    path = receiver.expect({"url": hook.url, "secret": hook.secret})
    return send_test(store, hook), path


def delivery(store: Store, delivery_id: int) -> WebhookDelivery:
    found = store.webhook_delivery(delivery_id)
    assert found is not None
    return found


def test_a_message_that_keeps_failing_is_failed_when_its_retry_window_ends(local_store: Store) -> None:
    with running_receiver() as receiver:
        delivery_id, path = one_test_message(local_store, receiver, "failing")
        receiver.defaults[path] = 500
        worker = WebhookWorker(local_store, backoff=Backoff(first=0.05, window=0.5), idle_poll=0.05,
                               destinations=LOCAL)
        deliver_until(local_store, worker, lambda: delivery(local_store, delivery_id).status == "failed")
        failed = delivery(local_store, delivery_id)
        received = receiver.wait_for(lambda s: True, path=path)
    assert len(failed.log) == len(received) >= 2  # 0.05 s, then 3 s: past the window
    assert {a.error for a in failed.log} == {"HTTP 500"} and failed.next_attempt_at is None
    assert all(r.verified for r in received) and len({r.id for r in received}) == 1
    assert local_store.claim_webhooks(10, lease=60) == []


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(local_store: Store) -> None:
    with running_receiver() as receiver:
        delivery_id, path = one_test_message(local_store, receiver, "moved")
        receiver.answers[path] = [302]
        worker = WebhookWorker(local_store, backoff=Backoff(first=0.05), idle_poll=0.05, destinations=LOCAL)
        deliver_until(local_store, worker, lambda: delivery(local_store, delivery_id).status == "delivered")
        seen = receiver.wait_for(lambda s: len(s) == 2, what="302 then 200")
    assert [(r.path, r.answered) for r in seen] == [(path, 302), (path, 200)]  # never /elsewhere
    assert [a.status_code for a in delivery(local_store, delivery_id).log] == [200, 302]


def test_no_answer_is_a_failed_attempt_retried_later(local_store: Store) -> None:
    user_id = local_store.add_user("nobody@example.com", False, "basic", "k", "unused")
    user = local_store.user_by_id(user_id)
    assert user is not None
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = create_endpoint(local_store, user, f"http://127.0.0.1:{port}/hook", destinations=LOCAL)
    delivery_id = send_test(local_store, hook)
    worker = WebhookWorker(local_store, backoff=Backoff(first=3600), idle_poll=0.05, destinations=LOCAL)
    deliver_until(local_store, worker, lambda: bool(delivery(local_store, delivery_id).log))
    pending = delivery(local_store, delivery_id)
    assert pending.status == "pending" and pending.attempts == 1 and pending.log[0].status_code is None
    assert "ConnectError" in (pending.log[0].error or "")
    assert pending.next_attempt_at is not None and pending.next_attempt_at > time.time() + 3600 * 0.7


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(local_store: Store) -> None:
    with running_receiver() as receiver:
        delivery_id, path = one_test_message(local_store, receiver, "slow")
        receiver.stalls[path] = [3.0]
        worker = WebhookWorker(local_store, backoff=Backoff(first=3600), timeout=0.5, idle_poll=0.05,
                               destinations=LOCAL)
        deliver_until(local_store, worker, lambda: bool(delivery(local_store, delivery_id).log))
    (attempt,) = delivery(local_store, delivery_id).log
    assert attempt.status_code is None and attempt.error == "no answer within 0.5 s"


def test_the_backoff_follows_the_schedule_within_its_jitter() -> None:
    backoff = Backoff()
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000]
    for failures, wait in enumerate(expected):
        seen = [backoff.delay(failures) for _ in range(50)]
        assert all(wait * 0.8 <= s <= wait * 1.2 for s in seen), (failures, min(seen), max(seen))
    # After the first failure, six more attempts always fit in 24 hours and eight more never do.
    assert sum(w * 1.2 for w in expected[:6]) < backoff.window < sum(w * 0.8 for w in expected[:8])
