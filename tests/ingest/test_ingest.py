"""Group commit and the spool against a real SQLite store: nothing answered is ever lost or doubled."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.ingest import Batcher, Spool
from mailbeacon.store import Store, StoreUnavailable, open_store


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}")
    opened.migrate()
    yield opened
    opened.close()


def event(n: int = 0) -> RawEvent:
    return RawEvent(secrets.token_bytes(16), EventKind.OPEN, n.to_bytes(12, "big"), None, None, time.time(),
                    "127.0.0.1", "test", "GET")


async def record_all(batcher: Batcher, events: list[RawEvent]) -> list[bool]:
    await batcher.start()
    try:
        return list(await asyncio.gather(*(batcher.record(e) for e in events)))
    finally:
        await batcher.stop()


def test_concurrent_events_share_batches_and_all_are_stored(store: Store, tmp_path: Path) -> None:
    batcher = Batcher(store.append_events, Spool(tmp_path / "spool.jsonl"), (StoreUnavailable,))
    events = [event(n) for n in range(500)]
    assert all(asyncio.run(record_all(batcher, events)))
    assert store.count_events() == 500
    assert batcher.stats.batches < 500, "concurrent requests must share commits"
    assert batcher.stats.events_stored == 500 and batcher.stats.events_spooled == 0


def test_locked_store_spools_then_replays_exactly_once(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    batcher = Batcher(store.append_events, spool, (StoreUnavailable,), replay_every=0.05)
    locker = sqlite3.connect(tmp_path / "mailbeacon.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    events = [event(n) for n in range(50)]

    async def scenario() -> list[bool]:
        await batcher.start()
        try:
            answered = list(await asyncio.gather(*(batcher.record(e) for e in events)))
            assert spool.depth() == 50, "answered while the store was locked: the events must be in the spool"
            locker.execute("ROLLBACK")
            for _ in range(200):
                if not spool.pending():
                    break
                await asyncio.sleep(0.05)
            return answered
        finally:
            await batcher.stop()

    try:
        assert all(asyncio.run(scenario()))
    finally:
        locker.close()
    assert not spool.pending()
    assert store.count_events() == 50
    assert batcher.stats.events_spooled == 50 and batcher.stats.events_replayed == 50


def test_replay_interrupted_and_run_again_stores_each_event_once(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    events = [event(n) for n in range(20)]
    spool.append(events)
    calls = 0

    def crash_after_first_chunk(chunk: object) -> int:
        nonlocal calls
        calls += 1
        stored = store.append_events(chunk)  # type: ignore[arg-type]
        if calls == 1:
            raise StoreUnavailable("connection lost after the commit")
        return stored

    with pytest.raises(StoreUnavailable):
        spool.replay(crash_after_first_chunk, batch=10)
    assert spool.pending()
    assert spool.replay(store.append_events) == 10, "the first chunk was already stored: only 10 are new"
    assert store.count_events() == 20 and not spool.pending()


def test_torn_last_spool_line_is_ignored(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([event(1), event(2)])
    with (tmp_path / "spool.jsonl").open("ab") as f:
        f.write(b'{"uid": "half a rec')
    assert spool.replay(store.append_events) == 2


def test_when_even_the_spool_fails_the_loss_is_counted(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "spool.jsonl"  # its folder does not exist: every append fails

    def down(events: object) -> int:
        raise StoreUnavailable("down")

    batcher = Batcher(down, Spool(missing), (StoreUnavailable,))
    assert asyncio.run(record_all(batcher, [event(1)])) == [False]
    assert batcher.stats.events_lost == 1


def test_an_unexpected_store_error_spools_instead_of_stopping_the_writer(store: Store, tmp_path: Path) -> None:
    calls = 0

    def flaky(events: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OverflowError("a driver error nobody translated")
        return store.append_events(events)  # type: ignore[arg-type]

    spool = Spool(tmp_path / "spool.jsonl")
    batcher = Batcher(flaky, spool, (StoreUnavailable,), window=0)

    async def scenario() -> list[bool]:
        await batcher.start()
        try:
            first = await batcher.record(event(1))
            second = await batcher.record(event(2))
            return [first, second]
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [True, True]
    assert spool.depth() == 1 and store.count_events() == 1
    assert spool.replay(store.append_events) == 1 and store.count_events() == 2
