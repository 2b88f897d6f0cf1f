"""The classify reader over a real store: verdicts, counters, revisions, and a recount from scratch."""

from __future__ import annotations

import itertools
import time
import secrets
from dataclasses import dataclass

import pytest

from mailbeacon.classify import HONEYPOT_LINK
from mailbeacon.events import EventKind, RawEvent
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import Copy, FeedFilter, MessageReport, Store

T0 = float(int(time.time()))  # deliveries are created "now": sender windows count from there
THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.10730; Pro)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
_uids = itertools.count(1)


@dataclass
class Sent:
    message_id: int
    keys: list[bytes]


def sent(store: Store, recipients: int = 1, submitted_from: str | None = None) -> Sent:
    """A message queued and accepted by the upstream at T0, with links 0 and 1."""
    copies = [
        Copy(secrets.token_bytes(12), f"r{n}@example.org", (f"r{n}@example.org",), b"x", True, True)
        for n in range(recipients)
    ]
    message_id = store.queue_message(
        user_id=None, sender="bob@example.com", subject="s", message_id_header=None, source="relay",
        mail_from="bob@example.com", copies=copies,
        links=[(0, "https://example.com/a"), (1, "https://example.com/b"), (HONEYPOT_LINK, "https://example.com/")],
        submitted_from=submitted_from,
    )
    for queued in store.claim_outbound(100, lease=60):
        store.outbound_sent(queued.id, "250 OK", accepted_at=T0)
    return Sent(message_id, [c.delivery_key for c in copies])


def hit(
    store: Store, key: bytes, kind: str, after: float, ip: str = "198.51.100.7", ua: str = THUNDERBIRD,
    link: int | None = None, method: str = "GET",
) -> None:
    event = RawEvent(
        next(_uids).to_bytes(16, "big"), EventKind(kind), key, link,
        None if link is None else "https://example.com/", T0 + after, ip, ua, method,
    )
    store.append_events([event])


def judged(store: Store) -> list[tuple[str | None, tuple[str, ...]]]:
    return [(e.cls, e.reasons) for e in store.events_after(0, 1000, None)]


def report(store: Store, message: Sent) -> MessageReport:
    found = store.message_report(message.message_id)
    assert found is not None
    return found


def test_a_person_opening_then_clicking(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3600)
    hit(store, key, "open", 3700)
    hit(store, key, "click", 3710, ua=CHROME, link=0)
    assert Pipeline(store).catch_up() == 3
    events = store.events_after(0, 10, None)
    assert [(e.cls, e.first, e.client) for e in events] == [
        ("human", True, "Thunderbird (Windows)"), ("human", False, "Thunderbird (Windows)"),
        ("human", True, "Chrome (Windows)"),
    ]
    r = report(store, message)
    assert (r.activity.raw_opens, r.activity.human_opens, r.activity.unique_human_opens) == (2, 2, 1)
    assert (r.activity.human_clicks, r.activity.unique_human_clicks, r.activity.inferred_opens) == (1, 1, 0)
    (recipient,) = r.recipients
    assert (recipient.activity.first_human_open_at, recipient.activity.last_open_at) == (T0 + 3600, T0 + 3700)
    assert [(link.idx, link.activity.human_clicks) for link in r.links][:2] == [(0, 1), (1, 0)]


def test_apple_privacy_protection_and_head_requests_are_machines(store: Store) -> None:
    message = sent(store)
    hit(store, message.keys[0], "open", 120, ip="17.58.101.9", ua="Mozilla/5.0")
    hit(store, message.keys[0], "open", 130, method="HEAD")
    Pipeline(store).catch_up()
    assert judged(store) == [("machine", ("apple_mpp",)), ("machine", ("head_request",))]
    r = report(store, message)
    assert (r.activity.unique_opens, r.activity.unique_human_opens, r.activity.machine_opens) == (1, 0, 2)


def test_image_proxies_count_as_people(store: Store) -> None:
    message = sent(store)
    hit(store, message.keys[0], "open", 5000, ip="66.249.84.1", ua=GMAIL_PROXY)
    Pipeline(store).catch_up()
    assert judged(store) == [("proxied", ("image_proxy",))]
    assert report(store, message).activity.unique_human_opens == 1


