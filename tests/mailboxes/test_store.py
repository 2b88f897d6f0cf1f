"""The mailbox tables on SQLite and PostgreSQL (issue #14): routes, the Sent-folder queue, disconnecting."""

from __future__ import annotations

import os

from mailbeacon.store import Copy, DeliveryOutcome, EndpointRow, MailboxRecord, NewSentCopy, Store


def user(store: Store, email: str) -> int:
    return store.add_user(email, False, "sales", os.urandom(8).hex(), "x")


def mailbox(store: Store, user_id: int) -> int:
    side = EndpointRow("localhost", 587, "starttls", "login", "sealed-token", None)
    return store.save_mailbox(MailboxRecord(user_id, side, side, None, "Sent", "auto", "ok"))


def queue(store: Store, user_id: int, mailbox_id: int | None, recipients: int = 1) -> int:
    copies = [Copy(os.urandom(12), f"r{n}@example.org", (f"r{n}@example.org",), b"body", True, False)
              for n in range(recipients)]
    return store.queue_message(
        user_id=user_id, sender="ann@example.com", subject="Hi", message_id_header="<hi@example.com>",
        source="relay", mail_from="ann@example.com", copies=copies, links=[], mailbox_id=mailbox_id,
        sent_copy=NewSentCopy(mailbox_id, "<hi@example.com>", b"sender's view") if mailbox_id else None,
    )


def finish_all(store: Store, status: str) -> None:
    claimed = store.claim_outbound(100, 60)
    store.record_outbound([DeliveryOutcome(q.id, status, "250 ok" if status == "sent" else "550 no",
                                           accepted_at=1.0 if status == "sent" else None) for q in claimed])


def test_a_sent_copy_waits_until_a_copy_of_its_message_is_sent_and_is_claimed_once(store: Store) -> None:
    ann = user(store, "ann@example.com")
    box = mailbox(store, ann)
    message = queue(store, ann, box, recipients=2)
    assert [q.mailbox_id for q in store.claim_outbound(10, 0.0)] == [box, box]  # routed through her mailbox
    assert store.claim_sent_copies(10, 60) == []  # nothing sent yet
    finish_all(store, "sent")
    [due] = store.claim_sent_copies(10, 60)
    assert (due.message_id, due.mailbox_id, due.message_id_header, due.body) == (
        message, box, "<hi@example.com>", b"sender's view")
    assert store.claim_sent_copies(10, 60) == []  # held by the lease
    assert store.sent_copy_done(due.id, "appended", "Sent")
    assert not store.sent_copy_done(due.id, "appended", "Sent")  # a late second worker changes nothing
    row = store.sent_copy_of(message)
    assert row is not None and (row.status, row.folder) == ("appended", "Sent") and row.appended_at


def test_a_failed_append_is_retried_later(store: Store) -> None:
    ann = user(store, "ann@example.com")
    message = queue(store, ann, mailbox(store, ann))
    finish_all(store, "sent")
    [due] = store.claim_sent_copies(10, 60)
    store.sent_copy_retry(due.id, 0.0, "IMAP localhost:993: connection refused")
    [again] = store.claim_sent_copies(10, 60)
    assert again.id == due.id and again.attempts == 1
    row = store.sent_copy_of(message)
    assert row is not None and row.last_error == "IMAP localhost:993: connection refused"


def test_the_sent_copy_of_a_message_nobody_got_is_dropped(store: Store) -> None:
    ann = user(store, "ann@example.com")
    message = queue(store, ann, mailbox(store, ann))
    finish_all(store, "bounced")
    assert store.claim_sent_copies(10, 60) == []
    row = store.sent_copy_of(message)
    assert row is not None and row.status == "dropped" and "bounced" in (row.last_error or "")


def test_disconnecting_sends_queued_copies_through_the_server_and_drops_pending_sent_copies(store: Store) -> None:
    ann = user(store, "ann@example.com")
    message = queue(store, ann, mailbox(store, ann), recipients=3)
    gone = store.disconnect_mailbox(ann)
    assert gone is not None and (gone.rerouted, gone.dropped) == (3, 1)
    assert [q.mailbox_id for q in store.claim_outbound(10, 60)] == [None, None, None]
    row = store.sent_copy_of(message)
    assert row is not None and row.status == "dropped" and row.mailbox_id is None
    assert store.mailbox_of(ann) is None and store.disconnect_mailbox(ann) is None


def test_a_mailbox_id_is_never_given_to_another_user(store: Store) -> None:
    ann, eve = user(store, "ann@example.com"), user(store, "eve@example.com")
    first = mailbox(store, ann)
    assert mailbox(store, ann) == first  # reconnecting keeps the user's one mailbox
    store.disconnect_mailbox(ann)
    assert mailbox(store, eve) != first
