# issue #14, item 5: contacts are one thing, on SQLite and PostgreSQL.
"""The contacts list joins the directory to the people written to; search reads addresses and
field values (never field names); a Bcc copy lists nobody; an erase removes a person from every
table and counts what went."""

from __future__ import annotations

import secrets

from mailbeacon.store import ContactQuery, Copy, NewContact, Store


def _queue(store: Store, user_id: int, *copies: tuple[str, bool]) -> list[bytes]:
    keys = [secrets.token_bytes(12) for _ in copies]
    store.queue_message(
        user_id=user_id, sender="ann@example.com", subject="Hi", message_id_header=None, source="api",
        mail_from="ann@example.com", links=[],
        copies=[Copy(key, rcpt, (rcpt,), b"Subject: Hi\r\n\r\nHi\r\n", True, False, listed=listed)
                for key, (rcpt, listed) in zip(keys, copies)],
    )
    return keys


def _emails(store: Store, user_id: int | None, search: str | None = None) -> list[str]:
    found, _ = store.contacts(ContactQuery(user_id=user_id, sort="email", descending=False, search=search), 0, 100)
    return [c.email for c in found]


def test_the_list_is_the_people_written_to_and_the_directory_and_search_reads_values(store: Store) -> None:
    ann = store.add_user("ann@example.com", False, "basic", "k1", "h1")
    _queue(store, ann, ("Bob@Example.org", True), ("dave@example.org", False))
    store.import_contacts("leads", [NewContact("bob@example.org", {"company": "Acme"}),
                                    NewContact("zoe@example.org", {"first_name": "Zoë", "company": "Initech"})])
    assert _emails(store, ann) == ["bob@example.org", "zoe@example.org"]  # dave was only Bcc'd
    assert _emails(store, ann, "initech") == ["zoe@example.org"]
    assert _emails(store, ann, "Zoë") == ["zoe@example.org"]
    assert _emails(store, ann, "company") == []
    assert _emails(store, ann, "%") == [] and _emails(store, ann, "_") == []
    dave = store.contact(ann, "dave@example.org")  # not listed, but his page answers
    assert dave is not None and dave.messages == 1
    directory_only = store.contact(ann, "ZOE@example.org")
    assert directory_only is not None and directory_only.messages == 0 and directory_only.first_sent_at is None


def test_fields_change_and_a_record_is_made_for_someone_only_written_to(store: Store) -> None:
    ann = store.add_user("ann@example.com", False, "basic", "k1", "h1")
    _queue(store, ann, ("carol@example.org", True))
    assert store.contact_record(ann, "carol@example.org").record is None
    row = store.change_contact_fields("Carol@example.org", {"first_name": "Carol", "title": None})
    assert row.email == "carol@example.org" and row.fields == {"first_name": "Carol"}
    assert store.change_contact_fields("carol@example.org", {"first_name": None, "x": "1"}).fields == {"x": "1"}


def test_an_erase_removes_the_person_everywhere_and_counts_it(store: Store) -> None:
    ann = store.add_user("ann@example.com", False, "basic", "k1", "h1")
    _queue(store, ann, ("bob@example.org", True), ("carol@example.org", True))
    store.import_contacts("leads", [NewContact("bob@example.org", {"company": "Acme"})])
    counts, kept = store.erase_contact("BOB@example.org")
    assert (counts["deliveries"], counts["queued_copies"], counts["list_memberships"], counts["contact_records"]) == (
        1, 1, 1, 1)
    assert kept == 0
    assert store.contact(None, "bob@example.org") is None
    assert _emails(store, ann) == ["carol@example.org"]
    again, _ = store.erase_contact("bob@example.org")
    assert not any(again.values())