def test_a_scanner_click_right_after_delivery_and_the_persons_click_later(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "click", 4, ip="40.107.1.9", ua=CHROME, link=0)  # Microsoft's network, 4 s after
    hit(store, key, "click", 7, ip="203.0.113.50", ua=CHROME, link=1)  # timing alone
    hit(store, key, "click", 7200, ua=CHROME, link=0)  # the person, images off: no open at all
    Pipeline(store).catch_up()
    assert judged(store) == [
        ("machine", ("known_scanner_net", "scanner_timing")),
        ("machine", ("scanner_timing",)),
        ("human", ()),
    ]
    r = report(store, message)
    assert (r.activity.raw_clicks, r.activity.human_clicks, r.activity.inferred_opens) == (3, 1, 1)
    assert r.recipients[0].activity.inferred_open_at == T0 + 7200
    assert r.activity.unique_human_opens == 0  # an inferred open is not a pixel load


def test_a_burst_of_links_revises_the_first_click_too(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3000)
    hit(store, key, "click", 3600.0, ip="192.0.2.10", ua=CHROME, link=0)
    Pipeline(store).catch_up()  # the first click alone looks human, and is counted so for now
    assert report(store, message).activity.human_clicks == 1
    hit(store, key, "click", 3600.4, ip="192.0.2.10", ua=CHROME, link=1)
    Pipeline(store).catch_up()
    assert [c for c, _ in judged(store)] == ["human", "machine", "machine"]
    r = report(store, message)
    assert (r.activity.human_clicks, r.activity.machine_clicks, r.activity.unique_human_clicks) == (0, 2, 0)
    assert [link.activity.human_clicks for link in r.links][:2] == [0, 0]


def test_the_honeypot_marks_its_requesters_earlier_events(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 900, ip="192.0.2.33", ua=CHROME)
    hit(store, key, "click", 901, ip="192.0.2.33", ua=CHROME, link=HONEYPOT_LINK)
    hit(store, key, "open", 950, ip="192.0.2.33", ua=CHROME)
    hit(store, key, "open", 7200, ip="198.51.100.7")  # the person, elsewhere
    Pipeline(store, batch=1).catch_up()  # one event a step: the revision crosses transactions
    assert judged(store) == [
        ("machine", ("honeypot",)), ("machine", ("honeypot",)), ("machine", ("honeypot",)), ("human", ()),
    ]
    r = report(store, message)
    assert (r.activity.human_opens, r.activity.machine_opens, r.activity.unique_human_opens) == (1, 2, 1)
    assert r.recipients[0].activity.first_human_open_at == T0 + 7200


def test_a_paired_click_is_one_machine_and_one_person(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3000)
    hit(store, key, "click", 3600, ip="192.0.2.10", ua=CHROME, link=0)
    hit(store, key, "click", 3604, ip="198.51.100.7", ua=CHROME, link=0)
    Pipeline(store).catch_up()
    assert judged(store)[1:] == [("machine", ("paired_click",)), ("human", ())]
    assert report(store, message).activity.human_clicks == 1


def test_the_senders_own_opens_are_labelled_not_counted(store: Store) -> None:
    public = sent(store, submitted_from="93.184.216.34")
    local = sent(store, submitted_from="127.0.0.1")
    hit(store, public.keys[0], "open", 60, ip="93.184.216.34")
    hit(store, local.keys[0], "open", 60, ip="127.0.0.1")  # a local trial behaves like a recipient
    Pipeline(store).catch_up()
    assert judged(store) == [("sender", ("sender",)), ("human", ())]
    assert report(store, public).activity.unique_human_opens == 0
    assert report(store, local).activity.unique_human_opens == 1


def test_another_client_on_another_network_is_a_suspected_forward(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3600, ip="198.51.100.7", ua=THUNDERBIRD)
    hit(store, key, "open", 7200, ip="192.0.2.200", ua=THUNDERBIRD)  # same client, new network: travelling
    hit(store, key, "open", 9000, ip="203.0.113.77", ua=OUTLOOK)  # another client and network
    Pipeline(store).catch_up()
    assert [c for c, _ in judged(store)] == ["human", "human", "suspect_forward"]
    assert report(store, message).recipients[0].recipient == "r0@example.org"  # still attributed to them


