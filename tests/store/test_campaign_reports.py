"""Campaign reports and the hourly counters behind them, on SQLite and PostgreSQL.

A campaign is queued through the store as the sender queues it (one batch: deliveries,
campaign_sends, links), delivered and bounced through the outbound calls, read by the real
classify reader; the report, the list and the per-recipient export are read back.
"""

from __future__ import annotations

import collections
import itertools
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailbeacon.events import HONEYPOT_LINK, HONEYPOT_TARGET, EventKind, RawEvent
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import (
    CampaignBatch,
    CampaignCopy,
    FeedFilter,
    MessageQuery,
    NewCampaign,
    NewContact,
    Store,
)

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
SALE, NEWS = "https://shop.example/sale", "https://shop.example/news"
_uids = itertools.count(1)


@dataclass
class Sent:
    campaign_id: int
    message_id: int
    keys: dict[str, bytes]
    """Recipient -> delivery key."""
    contacts: dict[str, int]


def sent_campaign(store: Store, members: int = 6, bounce: str = "c5@example.org") -> Sent:
    user = store.add_user(f"owner{secrets.token_hex(3)}@example.com", False, "sales", secrets.token_hex(8), "x")
    store.import_contacts("news", [NewContact(f"c{n}@example.org", {"first_name": f"C{n}"}) for n in range(members)])
    row = store.create_campaign(NewCampaign(
        name=f"spring-{secrets.token_hex(3)}", user_id=user, list_id=store.list_named("news").id,  # type: ignore[union-attr]
        subject="Spring", from_address="shop@example.com", html="<p>x</p>", text=None, base_url="http://t.example",
        rate=None,
    ))
    members_rows = store.members_after(row.list_id, 0, 100)
    copies = [
        CampaignCopy(m.id, secrets.token_bytes(12), m.email, b"x", m.email != "c4@example.org",
                     m.email != "c4@example.org", None if m.email != "c4@example.org" else "recipient is on the "
                     "do-not-track list", time.time())
        for m in members_rows
    ]
    assert store.queue_campaign_batch(CampaignBatch(
        campaign_id=row.id, after=0, cursor=members_rows[-1].id, mail_from="shop@example.com", copies=copies,
        skips=[], links=[(0, SALE), (1, NEWS), (HONEYPOT_LINK, HONEYPOT_TARGET)],
    ))
    assert store.campaign_queued(row.id, members_rows[-1].id)
    keys = {c.recipient: c.delivery_key for c in copies}
    delivered = time.time() - 7200  # two hours ago: the readers below come long after delivery
    for queued in store.claim_outbound(100, lease=60):
        if queued.rcpt_to == [bounce]:
            store.outbound_bounced(queued.id, "550 5.1.1 no such user")
        else:
            store.outbound_sent(queued.id, "250 OK", accepted_at=delivered)
    return Sent(row.id, row.message_id, keys, {m.email: m.id for m in members_rows})


def event(key: bytes, kind: EventKind, at: float, ip: str = "198.51.100.7", ua: str = THUNDERBIRD,
          link: int | None = None, url: str | None = None, method: str = "GET") -> RawEvent:
    return RawEvent(next(_uids).to_bytes(16, "big"), kind, key, link, url, at, ip, ua, method)


