"""The store's promises, checked the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailbeacon.errors import ConfigError
from mailbeacon.events import EventKind, RawEvent
from mailbeacon.store.migrations import discover
from mailbeacon.store import DuplicateUser, Store, StoreConflict, StoreUnavailable, open_store, schema
from tests.support import databases

FAILS_FAST_S = 1.0
"""Generous bound for 'fails fast': the SQLite busy timeout is 0.2 s, a refused TCP connect is instant."""


def raw_event(delivery: bytes, kind: EventKind = EventKind.OPEN, *, user_agent: str = "Mozilla/5.0") -> RawEvent:
    link, url = (3, "https://shop.example.com/offer") if kind is EventKind.CLICK else (None, None)
    return RawEvent(
        uid=os.urandom(16),
        kind=kind,
        delivery=delivery,
        link=link,
        url=url,
        occurred_at=time.time(),
        ip="192.0.2.7",
        user_agent=user_agent,
        method="GET",
    )


def delivery_key() -> bytes:
    return os.urandom(12)


@pytest.fixture()
def engine(store_url: str, store: Store) -> Iterator[sa.Engine]:
    """A plain engine on the store's database, to look at rows the API does not return."""
    url = make_url(store_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    created = sa.create_engine(url)
    yield created
    created.dispose()


def add_user(store: Store, email: str) -> int:
    return store.add_user(email, False, "basic", api_key_hash=f"key:{email}", smtp_password_hash=f"pw:{email}")


# --- migrations --------------------------------------------------------------


def test_migrate_is_idempotent(store_url: str) -> None:
    with open_store(store_url) as store:
        store.migrate()
        store.migrate()
        assert store.append_events([raw_event(delivery_key())]) == 1
    with open_store(store_url) as again:
        again.migrate()
        assert again.count_events() == 1


def test_each_migration_is_recorded_once(store: Store, engine: sa.Engine) -> None:
    store.migrate()
    with engine.connect() as conn:
        versions = conn.execute(sa.select(schema.schema_migrations.c.version)).scalars().all()
    assert versions == [m.version for m in discover()] == [1, 2, 3, 4, 5, 6, 7, 8, 13]


def test_migrated_database_has_the_columns_schema_py_declares(store: Store, engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == set(schema.metadata.tables)
    for table in schema.metadata.sorted_tables:
        found = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
        declared = {c.name: c.nullable for c in table.columns}
        assert found == declared, table.name


def test_an_unmigrated_database_is_unavailable_not_a_crash(store_url: str) -> None:
    with open_store(store_url) as store, pytest.raises(StoreUnavailable):
        store.append_events([raw_event(delivery_key())])


# --- the events log ----------------------------------------------------------


def test_append_events_stores_a_batch_and_a_replayed_batch_once(store: Store) -> None:
    batch = [raw_event(delivery_key()) for _ in range(50)]
    assert store.append_events(batch) == 50
    assert store.append_events(batch) == 0
    assert store.append_events(list(reversed(batch))[:25] + [raw_event(delivery_key()) for _ in range(25)]) == 25
    assert store.count_events() == 75
    assert store.append_events([]) == 0


def test_events_after_pages_in_id_order_with_the_cursor(store: Store) -> None:
    agents = [f"agent-{i}" for i in range(7)]
    store.append_events([raw_event(delivery_key(), user_agent=a) for a in agents])
    pages, cursor = [], 0
    while page := store.events_after(cursor, 3, None):
        pages.append([row.user_agent for row in page])
        cursor = page[-1].id
    assert pages == [agents[0:3], agents[3:6], agents[6:7]]
    assert store.events_after(cursor, 3, None) == []


def test_event_rows_carry_what_was_recorded(store: Store) -> None:
    key = delivery_key()
    click = raw_event(key, EventKind.CLICK)
    store.append_events([click])
    (row,) = store.events_after(0, 10, None)
    assert (row.type, row.link_idx, row.url, row.ip, row.user_agent, row.method, row.delivery_key) == (
        EventKind.CLICK,
        3,
        "https://shop.example.com/offer",
        "192.0.2.7",
        "Mozilla/5.0",
        "GET",
        key,
    )
    assert row.occurred_at == pytest.approx(click.occurred_at)
    assert (row.message_id, row.recipient) == (None, None)


def test_text_a_database_would_refuse_is_stored_not_rejected(store: Store) -> None:
    # PostgreSQL refuses NUL in text; UTF-8 has no lone surrogates. Neither may cost an event.
    store.append_events([raw_event(delivery_key(), user_agent="bad\x00agent\udcff")])
    (row,) = store.events_after(0, 10, None)
    assert row.user_agent.startswith("bad") and "agent" in row.user_agent


def test_user_sees_only_events_of_own_messages_and_admin_sees_all(store: Store) -> None:
    alice, bob, carol = (add_user(store, f"{n}@example.com") for n in ("alice", "bob", "carol"))
    to_alice, to_bob, unknown = delivery_key(), delivery_key(), delivery_key()
    from_alice = store.record_message(alice, "alice@example.com", "Hi", None, [(to_alice, "r1@example.org")], [])
    from_bob = store.record_message(bob, "bob@example.com", "Yo", None, [(to_bob, "r2@example.org")], [])
    store.append_events([raw_event(to_alice), raw_event(unknown), raw_event(to_bob), raw_event(to_alice)])

    admin = store.events_after(0, 100, None)
    assert [(r.message_id, r.recipient) for r in admin] == [
        (from_alice, "r1@example.org"),
        (None, None),
        (from_bob, "r2@example.org"),
        (from_alice, "r1@example.org"),
    ]
    assert [r.id for r in store.events_after(0, 100, alice)] == [admin[0].id, admin[3].id]
    assert [r.id for r in store.events_after(0, 100, bob)] == [admin[2].id]
    assert store.events_after(0, 100, carol) == []
    # The cursor pages a user's view too, skipping other users' events.
    assert [r.id for r in store.events_after(admin[0].id, 1, alice)] == [admin[3].id]


def test_concurrent_appends_reach_a_cursor_reader_exactly_once(store: Store) -> None:
    # A reader that follows the cursor must not skip an id committed after a higher one.
    writers, batches, size = 4, 15, 5
    sent: set[bytes] = set()
    seen: list[bytes] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for _ in range(batches):
                batch = [raw_event(delivery_key()) for _ in range(size)]
                store.append_events(batch)
                sent.update(e.delivery for e in batch)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    def read() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            page = store.events_after(cursor, 50, None)
            seen.extend(row.delivery_key for row in page)
            cursor = page[-1].id if page else cursor
            if finished and not page:
                return

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write) for _ in range(writers)]
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    assert len(seen) == len(set(seen)) == writers * batches * size
    assert set(seen) == sent