def test_events_of_an_unknown_delivery_are_judged_without_counters(store: Store) -> None:
    hit(store, secrets.token_bytes(12), "open", 10, ip="17.1.1.1", ua="Mozilla/5.0")
    assert Pipeline(store).catch_up() == 1
    assert judged(store) == [("machine", ("apple_mpp",))]


def test_a_recount_from_scratch_equals_the_incremental_counts(store: Store) -> None:
    message = sent(store, recipients=3, submitted_from="93.184.216.34")
    uas = [THUNDERBIRD, OUTLOOK, CHROME, GMAIL_PROXY, "Mozilla/5.0", "curl/8.4.0"]
    for n in range(120):
        key = message.keys[n % 3]
        kind = "click" if n % 4 == 0 else "open"
        hit(store, key, kind, 5 + n * 37.0, ip=f"198.51.{n % 5}.{n % 7}", ua=uas[n % len(uas)],
            link=(n // 4) % 2 if kind == "click" else None)
    pipeline = Pipeline(store, batch=7)
    pipeline.catch_up()
    incremental = report(store, message), judged(store)
    pipeline.reclassify()
    assert (report(store, message), judged(store)) == incremental
    assert store.reader_position("classify") == store.last_event_id()


def test_two_pipelines_on_one_store_count_each_event_once(store_url: str, store: Store) -> None:
    import threading

    from mailbeacon.store import open_store

    message = sent(store, recipients=2)
    for n in range(300):
        hit(store, message.keys[n % 2], "open" if n % 3 else "click", 200 + n * 11.0, ip=f"198.51.100.{n % 9}",
            ua=[THUNDERBIRD, OUTLOOK, CHROME][n % 3], link=n % 2 if n % 3 == 0 else None)

    def run() -> None:
        with open_store(store_url) as own:
            Pipeline(own, batch=13).catch_up()

    workers = [threading.Thread(target=run) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    together = report(store, message), judged(store)
    assert together[0].activity.raw_opens + together[0].activity.raw_clicks == 300
    Pipeline(store).reclassify()
    assert (report(store, message), judged(store)) == together


def notices(store: Store) -> list[tuple[str, str | None, float | None]]:
    return [(i.type, i.notice, i.gap) for i in reversed(store.feed(FeedFilter(), limit=100))]


def test_the_feed_tells_first_open_later_opens_with_their_gap_clicks_and_forwards(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 10, ip="17.58.1.1", ua="Mozilla/5.0")  # Apple's proxy: never told
    hit(store, key, "open", 3600, ip="198.51.100.7", ua=THUNDERBIRD)
    hit(store, key, "open", 3700, ip="198.51.100.7", ua=THUNDERBIRD)
    hit(store, key, "click", 3710, ua=CHROME, link=0)
    hit(store, key, "open", 9000, ip="203.0.113.77", ua=OUTLOOK)  # another client and network
    Pipeline(store).catch_up()
    assert notices(store) == [
        ("open", None, None), ("open", "first_open", None), ("open", "open", 100.0), ("click", "click", None),
        ("open", "forward", 5300.0),
    ]
    items = store.feed(FeedFilter(message_id=message.message_id, human=True), limit=10)
    assert [i.recipient for i in items] == ["r0@example.org"] * 4 and items[0].subject == "s"


def test_a_click_revised_to_machine_stops_notifying(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3000)
    hit(store, key, "click", 3600.0, ip="192.0.2.10", ua=CHROME, link=0)
    Pipeline(store).catch_up()
    assert notices(store)[1] == ("click", "click", None)
    hit(store, key, "click", 3600.4, ip="192.0.2.10", ua=CHROME, link=1)
    Pipeline(store).catch_up()
    assert [n for _, n, _ in notices(store)] == ["first_open", None, None]


def test_the_feed_is_derived_again_by_a_recount(store: Store) -> None:
    message = sent(store)
    hit(store, message.keys[0], "open", 3600)
    pipeline = Pipeline(store)
    pipeline.catch_up()
    before = notices(store)
    assert pipeline.reclassify() == 1
    assert notices(store) == before == [("open", "first_open", None)]