def hourly_from_feed(store: Store, message_id: int) -> dict[tuple[float, str, str | None], int]:
    """What the hourly counters must hold: the message's feed rows counted by hand."""
    counted: collections.Counter[tuple[float, str, str | None]] = collections.Counter()
    for item in store.feed(FeedFilter(message_id=message_id), limit=10_000):
        counted[(item.occurred_at // 3600 * 3600, item.type, item.cls)] += 1
    return dict(counted)


def test_hourly_counters_are_the_feed_counted_and_follow_revisions(store: Store) -> None:
    sent = sent_campaign(store)
    hour = (time.time() // 3600 - 1) * 3600  # the start of the previous hour
    a, b, c = (sent.keys[f"c{n}@example.org"] for n in range(3))
    store.append_events([
        event(a, EventKind.OPEN, hour + 3590),  # the last seconds of one hour ...
        event(a, EventKind.CLICK, hour + 3620, link=0, url=SALE),  # ... and the first of the next
        event(b, EventKind.OPEN, hour + 100, ip="17.58.1.1", ua="Mozilla/5.0"),  # Apple's prefetch: a machine
        event(c, EventKind.OPEN, hour + 200, ip="203.0.113.5"),  # judged a person's, until ...
    ])
    Pipeline(store).catch_up()
    assert {(t.occurred_at, t.type, t.cls): t.count for t in store.message_times(sent.message_id)}[
        (hour, "open", "human")] == 2
    store.append_events([  # ... the same reader takes the honeypot: the open was a scanner's after all
        event(c, EventKind.CLICK, hour + 260, ip="203.0.113.5", link=HONEYPOT_LINK, url=HONEYPOT_TARGET),
    ])
    Pipeline(store).catch_up()
    times = {(t.occurred_at, t.type, t.cls): t.count for t in store.message_times(sent.message_id)}
    assert times == hourly_from_feed(store, sent.message_id)
    assert times == {(hour, "open", "human"): 1, (hour + 3600, "click", "human"): 1, (hour, "open", "machine"): 2,
                     (hour, "click", "machine"): 1}
    report = store.campaign_report(sent.campaign_id)
    assert report is not None
    assert {(c.client, c.cls): c.events for c in report.clients} == {
        ("Thunderbird (Windows)", "human"): 2, ("Thunderbird (Windows)", "machine"): 2,
        ("Apple Mail (Privacy Protection)", "machine"): 1,
    }
    daily = store.campaign_report(sent.campaign_id, 86400)
    assert daily is not None and sum(t.count for t in daily.times) == 5
    assert {t.occurred_at % 86400 for t in daily.times} == {0.0}


def test_the_report_reads_states_links_untracked_unsubscribes_and_bounces(store: Store) -> None:
    sent = sent_campaign(store)
    store.unsubscribe(sent.contacts["c1@example.org"], "one-click", sent.campaign_id)
    store.unsubscribe(sent.contacts["c2@example.org"], "cli")  # not through this campaign
    report = store.campaign_report(sent.campaign_id)
    assert report is not None
    s = report.summary
    assert (s.total, s.queued, s.skipped, s.sent, s.bounced, s.pending) == (6, 6, 0, 5, 1, 0)
    assert s.status == "done" and s.unsubscribes == 1  # nothing waits any more: the report settles it
    assert [link.url for link in report.links] == [SALE, NEWS]  # never the honeypot
    assert [(u.reason, u.opens, u.copies) for u in report.untracked] == [("recipient is on the do-not-track list", True, 1)]
    assert [(u.email, u.source) for u in report.unsubscribed] == [("c1@example.org", "one-click")]
    assert [(b.recipient, b.reply) for b in report.bounces] == [("c5@example.org", "550 5.1.1 no such user")]
    assert store.campaign_report(10**9) is None


def test_lists_and_visibility_follow_the_owner(store: Store) -> None:
    first, second = sent_campaign(store), sent_campaign(store, bounce="nobody")
    owner = store.campaign_summary(first.campaign_id)
    assert owner is not None
    page, more = store.campaign_summaries(None, limit=1)
    assert [s.id for s in page] == [second.campaign_id] and more
    page, more = store.campaign_summaries(None, before=second.campaign_id, limit=1)
    assert [s.id for s in page] == [first.campaign_id] and not more
    assert [s.id for s in store.campaign_summaries(owner.user_id)[0]] == [first.campaign_id]
    assert store.campaign_visible(first.campaign_id, owner.user_id)
    assert not store.campaign_visible(second.campaign_id, owner.user_id)
    assert store.campaign_visible(second.campaign_id, None)
    found = store.messages(MessageQuery(campaign_id=first.campaign_id))
    assert [m.id for m in found.items] == [first.message_id]
    assert store.messages(MessageQuery(user_id=owner.user_id, campaign_id=second.campaign_id)).items == []


def test_the_export_walks_every_member_in_chunks(store: Store) -> None:
    sent = sent_campaign(store, members=7)
    a = sent.keys["c0@example.org"]
    store.append_events([event(a, EventKind.OPEN, time.time() - 60), event(a, EventKind.OPEN, time.time() - 30)])
    Pipeline(store).catch_up()
    rows = list(store.campaign_recipients(sent.campaign_id, chunk=3))  # three reads: 3 + 3 + 1
    assert [r.email for r in rows] == [f"c{n}@example.org" for n in range(7)]
    first = rows[0]
    assert (first.status, first.raw_opens, first.human_opens, first.clients) == ("sent", 2, 2, ["Thunderbird (Windows)"])
    assert first.fields == {"first_name": "C0"} and first.first_open_at is not None
    assert (rows[5].status, rows[5].reply) == ("bounced", "550 5.1.1 no such user")
    assert store.campaign_field_names(sent.campaign_id) == ["first_name"]
    assert list(store.campaign_recipients(10**9)) == []


def test_the_migration_fills_the_counters_from_the_feed(store: Store, store_url: str) -> None:
    sent = sent_campaign(store)
    now = time.time()
    store.append_events([event(sent.keys["c0@example.org"], EventKind.OPEN, now - 5000),
                         event(sent.keys["c1@example.org"], EventKind.OPEN, now - 100, ip="17.58.1.1", ua="Mozilla/5.0")])
    Pipeline(store).catch_up()
    kept = store.message_times(sent.message_id)
    url = make_url(store_url)
    engine = sa.create_engine(url.set(drivername="postgresql+psycopg") if url.get_backend_name() == "postgresql" else url)
    with engine.begin() as conn:  # the database as the version before left it: no counters
        conn.exec_driver_sql("DROP TABLE hourly_activity")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version = 7")
    engine.dispose()
    store.migrate()
    assert store.message_times(sent.message_id) == kept and len(kept) == 2