# --- messages and users ------------------------------------------------------


def test_record_message_round_trip(store: Store, engine: sa.Engine) -> None:
    owner = add_user(store, "sender@example.com")
    k1, k2 = delivery_key(), os.urandom(64)
    links = [(0, "https://example.com/a"), (1, "https://example.com/b?x=1&y=2")]
    message_id = store.record_message(
        owner,
        "sender@example.com",
        "Spring offer",
        "<m1@example.com>",
        [(k1, "a@x.org"), (k2, "b@x.org")],
        links,
        utm="utm_source=newsletter",
    )
    store.append_events([raw_event(k2, EventKind.CLICK), raw_event(k1)])
    assert [(r.message_id, r.recipient) for r in store.events_after(0, 10, owner)] == [
        (message_id, "b@x.org"),
        (message_id, "a@x.org"),
    ]
    with engine.connect() as conn:
        message = conn.execute(sa.select(schema.messages).where(schema.messages.c.id == message_id)).one()
        stored_links = conn.execute(
            sa.select(schema.links.c.idx, schema.links.c.url)
            .where(schema.links.c.message_id == message_id)
            .order_by(schema.links.c.idx)
        ).all()
    assert (message.user_id, message.sender, message.subject, message.message_id_header, message.utm) == (
        owner,
        "sender@example.com",
        "Spring offer",
        "<m1@example.com>",
        "utm_source=newsletter",
    )
    assert [tuple(link) for link in stored_links] == links


