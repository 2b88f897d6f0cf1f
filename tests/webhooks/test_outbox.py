"""The webhook outbox in a real store (SQLite and PostgreSQL): fan-out exactly once, claims with leases, the log.

Events are judged by the real classify reader before the fan-out reads them,
as in `mailbeacon serve`.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import Counter

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import NewWebhookMessage, Store, Webhook, WebhookAttempt, open_store, patiently
from mailbeacon.store.webhooks import DELIVERED, DISABLED, PENDING
from mailbeacon.webhooks import WebhookFanOut, new_secret

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
_uids = itertools.count(1)


def add_user(store: Store, email: str, admin: bool = False) -> int:
    return store.add_user(email, admin, "basic", secrets.token_hex(16), "unused")


def sent_by(store: Store, user_id: int, recipient: str = "bob@example.org") -> bytes:
    key = secrets.token_bytes(12)
    store.record_message(user_id, "sender@example.com", "Offer", None, [(key, recipient)], [(0, "https://example.com/a")])
    return key


def hit(store: Store, key: bytes, kind: str = "open", after: float = 3600, method: str = "GET",
        ua: str = THUNDERBIRD, link: int | None = None) -> None:
    """An event `after` seconds from now (an hour later reads as a person; HEAD is always a machine)."""
    url = None if link is None else "https://example.com/a"
    uid = next(_uids).to_bytes(8, "big") + secrets.token_bytes(8)
    store.append_events([RawEvent(uid, EventKind(kind), key, link, url, time.time() + after, "198.51.100.7", ua,
                                  method)])


def endpoint(store: Store, user_id: int, kinds: list[str] | None = None, all_users: bool = False) -> Webhook:
    return store.create_webhook(user_id, "http://127.0.0.1:9/hook", new_secret(), kinds or [], all_users)


def queued_events(store: Store, webhook: Webhook) -> list[int]:
    return sorted(d.event_id or 0 for d in store.webhook_deliveries(webhook.id, limit=10_000))


def test_each_event_goes_once_to_each_endpoint_that_wants_it(store: Store) -> None:
    alice, bob, admin = add_user(store, "alice@example.com"), add_user(store, "bob@example.com"), add_user(
        store, "admin@example.com", admin=True)
    everything, clicks, human_opens = endpoint(store, alice), endpoint(store, alice, ["click"]), endpoint(
        store, alice, ["open.human"])
    pretends = endpoint(store, alice, all_users=True)  # not an admin: the flag gives nothing more
    bobs, admins_own, admins_all = endpoint(store, bob), endpoint(store, admin), endpoint(store, admin, all_users=True)
    turned_off = endpoint(store, alice)
    store.update_webhook(turned_off.id, enabled=False)

    to_bob = sent_by(store, alice)
    hit(store, to_bob, "open", method="HEAD")
    hit(store, to_bob, "open")
    hit(store, to_bob, "click", after=3700, ua=CHROME, link=0)
    hit(store, to_bob, "open", after=-60)  # before the endpoints existed: none gets it
    hit(store, sent_by(store, bob), "open")
    Pipeline(store).catch_up()
    assert WebhookFanOut(store).catch_up() == 3 + 1 + 1 + 3 + 1 + 4

    alice_ids = [e.id for e in store.events_after(0, 10, alice)][:3]
    machine, person, click = alice_ids
    bob_id = store.events_after(0, 10, bob)[0].id
    assert [(e.cls, e.type) for e in store.events_after(0, 3, alice)] == [
        ("machine", "open"), ("human", "open"), ("human", "click")]
    assert queued_events(store, everything) == queued_events(store, pretends) == alice_ids
    assert queued_events(store, clicks) == [click]
    assert queued_events(store, human_opens) == [person]
    assert queued_events(store, bobs) == [bob_id]
    assert queued_events(store, admins_own) == []
    assert queued_events(store, admins_all) == sorted([*alice_ids, bob_id])
    assert queued_events(store, turned_off) == []
    assert machine in queued_events(store, everything)  # machine events are delivered unless filtered out

    delivery = store.webhook_deliveries(clicks.id)[0]
    assert delivery.status == PENDING and delivery.message_id.startswith("msg_")
    payload = json.loads(delivery.payload)
    assert payload["type"] == "email.clicked" and payload["timestamp"].endswith("Z")
    data = payload["data"]
    assert (data["id"], data["type"], data["class"], data["link"], data["url"]) == (
        click, "click", "human", 0, "https://example.com/a")
    assert (data["subject"], data["recipient"], data["user_agent"]) == ("Offer", "bob@example.org", CHROME)
    assert data["occurred_at"].endswith("+00:00") and data["notice"] == "click"
    # The same event to two endpoints: the same body, each with its own webhook-id.
    to_all = [d for d in store.webhook_deliveries(everything.id) if d.event_id == click][0]
    assert to_all.payload == delivery.payload and to_all.message_id != delivery.message_id


def test_the_fan_out_moves_on_without_endpoints_and_a_new_endpoint_gets_only_what_follows(store: Store) -> None:
    alice = add_user(store, "alice@example.com")
    key = sent_by(store, alice)
    hit(store, key, after=-120)
    Pipeline(store).catch_up()
    assert WebhookFanOut(store).catch_up() == 0
    assert store.reader_position("webhooks") == store.reader_position("classify") > 0
    hook = endpoint(store, alice)
    hit(store, key)
    Pipeline(store).catch_up()
    assert WebhookFanOut(store).catch_up() == 1
    assert queued_events(store, hook) == [store.last_event_id()]


def test_reclassifying_does_not_send_events_again(store: Store) -> None:
    alice = add_user(store, "alice@example.com")
    hook = endpoint(store, alice)
    hit(store, sent_by(store, alice))
    Pipeline(store).catch_up()
    assert WebhookFanOut(store).catch_up() == 1
    Pipeline(store).reclassify()
    assert WebhookFanOut(store).catch_up() == 0
    assert len(queued_events(store, hook)) == 1


def test_two_fan_outs_racing_on_one_store_queue_each_event_once(store: Store, store_url: str) -> None:
    alice = add_user(store, "alice@example.com")
    hooks = [endpoint(store, alice), endpoint(store, alice, ["open"])]
    key = sent_by(store, alice)
    errors: list[BaseException] = []
    done = threading.Event()

    def fan_out(other: Store) -> None:
        try:
            reader = WebhookFanOut(other, batch=7)
            while not done.is_set():
                reader.catch_up()
            reader.catch_up()
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    # Two processes' worth: each reader has its own Store (own connections, own in-process lock).
    with open_store(store_url) as one, open_store(store_url) as two:
        threads = [threading.Thread(target=fan_out, args=(s,)) for s in (one, two)]
        for t in threads:
            t.start()
        for _ in range(30):
            for _ in range(3):
                patiently(lambda: hit(store, key))
            Pipeline(store).catch_up()
        done.set()
        for t in threads:
            t.join(timeout=60)
        WebhookFanOut(store).catch_up()
    assert errors == []
    events = [e.id for e in store.events_after(0, 1000, None)]
    assert len(events) == 90
    for hook in hooks:
        per_event = Counter(queued_events(store, hook))
        assert sorted(per_event) == events and set(per_event.values()) == {1}


def queue(store: Store, hook: Webhook, n: int) -> list[int]:
    return [store.queue_webhook(NewWebhookMessage(hook.id, None, f"msg_{secrets.token_hex(6)}", '{"n":%d}' % i))
            for i in range(n)]


def attempt(status: int | None, error: str | None = None) -> WebhookAttempt:
    return WebhookAttempt(time.time(), status, error, 0.01, "ok" if status else None)


def test_a_claim_holds_messages_until_recorded_released_or_its_lease_ends(store: Store, store_url: str) -> None:
    hook = endpoint(store, add_user(store, "alice@example.com"))
    ids = queue(store, hook, 3)
    with open_store(store_url) as other:
        claimed = store.claim_webhooks(10, lease=3600)
        assert sorted(c.id for c in claimed) == ids
        assert other.claim_webhooks(10, lease=3600) == []
        # A failed attempt due again at once is free for anyone.
        assert store.record_webhook_attempt(ids[0], attempt(500, "HTTP 500"), PENDING,
                                            next_attempt_at=time.time() - 1, retry_until=time.time() + 60)
        again = other.claim_webhooks(10, lease=-1)  # a lease that has already ended
        assert [(c.id, c.attempts, c.payload) for c in again] == [(ids[0], 1, '{"n":0}')]
        store.release_webhooks(ids[1:])
        assert sorted(c.id for c in other.claim_webhooks(10, lease=3600)) == ids
    assert store.next_webhook_at() is not None


def test_concurrent_claims_hand_each_message_to_one_worker(store: Store, store_url: str) -> None:
    hook = endpoint(store, add_user(store, "alice@example.com"))
    ids = queue(store, hook, 60)
    got: list[int] = []
    errors: list[BaseException] = []

    def claim(worker: Store) -> None:
        try:
            while batch := patiently(lambda: worker.claim_webhooks(4, lease=3600)):
                got.extend(c.id for c in batch)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    with open_store(store_url) as one, open_store(store_url) as two:
        threads = [threading.Thread(target=claim, args=(s,)) for s in (one, two, store)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert sorted(got) == ids


def test_410_disables_the_endpoint_and_redelivery_sends_the_same_message(store: Store) -> None:
    hook = endpoint(store, add_user(store, "alice@example.com"))
    first, second = queue(store, hook, 2)
    claimed = store.claim_webhooks(1, lease=60)[0]
    assert claimed.id == first
    assert store.record_webhook_attempt(first, attempt(410, "HTTP 410"), DISABLED, disable_reason="gone")
    now_off = store.webhook(hook.id)
    assert now_off is not None and (now_off.enabled, now_off.disabled_reason) == (False, "gone")
    assert [d.status for d in store.webhook_deliveries(hook.id)] == [DISABLED, DISABLED]
    assert store.claim_webhooks(10, lease=60) == []

    store.update_webhook(hook.id, enabled=True)
    assert store.claim_webhooks(10, lease=60) == []  # what was disabled waits for a redelivery
    assert store.redeliver_webhook(first)
    again = store.claim_webhooks(10, lease=60)
    assert [(d.id, d.message_id, d.payload, d.attempts) for d in again] == [
        (first, claimed.message_id, claimed.payload, 0)]
    assert store.record_webhook_attempt(first, attempt(204), DELIVERED)
    log = store.webhook_delivery(first)
    assert log is not None and log.status == DELIVERED and log.delivered_at is not None
    assert [a.status_code for a in log.log] == [204, 410]  # newest first
    assert store.webhook_delivery(second) is not None
    assert not store.redeliver_webhook(10**9)


def test_deleting_an_endpoint_takes_its_outbox_and_log(store: Store) -> None:
    hook = endpoint(store, add_user(store, "alice@example.com"))
    (only,) = queue(store, hook, 1)
    store.claim_webhooks(1, lease=60)
    store.record_webhook_attempt(only, attempt(None, "ConnectError"), PENDING, next_attempt_at=time.time(),
                                 retry_until=time.time() + 60)
    assert store.delete_webhook(hook.id)
    assert store.webhook(hook.id) is None and store.webhook_delivery(only) is None
    assert not store.delete_webhook(hook.id)
    # A worker finishing a delivery of the deleted endpoint records nothing.
    assert not store.record_webhook_attempt(only, attempt(200), DELIVERED)


def test_the_delivery_log_pages_newest_first(store: Store) -> None:
    hook = endpoint(store, add_user(store, "alice@example.com"))
    ids = queue(store, hook, 5)
    page = store.webhook_deliveries(hook.id, limit=2)
    assert [d.id for d in page] == ids[::-1][:2]
    assert [d.id for d in store.webhook_deliveries(hook.id, before=page[-1].id, limit=10)] == ids[::-1][2:]
