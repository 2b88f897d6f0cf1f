"""Privacy settings and the job that applies them, on SQLite and PostgreSQL (pains.md G2, E3, D2)."""

from __future__ import annotations

import pytest
from sqlalchemy import Text, create_engine, func, select
from sqlalchemy.engine import make_url

from mailbeacon.classify import HONEYPOT_LINK
from mailbeacon.errors import ConfigError
from mailbeacon.pipeline import Pipeline
from mailbeacon.pipeline.privacy import forget_addresses
from mailbeacon.store import FeedFilter, PrivacyRun, ServerSettings, Store
from mailbeacon.store.schema import metadata
from tests.pipeline.test_pipeline import OUTLOOK, T0, hit, sent

DAY = 86400.0


def test_settings_have_documented_defaults_and_are_checked(store: Store) -> None:
    assert store.get_settings() == ServerSettings(ip_truncate_after_days=30, retention_days=None)
    assert store.set_setting("retention_days", 400).retention_days == 400
    assert store.set_setting("ip_truncate_after_days", None).ip_truncate_after_days is None
    assert store.set_setting("ip_truncate_after_days", 0).ip_truncate_after_days == 0
    for name, value in [
        ("retention_days", 0), ("retention_days", -3), ("retention_days", "30"), ("retention_days", True),
        ("retention_days", 2.5), ("ip_truncate_after_days", 10**6), ("colour", 3),
    ]:
        with pytest.raises(ConfigError, match="colour|days"):
            store.set_setting(name, value)
    assert store.get_settings() == ServerSettings(ip_truncate_after_days=0, retention_days=400)


def test_old_ips_keep_only_their_network_and_new_ones_stay_whole(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3600, ip="198.51.100.7")
    hit(store, key, "open", 7200, ip="2001:db8:1234:5678::1")
    hit(store, key, "open", 39 * DAY, ip="203.0.113.9")  # 1 day old at `now`
    Pipeline(store).catch_up()
    now = T0 + 40 * DAY
    assert store.apply_privacy(now, batch=1) == PrivacyRun(truncated=2, deleted=0)
    assert [e.ip for e in store.events_after(0, 10, None)] == ["198.51.100.0", "2001:db8:1234::", "203.0.113.9"]
    assert store.apply_privacy(now) == PrivacyRun()  # done: a second run finds nothing
    assert store.apply_privacy(now + 30 * DAY).truncated == 1  # the third event's turn


def test_nothing_is_truncated_before_the_classifier_judged_it(store: Store) -> None:
    message = sent(store)
    hit(store, message.keys[0], "open", 3600, ip="198.51.100.7")
    store.set_setting("ip_truncate_after_days", 0)
    assert store.apply_privacy(T0 + 10 * DAY).truncated == 0
    Pipeline(store).catch_up()
    assert store.apply_privacy(T0 + 10 * DAY).truncated == 1


def test_retention_deletes_old_events_and_their_feed_rows_but_counters_stay(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    for n in range(7):
        hit(store, key, "open", 3600 + n * 60)
    hit(store, key, "click", 3 * DAY, link=0)
    hit(store, key, "open", 50 * DAY)
    Pipeline(store).catch_up()
    before = store.message_report(message.message_id)
    store.set_setting("retention_days", 20)
    run = store.apply_privacy(T0 + 60 * DAY, batch=3)
    assert run.deleted == 8
    assert [(e.type, e.occurred_at) for e in store.events_after(0, 100, None)] == [("open", T0 + 50 * DAY)]
    assert [i.occurred_at for i in store.feed(FeedFilter(), limit=100)] == [T0 + 50 * DAY]
    assert store.message_report(message.message_id) == before  # aggregates are kept
    assert store.apply_privacy(T0 + 60 * DAY).deleted == 0


def test_retention_never_deletes_what_a_reader_has_not_read(store: Store) -> None:
    message = sent(store)
    hit(store, message.keys[0], "open", 3600)
    store.set_setting("retention_days", 1)
    assert store.apply_privacy(T0 + 10 * DAY).deleted == 0  # not judged yet: the counters need it
    Pipeline(store).catch_up()
    assert store.apply_privacy(T0 + 10 * DAY).deleted == 1


def places_holding(store_url: str, text: str) -> list[str]:
    """Every table.column (text or JSON) whose value contains `text`: a check over the whole schema (pains.md G2)."""
    url = make_url(store_url)
    engine = create_engine(url.set(drivername="postgresql+psycopg") if url.get_backend_name() == "postgresql" else url)
    found = []
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for column in table.columns:
                    if isinstance(column.type, Text):
                        hits = conn.execute(select(func.count()).where(column.contains(text, autoescape=True)))
                        if hits.scalar_one():
                            found.append(f"{table.name}.{column.name}")
    finally:
        engine.dispose()
    return sorted(found)


def test_no_full_address_of_an_old_event_survives_anywhere(store: Store, store_url: str) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3600, ip="198.51.100.7")
    hit(store, key, "click", 3700, ip="198.51.100.7", link=0)
    hit(store, key, "click", 3700.5, ip="198.51.100.7", link=HONEYPOT_LINK)  # trapped: remembered with its address
    Pipeline(store).catch_up()
    assert places_holding(store_url, "198.51.100.7") == ["delivery_activity.memory", "events.ip"]
    run = store.apply_privacy(T0 + 31 * DAY, forget=forget_addresses)
    assert run.truncated == 3
    assert places_holding(store_url, "198.51.100.7") == []
    assert places_holding(store_url, "198.51.100.0") == ["delivery_activity.memory", "events.ip"]


def test_the_classifier_still_judges_a_delivery_whose_memory_forgot_addresses(store: Store) -> None:
    message = sent(store)
    key = message.keys[0]
    hit(store, key, "open", 3600, ip="198.51.100.7")
    Pipeline(store).catch_up()
    store.apply_privacy(T0 + 31 * DAY, forget=forget_addresses)
    hit(store, key, "open", 32 * DAY, ip="198.51.100.7")  # the same network and client: the same person again
    hit(store, key, "open", 32 * DAY + 60, ip="203.0.113.77", ua=OUTLOOK)
    Pipeline(store).catch_up()
    assert [e.cls for e in store.events_after(0, 10, None)] == ["human", "human", "suspect_forward"]
