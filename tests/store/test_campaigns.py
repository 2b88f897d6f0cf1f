"""Campaign sends in the store, on SQLite and PostgreSQL: one transaction per batch, a cursor that
only moves from where it was read, and a table that refuses a second copy to a contact."""

from __future__ import annotations

import secrets
import time

import pytest

from mailbeacon.store import (
    CampaignBatch,
    CampaignCopy,
    CampaignRow,
    DeliveryOutcome,
    NewCampaign,
    NewContact,
    Store,
    StoreConflict,
)


def campaign(store: Store, name: str = "nov", members: int = 5) -> CampaignRow:
    store.import_contacts("news", [NewContact(f"m{i}@example.com", {"first_name": f"M{i}"}) for i in range(members)])
    user_id = store.add_user("admin@example.com", True, "basic", secrets.token_hex(8), "x")
    found = store.list_named("news")
    assert found is not None
    return store.create_campaign(NewCampaign(
        name=name, user_id=user_id, list_id=found.id, subject="Hi", from_address="news@example.com",
        html="<p>Hi</p>", text=None, base_url="http://t.example", rate=None,
    ))


def copy_for(contact_id: int, address: str) -> CampaignCopy:
    return CampaignCopy(contact_id, secrets.token_bytes(12), address, b"Subject: Hi\r\n\r\nHi", True, True, None, 0.0)


def batch(row: CampaignRow, after: int, copies: list[CampaignCopy], skips: list[tuple[int, str]] = [],
          links: list[tuple[int, str]] = []) -> CampaignBatch:
    ids = [c.contact_id for c in copies] + [i for i, _ in skips]
    return CampaignBatch(row.id, after, max(ids), "news@example.com", copies, skips, links)


def test_a_batch_writes_deliveries_sends_queue_rows_links_and_moves_the_cursor(store: Store) -> None:
    row = campaign(store)
    members = store.members_after(row.list_id, 0, 10)
    first = batch(row, 0, [copy_for(m.id, m.email) for m in members[:3]], [(members[3].id, "unsubscribed")],
                  [(0, "https://a.example/"), (1, "https://b.example/")])
    assert store.queue_campaign_batch(first)
    after = store.campaign(row.id)
    assert after is not None
    assert (after.cursor, after.queued, after.skipped, after.status) == (members[3].id, 3, 1, "sending")
    assert store.campaign_links(row.message_id) == {"https://a.example/": 0, "https://b.example/": 1}
    assert sorted(d.recipient for d in store.deliveries_of(row.message_id)) == [m.email for m in members[:3]]
    assert len(store.claim_outbound(10, 60)) == 3
    progress = store.campaign_progress(row.id)
    assert progress is not None and (progress.queued, progress.pending, progress.sent) == (3, 3, 0)


def test_a_batch_read_after_an_old_cursor_writes_nothing(store: Store) -> None:
    row = campaign(store)
    members = store.members_after(row.list_id, 0, 10)
    assert store.queue_campaign_batch(batch(row, 0, [copy_for(members[0].id, members[0].email)]))
    # A second sender read the list at cursor 0 too: its batch must not land.
    assert not store.queue_campaign_batch(batch(row, 0, [copy_for(members[1].id, members[1].email)]))
    assert [d.recipient for d in store.deliveries_of(row.message_id)] == [members[0].email]
    assert store.campaign(row.id).queued == 1  # type: ignore[union-attr]


def test_the_table_refuses_a_second_copy_to_a_contact_and_the_batch_rolls_back(store: Store) -> None:
    row = campaign(store)
    member = store.members_after(row.list_id, 0, 1)[0]
    assert store.queue_campaign_batch(batch(row, 0, [copy_for(member.id, member.email)]))
    again = CampaignBatch(row.id, member.id, member.id + 1, "news@example.com", [copy_for(member.id, member.email)], [], [])
    with pytest.raises(StoreConflict):
        store.queue_campaign_batch(again)
    assert len(store.deliveries_of(row.message_id)) == 1
    assert store.campaign(row.id).cursor == member.id  # type: ignore[union-attr]


