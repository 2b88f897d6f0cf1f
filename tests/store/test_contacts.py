"""Campaign contacts in the store, on SQLite and PostgreSQL: import, lists, the send cursor's walk, unsubscribes."""

from __future__ import annotations

from mailbeacon.store import NewContact, Store


def people(*emails: str, **fields: str) -> list[NewContact]:
    return [NewContact(e, dict(fields)) for e in emails]


def test_import_creates_the_list_and_counts_new_updated_and_unchanged(store: Store) -> None:
    first = store.import_contacts("news", people("a@example.com", "b@example.com", first_name="Ann"))
    assert (first.created, first.updated, first.unchanged, first.added) == (2, 0, 0, 2)
    again = store.import_contacts(
        "news", [NewContact("a@example.com", {"first_name": "Ann"}), NewContact("b@example.com", {"city": "Oslo"})]
    )
    assert (again.created, again.updated, again.unchanged, again.added) == (0, 1, 1, 0)
    b = store.contact_by_email("B@Example.COM")
    assert b is not None and b.fields == {"first_name": "Ann", "city": "Oslo"}  # merged: nothing lost
    (news,) = store.lists()
    assert (news.name, news.members, news.unsubscribed) == ("news", 2, 0)


def test_a_contact_on_two_lists_is_one_contact(store: Store) -> None:
    store.import_contacts("news", people("a@example.com"))
    counts = store.import_contacts("offers", people("a@example.com", "b@example.com"))
    assert (counts.created, counts.added) == (1, 2)
    a = store.contact_by_email("a@example.com")
    assert a is not None and store.lists_of(a.id) == ["news", "offers"]
    assert [(l.name, l.members) for l in store.lists()] == [("news", 1), ("offers", 2)]


def test_members_after_walks_in_contact_id_order_and_skips_the_unsubscribed(store: Store) -> None:
    emails = [f"p{i:03}@example.com" for i in range(25)]
    store.import_contacts("big", people(*emails), batch_size=7)  # several batches, one transaction each
    listed = store.list_named("big")
    assert listed is not None and listed.members == 25
    gone = store.contact_by_email("p010@example.com")
    assert gone is not None
    store.unsubscribe(gone.id, "link", campaign_id=3)
    walked, cursor = [], 0
    while page := store.members_after(listed.id, cursor, 4):
        walked += [c.email for c in page]
        cursor = page[-1].id
    assert walked == [e for e in emails if e != "p010@example.com"]
    everyone = store.members_after(listed.id, 0, 100, include_unsubscribed=True)
    assert [c.email for c in everyone] == emails
    assert [c.id for c in everyone] == sorted(c.id for c in everyone)


def test_unsubscribe_keeps_the_first_time_and_an_import_never_undoes_it(store: Store) -> None:
    store.import_contacts("news", people("a@example.com"))
    a = store.contact_by_email("a@example.com")
    assert a is not None and a.is_subscribed
    first = store.unsubscribe(a.id, "one-click", campaign_id=9)
    second = store.unsubscribe(a.id, "link", campaign_id=10)
    assert first is not None and second is not None
    assert (second.unsubscribed_at, second.unsubscribe_source, second.unsubscribe_campaign_id) == (
        first.unsubscribed_at, "one-click", 9,
    )
    counts = store.import_contacts("news", [NewContact("A@example.com", {"first_name": "Ann"})])
    assert counts.still_unsubscribed == 1
    after = store.contact_by_email("a@example.com")
    assert after is not None and not after.is_subscribed and after.fields == {"first_name": "Ann"}
    back = store.resubscribe(a.id)
    assert back is not None and back.is_subscribed and back.unsubscribe_source is None
    assert store.unsubscribe(10_000, "cli") is None  # no such contact


def test_an_import_may_mark_contacts_unsubscribed_but_never_resubscribes(store: Store) -> None:
    counts = store.import_contacts("news", [NewContact("a@example.com", unsubscribed=True), NewContact("b@example.com")])
    assert counts.unsubscribed == 1
    a = store.contact_by_email("a@example.com")
    assert a is not None and a.unsubscribe_source == "import"
    store.import_contacts("news", [NewContact("b@example.com", unsubscribed=True)])
    b = store.contact_by_email("b@example.com")
    assert b is not None and b.unsubscribe_source == "import"
    (news,) = store.lists()
    assert (news.members, news.unsubscribed) == (2, 2)