def test_record_message_without_user_or_headers(store: Store) -> None:
    key = delivery_key()
    message_id = store.record_message(None, None, None, None, [(key, "r@example.org")], [])
    store.append_events([raw_event(key)])
    assert store.events_after(0, 10, None)[0].message_id == message_id


def test_record_message_is_all_or_nothing(store: Store, engine: sa.Engine) -> None:
    taken = delivery_key()
    store.record_message(None, None, "first", None, [(taken, "a@example.org")], [])
    with pytest.raises(StoreConflict):
        store.record_message(None, None, "second", None, [(delivery_key(), "b@example.org"), (taken, "c@x.org")], [])
    with pytest.raises(ValueError, match="12..64 bytes"):
        store.record_message(None, None, "third", None, [(b"short", "d@example.org")], [])
    with engine.connect() as conn:
        subjects = conn.execute(sa.select(schema.messages.c.subject)).scalars().all()
        recipients = conn.execute(sa.select(schema.deliveries.c.recipient)).scalars().all()
    assert (subjects, recipients) == (["first"], ["a@example.org"])


def test_users_are_found_by_email_and_api_key_hash(store: Store) -> None:
    user_id = store.add_user("admin@example.com", True, "sales", "key-hash", "smtp-hash")
    by_key = store.user_by_api_key_hash("key-hash")
    assert by_key is not None
    assert (by_key.id, by_key.email, by_key.is_admin, by_key.seat, by_key.smtp_password_hash) == (
        user_id,
        "admin@example.com",
        True,
        "sales",
        "smtp-hash",
    )
    assert store.user_by_email("admin@example.com") == by_key
    assert store.user_by_email("nobody@example.com") is None
    assert store.user_by_api_key_hash("other") is None


def test_duplicate_user_email_raises_duplicate_user(store: Store) -> None:
    store.add_user("dup@example.com", False, "basic", "hash-1", "pw")
    with pytest.raises(DuplicateUser, match="dup@example.com"):
        store.add_user("dup@example.com", False, "basic", "hash-2", "pw")
    with pytest.raises(ValueError, match="seat"):
        store.add_user("other@example.com", False, "gold", "hash-3", "pw")


# --- failure: fast, clear, nothing half-written -------------------------------


def test_locked_sqlite_fails_fast_and_writes_nothing(tmp_path: Path) -> None:
    url = databases.sqlite_url(tmp_path)
    with open_store(url) as store:
        store.migrate()
        store.append_events([raw_event(delivery_key())])
        other = sqlite3.connect(tmp_path / "mailbeacon.db", isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="locked"):
                store.append_events([raw_event(delivery_key()) for _ in range(20)])
            assert time.monotonic() - started < FAILS_FAST_S
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert store.count_events() == 1
        assert store.append_events([raw_event(delivery_key())]) == 1


def test_unreachable_postgres_fails_fast_and_ping_is_false() -> None:
    with open_store("postgresql://postgres:secret@127.0.0.1:1/postgres") as store:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            store.append_events([raw_event(delivery_key())])
        assert time.monotonic() - started < FAILS_FAST_S
        assert "127.0.0.1" in str(raised.value) and "secret" not in str(raised.value)
        with pytest.raises(StoreUnavailable):
            store.migrate()
        assert store.ping() is False


def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    with open_store(databases.sqlite_url(tmp_path / "missing-dir")) as store:
        with pytest.raises(StoreUnavailable, match="unable to open"):
            store.count_events()
        assert store.ping() is False


def test_ping_is_true_on_a_working_store(store: Store) -> None:
    assert store.ping() is True


def test_a_closed_store_is_unavailable(store_url: str) -> None:
    store = open_store(store_url)
    store.migrate()
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.append_events([raw_event(delivery_key())])
    assert store.ping() is False


@pytest.mark.parametrize("url", ["mysql://localhost/db", "sqlite://", "sqlite:///:memory:", "not a url"])
def test_open_store_refuses_urls_it_cannot_serve(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)
