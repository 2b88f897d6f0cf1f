"""The suppression list is kept by the store as outcomes are recorded (issue #15, item 3), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets

from mailbeacon.store import Copy, DeliveryOutcome, Store
from mailbeacon.store.suppressions import SOFT_BOUNCES


def queue(store: Store, *recipients: str, shared: bool = False) -> None:
    body = b"Subject: hi\r\n\r\nhello\r\n"
    if shared:
        copies = [Copy(secrets.token_bytes(12), ", ".join(recipients), tuple(recipients), body, True, False, None, True)]
    else:
        copies = [Copy(secrets.token_bytes(12), r, (r,), body, True, False, None) for r in recipients]
    store.queue_message(user_id=None, sender="me@example.com", subject="hi", message_id_header=None, source="api",
                        submitted_from=None, mail_from="me@example.com", copies=copies, links=[])


def finish_all(store: Store, reply: str, status: str = "bounced") -> None:
    claimed = store.claim_outbound(100, lease=60)
    store.record_outbound([DeliveryOutcome(q.id, status, reply, accepted_at=1.0 if status == "sent" else None)
                           for q in claimed])


def reasons(store: Store) -> dict[str, str]:
    return {entry.address: entry.reason for entry in store.suppression_list()}


def test_a_hard_bounce_suppresses_its_address_with_the_reply(store: Store) -> None:
    queue(store, "Gone@Example.org", "ok@example.org")
    claimed = store.claim_outbound(10, lease=60)
    store.record_outbound([
        DeliveryOutcome(q.id, "bounced", "550 5.1.1 <gone@example.org>: user unknown") if q.rcpt_to[0].startswith("G")
        else DeliveryOutcome(q.id, "sent", "250 OK", accepted_at=1.0)
        for q in claimed
    ])
    (entry,) = store.suppression_list()
    assert (entry.address, entry.reason) == ("gone@example.org", "hard_bounce")
    assert entry.detail is not None and "550 5.1.1" in entry.detail and entry.delivery_id is not None
    assert set(store.suppressed(["GONE@example.org", "ok@example.org"])) == {"gone@example.org"}


def test_soft_bounces_suppress_only_in_a_row_and_a_delivery_ends_the_streak(store: Store) -> None:
    gave_up = "gave up after 9 attempts: 451 4.2.0 mailbox busy"
    for _ in range(SOFT_BOUNCES - 1):
        queue(store, "busy@example.org")
        finish_all(store, gave_up)
    assert reasons(store) == {}
    queue(store, "busy@example.org")
    finish_all(store, "250 OK", status="sent")  # delivered: the streak starts again
    for _ in range(SOFT_BOUNCES - 1):
        queue(store, "busy@example.org")
        finish_all(store, gave_up)
    assert reasons(store) == {}
    queue(store, "busy@example.org")
    finish_all(store, gave_up)
    assert reasons(store) == {"busy@example.org": "soft_bounces"}


def test_what_is_no_bounce_of_one_address_suppresses_nobody(store: Store) -> None:
    queue(store, "a@example.org", "b@example.org", shared=True)  # one copy for both: whose bounce?
    finish_all(store, "550 5.1.1 user unknown")
    queue(store, "ü@example.org")
    finish_all(store, "the upstream does not take non-ASCII addresses (it offers no SMTPUTF8)")
    assert reasons(store) == {}


def test_an_admin_adds_and_removes_and_the_first_reason_stays(store: Store) -> None:
    assert store.suppress("X@example.org", "manual", "asked by phone")
    assert not store.suppress("x@example.org", "complaint")
    assert reasons(store) == {"x@example.org": "manual"}
    assert store.unsuppress("x@EXAMPLE.org") and not store.unsuppress("x@example.org")
    assert reasons(store) == {}
