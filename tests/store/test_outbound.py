"""The outbound queue and the do-not-track list, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
import sqlalchemy as sa

from mailbeacon.store import Copy, Store, StoreUnavailable, WebhookAttempt, open_store, schema
from mailbeacon.store.migrations import discover
from mailbeacon.webhooks import send_test


def copy(recipient: str, body: bytes = b"Subject: hi\r\n\r\nhello\r\n") -> Copy:
    return Copy(secrets.token_bytes(12), recipient, (recipient,), body, True, False, None)


def queue(store: Store, *recipients: str) -> int:
    return store.queue_message(
        user_id=None,
        sender="bob@example.com",
        subject="hi",
        message_id_header="<m@example.com>",
        source="relay",
        mail_from="bob@example.com",
        copies=[copy(r) for r in recipients],
        links=[(0, "https://example.com/")],
        submitted_from="192.0.2.7",
    )


def test_a_queued_message_is_claimed_once_then_finished(store: Store) -> None:
    message_id = queue(store, "a@example.org", "b@example.org")
    assert [d.status for d in store.deliveries_of(message_id)] == ["queued", "queued"]
    claimed = store.claim_outbound(10, lease=60)
    assert sorted(q.rcpt_to[0] for q in claimed) == ["a@example.org", "b@example.org"]
    assert claimed[0].body == b"Subject: hi\r\n\r\nhello\r\n"
    assert store.claim_outbound(10, lease=60) == []  # held by the first claim
    assert store.outbound_sent(claimed[0].id, "250 OK", accepted_at=1234.5)
    assert store.outbound_bounced(claimed[1].id, "550 no such user")
    assert not store.outbound_sent(claimed[0].id, "250 OK", accepted_at=1.0)  # already finished
    rows = {d.recipient: d for d in store.deliveries_of(message_id)}
    assert (rows[claimed[0].rcpt_to[0]].status, rows[claimed[0].rcpt_to[0]].accepted_at) == ("sent", 1234.5)
    assert (rows[claimed[1].rcpt_to[0]].status, rows[claimed[1].rcpt_to[0]].upstream_reply) == (
        "bounced",
        "550 no such user",
    )
    assert store.next_outbound_at() is None


def test_a_postponed_copy_waits_for_its_time(store: Store) -> None:
    message_id = queue(store, "later@example.org")
    (claimed,) = store.claim_outbound(10, lease=60)
    later = time.time() + 3600
    store.outbound_retry(claimed.id, later, "451 try again")
    assert store.claim_outbound(10, lease=60) == []
    assert store.next_outbound_at() == pytest.approx(later)
    (row,) = store.deliveries_of(message_id)
    assert (row.status, row.attempts, row.last_error) == ("queued", 1, "451 try again")


def test_a_crashed_workers_copies_are_claimed_again_after_the_lease(store: Store) -> None:
    queue(store, "a@example.org")
    (first,) = store.claim_outbound(10, lease=0.2)  # then the worker dies
    assert store.claim_outbound(10, lease=60) == []
    time.sleep(0.3)
    (again,) = store.claim_outbound(10, lease=60)
    assert again.id == first.id and again.attempts == 0


def test_a_message_is_queued_whole_or_not_at_all(store: Store) -> None:
    bad = Copy(b"short", "b@example.org", ("b@example.org",), b"x", True, True)
    with pytest.raises(ValueError):
        store.queue_message(
            user_id=None, sender=None, subject="broken", message_id_header=None, source="relay",
            mail_from="bob@example.com", copies=[copy("a@example.org"), bad], links=[],
        )
    assert store.claim_outbound(10, lease=60) == []


def test_concurrent_workers_never_claim_the_same_copy(store_url: str, store: Store) -> None:
    for n in range(10):
        queue(store, *(f"r{n}-{i}@example.org" for i in range(5)))
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        # Four stores on one SQLite file are four processes: a claim may find the file busy
        # past the busy timeout, and then, as the outbound worker does, it tries again.
        with open_store(store_url) as own:
            while True:
                try:
                    batch = own.claim_outbound(3, lease=60)
                except StoreUnavailable:
                    time.sleep(0.01)
                    continue
                if not batch:
                    return
                with lock:
                    claimed.extend(q.id for q in batch)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(claimed) == 50 and len(set(claimed)) == 50


def test_do_not_track_list_is_case_insensitive(store: Store) -> None:
    assert store.do_not_track_add("Private@Example.org", user_id=None)
    assert not store.do_not_track_add("private@example.org", user_id=None)
    assert store.do_not_track_list(user_id=None) == ["private@example.org"]
    assert store.do_not_track(["PRIVATE@example.ORG", "other@example.org"], None) == ["private@example.org"]
    assert store.do_not_track_remove("PRIVATE@example.org", user_id=None)
    assert not store.do_not_track_remove("private@example.org", user_id=None)
    assert store.do_not_track_list(user_id=None) == []


def test_a_users_do_not_track_entry_applies_to_their_mail_only(store: Store) -> None:
    # issue #12: bob's list does not stop tracking of alice's mail; the admin-wide list does.
    alice, bob = (store.add_user(f"{n}@example.com", False, "sales", f"key:{n}", f"pw:{n}") for n in ("alice", "bob"))
    assert store.do_not_track_add("Carol@Example.org", user_id=bob)
    assert store.do_not_track_add("carol@example.org", user_id=alice)  # on two lists: two entries
    assert not store.do_not_track_add("carol@example.org", user_id=bob)
    assert store.do_not_track_remove("carol@example.org", user_id=alice)
    recipients = ["carol@example.org", "dave@example.org"]
    assert store.do_not_track(recipients, bob) == ["carol@example.org"]
    assert store.do_not_track(recipients, alice) == []
    assert store.do_not_track(recipients, None) == []
    assert store.do_not_track_add("CAROL@example.org", user_id=None)
    assert store.do_not_track(recipients, alice) == ["carol@example.org"]
    assert store.do_not_track(recipients, bob) == ["carol@example.org"]  # on both of bob's: once
    assert store.do_not_track_list(user_id=bob) == ["carol@example.org"]
    assert store.do_not_track_list(user_id=alice) == []
    assert store.do_not_track_entries() == [("carol@example.org", None), ("carol@example.org", bob)]


def test_migration_0009_makes_the_old_list_the_admin_wide_one(store_url: str) -> None:
    # issue #12: before 0009 there was one list and it applied to everyone's mail.
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            schema.schema_migrations.create(conn)
            for migration in (m for m in discover() if m.version < 9):
                migration.upgrade(conn)
                conn.execute(sa.insert(schema.schema_migrations).values(version=migration.version, applied_at=0))
            conn.exec_driver_sql("INSERT INTO do_not_track (address, created_at) VALUES ('quiet@example.org', 1)")
    finally:
        engine.dispose()
    with open_store(store_url) as store:
        # A delivery log of before 0009 kept the first KB of each answer's body.
        owner = store.add_user("owner@example.com", False, "basic", "key:o", "pw:o")
        hook = store.create_webhook(owner, "https://hooks.example.com/", "whsec_" + "a" * 44, (), False)
        delivery_id = send_test(store, hook)
        assert [due.id for due in store.claim_webhooks(1, lease=60)] == [delivery_id]
        answered = WebhookAttempt(time.time(), 200, None, 0.1, "<html>secret")
        store.record_webhook_attempt(delivery_id, answered, "delivered")
        store.migrate()
        store.migrate()
        assert store.do_not_track_list(user_id=None) == ["quiet@example.org"]
        (attempt,) = store.webhook_delivery(delivery_id).log  # type: ignore[union-attr]
        assert (attempt.status_code, attempt.response) == (200, None)  # issue #12: the body is gone
        alice = store.add_user("alice@example.com", False, "sales", "key:a", "pw:a")
        assert store.do_not_track(["quiet@example.org"], alice) == ["quiet@example.org"]
        assert store.do_not_track_add("quiet@example.org", user_id=alice)
