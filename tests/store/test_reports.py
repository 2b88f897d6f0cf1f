"""The reports behind the API and the dashboard, on SQLite and PostgreSQL: messages list, detail, contacts.

Data goes in as in production: messages queued and accepted, events appended, the classify
reader run; then every page is read back the way a client pages through it.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import (
    MESSAGE_SORTS,
    ContactQuery,
    Copy,
    FeedFilter,
    MessageQuery,
    MessageSummary,
    Store,
)

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
APPLE_PROXY = ("17.58.1.1", "Mozilla/5.0")
_uids = itertools.count(1)


@dataclass
class World:
    store: Store
    a: int
    b: int
    a_messages: list[int]
    """In the order sent."""
    b_message: int
    keys: dict[tuple[int, str], bytes]
    """(message id, recipient) -> delivery key."""


def send(store: Store, user: int, subject: str, recipients: list[str]) -> tuple[int, dict[str, bytes]]:
    copies = [Copy(secrets.token_bytes(12), r, (r,), b"x", True, True) for r in recipients]
    message_id = store.queue_message(
        user_id=user, sender=f"user{user}@example.com", subject=subject, message_id_header=None, source="api",
        mail_from=f"user{user}@example.com", copies=copies, links=[(0, "https://example.com/a")],
    )
    for queued in store.claim_outbound(100, lease=60):
        store.outbound_sent(queued.id, "250 OK", accepted_at=time.time())
    return message_id, {c.recipient: c.delivery_key for c in copies}


def hit(store: Store, key: bytes, kind: str, after: float, ip: str = "198.51.100.7", ua: str = THUNDERBIRD) -> None:
    link, url = (0, "https://example.com/a") if kind == "click" else (None, None)
    store.append_events([
        RawEvent(next(_uids).to_bytes(16, "big"), EventKind(kind), key, link, url, time.time() + after, ip, ua, "GET")
    ])


@pytest.fixture()
def world(store: Store) -> World:
    a = store.add_user("a@example.com", False, "basic", "key-a", "pw-a")
    b = store.add_user("b@example.com", False, "basic", "key-b", "pw-b")
    keys: dict[tuple[int, str], bytes] = {}
    a_messages = []
    plan = [
        ("m0 to bob and carol", ["bob@example.org", "carol@example.org"]),
        ("m1 to Bob", ["Bob@Example.org"]),
        ("m2 to dave", ["dave@example.org"]),
        ("m3 to nobody who reads", ["erin@example.org", "frank@example.org", "grace@example.org"]),
        ("m4 to bob", ["bob@example.org"]),
    ]
    for subject, recipients in plan:
        message_id, sent = send(store, a, subject, recipients)
        a_messages.append(message_id)
        keys.update({(message_id, r): k for r, k in sent.items()})
    b_message, sent = send(store, b, "b's", ["bob@example.org"])
    keys.update({(b_message, r): k for r, k in sent.items()})
    m0, m1, m2, _, _ = a_messages
    hit(store, keys[m0, "bob@example.org"], "open", 3600)
    hit(store, keys[m0, "bob@example.org"], "click", 3620, ua=CHROME)
    hit(store, keys[m0, "carol@example.org"], "open", 10, *APPLE_PROXY)  # a machine: no human open
    hit(store, keys[m1, "Bob@Example.org"], "open", 7200)
    hit(store, keys[m2, "dave@example.org"], "open", 3600)
    hit(store, keys[m2, "dave@example.org"], "open", 3700, ua=CHROME)
    hit(store, keys[b_message, "bob@example.org"], "open", 3600)
    Pipeline(store).catch_up()
    return World(store, a, b, a_messages, b_message, keys)


def all_pages(store: Store, where: MessageQuery, limit: int) -> list[MessageSummary]:
    seen: list[MessageSummary] = []
    after = None
    for _ in range(50):
        page = store.messages(where, after, limit)
        assert len(page.items) <= limit
        seen += page.items
        if not page.more:
            return seen
        after = (page.items[-1].sort_value, page.items[-1].id)
    raise AssertionError("the pages do not end")


# --- messages ---------------------------------------------------------------------------------------------


def test_a_user_lists_only_their_messages_newest_first_with_counts_and_recipients(world: World) -> None:
    page = world.store.messages(MessageQuery(user_id=world.a))
    assert [m.id for m in page.items] == world.a_messages[::-1] and not page.more
    by_id = {m.id: m for m in page.items}
    m0 = by_id[world.a_messages[0]]
    assert (m0.subject, m0.source, m0.sender, m0.recipients) == ("m0 to bob and carol", "api", "user1@example.com", 2)
    assert (m0.activity.raw_opens, m0.activity.unique_human_opens, m0.activity.unique_human_clicks) == (2, 1, 1)
    assert by_id[world.a_messages[3]].activity.raw_opens == 0 and by_id[world.a_messages[3]].recipients == 3


def test_an_admin_lists_everyones_messages(world: World) -> None:
    ids = [m.id for m in world.store.messages(MessageQuery(), limit=100).items]
    assert sorted(ids) == sorted([*world.a_messages, world.b_message])
    assert world.store.messages(MessageQuery(user_id=world.b)).items[0].id == world.b_message


@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
@pytest.mark.parametrize("sort", MESSAGE_SORTS)
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_pages_hold_every_message_once_in_the_sort_order(world: World, sort: str, descending: bool, limit: int) -> None:
    where = MessageQuery(user_id=world.a, sort=sort, descending=descending)
    paged = all_pages(world.store, where, limit)
    whole = world.store.messages(where, limit=100).items
    assert [m.id for m in paged] == [m.id for m in whole]
    assert sorted(m.id for m in paged) == sorted(world.a_messages)
    keys = [(m.sort_value, m.id) for m in paged]
    assert keys == sorted(keys, reverse=descending)


def test_rates_are_unique_human_opens_and_clicks_over_recipients(world: World) -> None:
    by_open = world.store.messages(MessageQuery(user_id=world.a, sort="open_rate")).items
    rates = {m.subject: m.sort_value for m in by_open}
    assert rates == {
        "m0 to bob and carol": 0.5, "m1 to Bob": 1.0, "m2 to dave": 1.0, "m3 to nobody who reads": 0.0,
        "m4 to bob": 0.0,
    }
    by_click = world.store.messages(MessageQuery(user_id=world.a, sort="click_rate")).items
    assert by_click[0].subject == "m0 to bob and carol" and by_click[0].sort_value == 0.5


def test_the_recipient_filter_ignores_case_and_keeps_to_the_user(world: World) -> None:
    for spelling in ("bob@example.org", "BOB@EXAMPLE.ORG", "Bob@Example.org"):
        found = world.store.messages(MessageQuery(user_id=world.a, recipient=spelling)).items
        assert [m.id for m in found] == [world.a_messages[4], world.a_messages[1], world.a_messages[0]]
    everyone = world.store.messages(MessageQuery(recipient="bob@example.org")).items
    assert world.b_message in [m.id for m in everyone]
    assert world.store.messages(MessageQuery(user_id=world.a, recipient="bob@example")).items == []


def test_opened_and_clicked_filters_count_people_only(world: World) -> None:
    def subjects(**kw: object) -> set[str | None]:
        return {m.subject for m in world.store.messages(MessageQuery(user_id=world.a, **kw)).items}  # type: ignore[arg-type]

    assert subjects(opened=True) == {"m0 to bob and carol", "m1 to Bob", "m2 to dave"}
    assert subjects(opened=False) == {"m3 to nobody who reads", "m4 to bob"}
    assert subjects(clicked=True) == {"m0 to bob and carol"}
    assert subjects(opened=True, clicked=False) == {"m1 to Bob", "m2 to dave"}


def test_the_time_range_is_since_inclusive_until_exclusive(world: World) -> None:
    every = world.store.messages(MessageQuery(user_id=world.a, descending=False)).items
    middle = every[2].created_at
    since = world.store.messages(MessageQuery(user_id=world.a, since=middle)).items
    until = world.store.messages(MessageQuery(user_id=world.a, until=middle)).items
    assert {m.id for m in since} | {m.id for m in until} == set(world.a_messages)
    assert not {m.id for m in since} & {m.id for m in until}
    assert every[2].id in {m.id for m in since}


def test_an_unknown_sort_is_a_value_error(world: World) -> None:
    with pytest.raises(ValueError, match="sort must be one of"):
        world.store.messages(MessageQuery(sort="subject; DROP TABLE messages"))
    with pytest.raises(ValueError, match="sort must be one of"):
        world.store.contacts(ContactQuery(sort="nope"))


def test_a_message_is_visible_to_its_sender_and_admins_only(world: World) -> None:
    m0 = world.a_messages[0]
    assert world.store.message_visible(m0, world.a) and world.store.message_visible(m0, None)
    assert not world.store.message_visible(m0, world.b)
    assert not world.store.message_visible(10**9, None)


# --- message detail -------------------------------------------------------------------------------------


def test_message_detail_has_clients_per_recipient_and_the_timeline_newest_first(world: World) -> None:
    m0 = world.a_messages[0]
    detail = world.store.message_detail(m0, timeline=10)
    assert detail is not None and detail.report.id == m0
    bob = detail.clients[world.keys[m0, "bob@example.org"]]
    assert {(c.client, c.events, c.human) for c in bob} == {
        ("Thunderbird (Windows)", 1, 1), ("Chrome (Windows)", 1, 1)
    }
    carol = detail.clients.get(world.keys[m0, "carol@example.org"], [])
    assert all(c.human == 0 for c in carol)
    assert [(i.type, i.recipient) for i in detail.timeline] == [
        ("open", "carol@example.org"), ("click", "bob@example.org"), ("open", "bob@example.org")
    ]
    assert [i.id for i in detail.timeline] == sorted((i.id for i in detail.timeline), reverse=True)
    assert world.store.message_detail(m0, timeline=1).timeline == detail.timeline[:1]  # type: ignore[union-attr]
    assert world.store.message_detail(10**9) is None


def test_message_detail_pages_its_recipients_with_their_clients(world: World) -> None:
    m0 = world.a_messages[0]
    first = world.store.message_detail(m0, timeline=0, recipients_offset=0, recipients_limit=1)
    second = world.store.message_detail(m0, timeline=0, recipients_offset=1, recipients_limit=1)
    assert first is not None and second is not None
    assert [r.recipient for r in first.report.recipients] == ["bob@example.org"]
    assert [r.recipient for r in second.report.recipients] == ["carol@example.org"]
    assert first.report.recipients_total == second.report.recipients_total == 2
    assert (first.recipients_offset, second.recipients_offset) == (0, 1)
    assert set(first.clients) == {world.keys[m0, "bob@example.org"]} and first.timeline == []
    assert world.keys[m0, "bob@example.org"] not in second.clients
    whole = world.store.message_detail(m0)
    assert whole is not None and whole.report.recipients_total is None and len(whole.report.recipients) == 2


# --- contacts -------------------------------------------------------------------------------------------


def test_contacts_group_an_address_in_any_case_with_their_counts(world: World) -> None:
    contacts, more = world.store.contacts(ContactQuery(user_id=world.a, sort="email", descending=False))
    assert not more
    assert [c.email for c in contacts] == [
        "bob@example.org", "carol@example.org", "dave@example.org", "erin@example.org", "frank@example.org",
        "grace@example.org",
    ]
    bob = contacts[0]
    assert (bob.messages, bob.human_opens, bob.human_clicks, bob.raw_opens) == (3, 2, 1, 2)
    assert bob.last_human_open_at is not None and bob.last_activity_at is not None
    assert bob.last_activity_at == pytest.approx(bob.last_human_open_at)  # m1's open, 2 h ahead, is the newest
    assert contacts[3].last_activity_at is None and contacts[3].human_opens == 0


def test_contacts_page_by_offset_without_gaps(world: World) -> None:
    whole, _ = world.store.contacts(ContactQuery(user_id=world.a, sort="opens"), 0, 100)
    paged = []
    for offset in range(0, 10, 2):
        page, more = world.store.contacts(ContactQuery(user_id=world.a, sort="opens"), offset, 2)
        paged += page
        if not more:
            break
    assert paged == whole and len(whole) == 6
    assert whole[0].email in ("bob@example.org", "dave@example.org")


def test_a_contact_is_the_users_own_and_found_in_any_case(world: World) -> None:
    bob = world.store.contact(world.a, "BOB@example.ORG")
    assert bob is not None and bob.email == "bob@example.org" and bob.messages == 3
    assert world.store.contact(world.b, "dave@example.org") is None
    everyone = world.store.contact(None, "bob@example.org")
    assert everyone is not None and everyone.messages == 4
    assert world.store.contact(world.a, "nobody@example.org") is None


def test_a_contacts_timeline_spans_spellings_and_messages_newest_first_and_pages(world: World) -> None:
    items = world.store.contact_feed(world.a, "bob@EXAMPLE.org", limit=10)
    assert [(i.message_id, i.type) for i in items] == [
        (world.a_messages[1], "open"), (world.a_messages[0], "click"), (world.a_messages[0], "open")
    ]
    assert {i.user_id for i in items} == {world.a}
    first, = world.store.contact_feed(world.a, "bob@example.org", limit=1)
    rest = world.store.contact_feed(world.a, "bob@example.org", before=first.id, limit=10)
    assert [first, *rest] == items
    clicks = world.store.contact_feed(world.a, "bob@example.org", FeedFilter(type="click"))
    assert [i.type for i in clicks] == ["click"]
    assert len(world.store.contact_feed(None, "bob@example.org")) == 4
    assert world.store.contact_feed(world.b, "dave@example.org") == []


def test_the_report_indexes_exist_after_migrating(store: Store, store_url: str) -> None:
    url = make_url(store_url)
    postgres = url.get_backend_name() == "postgresql"
    engine = sa.create_engine(url.set(drivername="postgresql+psycopg") if postgres else url)
    catalog = (
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        if postgres
        else "SELECT name FROM sqlite_master WHERE type = 'index'"
    )
    try:
        with engine.connect() as conn:
            names = set(conn.exec_driver_sql(catalog).scalars())
    finally:
        engine.dispose()
    assert {"ix_messages_user_created", "ix_messages_created", "ix_deliveries_recipient_lower"} <= names