def test_a_campaign_is_done_when_queued_and_every_copy_is_sent_or_bounced(store: Store) -> None:
    row = campaign(store, members=2)
    members = store.members_after(row.list_id, 0, 10)
    assert store.queue_campaign_batch(batch(row, 0, [copy_for(m.id, m.email) for m in members]))
    assert store.campaign_queued(row.id, members[-1].id)
    claimed = store.claim_outbound(10, 60)
    store.outbound_sent(claimed[0].id, "250 OK", accepted_at=1.0)
    assert store.campaign_progress(row.id).campaign.status == "queued"  # type: ignore[union-attr]
    store.outbound_bounced(claimed[1].id, "550 no such user")
    done = store.campaign_progress(row.id)
    assert done is not None
    assert (done.campaign.status, done.sent, done.bounced, done.pending) == ("done", 1, 1, 0)
    assert done.campaign.finished_at is not None


def test_a_campaign_name_is_taken_once(store: Store) -> None:
    row = campaign(store)
    with pytest.raises(StoreConflict):
        store.create_campaign(NewCampaign(
            name="nov", user_id=row.user_id, list_id=row.list_id, subject="x", from_address="a@example.com",
            html="x", text=None, base_url="http://t.example", rate=None,
        ))


# issue #13, item 6: pause holds the queued copies, resume releases them, cancel withdraws them.


def test_a_paused_campaign_queues_nothing_and_its_copies_wait_until_resumed(store: Store) -> None:
    row = campaign(store)
    members = store.members_after(row.list_id, 0, 10)
    assert store.queue_campaign_batch(batch(row, 0, [copy_for(m.id, m.email) for m in members[:3]]))
    (taken,) = store.claim_outbound(1, 60)  # a sender holds one when the pause comes
    assert store.pause_campaign(row.id) and not store.pause_campaign(row.id)
    assert store.claim_outbound(10, 60) == []  # the other two are held
    assert not store.queue_campaign_batch(batch(row, members[2].id, [copy_for(members[3].id, members[3].email)]))
    store.record_outbound([DeliveryOutcome(taken.id, "retry", "451 4.3.0 busy", next_attempt_at=time.time() - 1)])
    assert store.claim_outbound(10, 60) == []  # its retry comes due while paused: held by the claim
    progress = store.campaign_progress(row.id)
    assert progress is not None and (progress.pending, progress.retrying, progress.campaign.queued) == (3, 1, 3)
    assert store.resume_campaign(row.id) and not store.resume_campaign(row.id)
    assert sorted(q.delivery_key for q in store.claim_outbound(10, 60)) == sorted(
        d.delivery_key for d in store.deliveries_of(row.message_id))


def test_a_cancel_withdraws_the_copies_not_sent_and_the_report_counts_them(store: Store) -> None:
    row = campaign(store)
    members = store.members_after(row.list_id, 0, 10)
    assert store.queue_campaign_batch(batch(row, 0, [copy_for(m.id, m.email) for m in members[:4]]))
    sent, taken = store.claim_outbound(2, 60)
    store.outbound_sent(sent.id, "250 OK", accepted_at=time.time())
    assert store.pause_campaign(row.id)  # held copies are withdrawn too
    assert store.cancel_campaign(row.id) and not store.cancel_campaign(row.id) and not store.resume_campaign(row.id)
    statuses = sorted(d.status or "" for d in store.deliveries_of(row.message_id))
    assert statuses == ["queued", "sent", "withdrawn", "withdrawn"]  # the one a sender holds is left to it
    store.record_outbound([DeliveryOutcome(taken.id, "retry", "451 4.3.0 busy", next_attempt_at=time.time() - 1)])
    assert store.claim_outbound(10, 60) == []  # its retry is withdrawn by the claim that finds it
    summary = store.campaign_summary(row.id)
    assert summary is not None
    assert (summary.status, summary.sent, summary.withdrawn, summary.pending) == ("cancelled", 1, 3, 0)
    assert not store.queue_campaign_batch(batch(row, members[3].id, [copy_for(members[4].id, members[4].email)]))
