"""Group commit and the spool against a real SQLite store: nothing answered is ever lost or doubled."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.ingest import Batcher, HeldEvents, Spool
from mailbeacon.ingest.health import assess
from mailbeacon.store import Store, StoreUnavailable


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


def test_when_even_the_spool_fails_and_memory_is_full_the_loss_is_counted(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "spool.jsonl"  # its folder does not exist: every append fails

    def down(events: object) -> int:
        raise StoreUnavailable("down")

    batcher = Batcher(down, Spool(missing), (StoreUnavailable,), memory=HeldEvents(max_events=0, max_bytes=0))
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


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still not the case after {timeout:.0f} s")
        await asyncio.sleep(0.02)


def stored_in_order(store: Store) -> list[bytes]:
    return [e.delivery_key for e in store.events_after(0, 10_000, None)]


# issue #12: with the disk full, events were dropped while their requests were answered.
def test_events_neither_store_nor_spool_can_take_wait_in_memory_then_land_once_in_order(
    store: Store, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "later" / "spool.jsonl")  # its folder does not exist yet: every append fails
    batcher = Batcher(store.append_events, spool, (StoreUnavailable,), replay_every=0.05, retry_every=0.05)
    locker = sqlite3.connect(tmp_path / "mailbeacon.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    events = [event(n) for n in range(50)]

    async def scenario() -> None:
        await batcher.start()
        try:
            assert all(await asyncio.gather(*(batcher.record(e) for e in events))), "held events are answered"
            health = assess(batcher, store_answers=True)
            assert batcher.events_in_memory == 50 and batcher.stats.events_lost == 0
            assert health.status_code == 503
            assert health.body["reasons"] == ["store_failing", "spool_unwritable", "events_in_memory"]
            assert health.body["events_in_memory"] == 50

            (tmp_path / "later").mkdir()  # the spool can take them again: they leave memory for it
            await wait_until(lambda: batcher.events_in_memory == 0, "held events spooled")
            assert spool.depth() == 50 and store.count_events() == 0
            assert assess(batcher, store_answers=True).status_code == 200, "durable in the spool"

            locker.execute("ROLLBACK")
            await wait_until(lambda: not spool.pending() and not batcher.store_failing, "spool replayed")
        finally:
            await batcher.stop()

    try:
        asyncio.run(scenario())
    finally:
        locker.close()
    assert stored_in_order(store) == [e.delivery for e in events]
    assert assess(batcher, store_answers=True).body["reasons"] == []


def test_a_full_memory_buffer_refuses_events_and_counts_each_one_lost(tmp_path: Path) -> None:
    def down(events: object) -> int:
        raise StoreUnavailable("down")

    missing = Spool(tmp_path / "gone" / "spool.jsonl")
    batcher = Batcher(down, missing, (StoreUnavailable,), memory=HeldEvents(max_events=10, max_bytes=1 << 20))

    async def scenario() -> list[bool]:
        await batcher.start()
        try:
            kept = list(await asyncio.gather(*(batcher.record(event(n)) for n in range(15))))
            assert batcher.stats.events_lost == 5 and batcher.events_in_memory == 10
            health = assess(batcher, store_answers=False)
            assert health.status_code == 503 and "losing_events" in health.body["reasons"]
            return kept
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [True] * 10 + [False] * 5
    assert batcher.stats.events_lost == 15, "the ten held are lost too when the server stops with nowhere to put them"


def test_the_memory_buffer_is_bounded_in_bytes_too() -> None:
    memory = HeldEvents(max_events=1000, max_bytes=10_000)
    big = event(1)._replace(user_agent="x" * 4000)
    assert [memory.hold(big) for _ in range(3)] == [True, True, False]
    assert memory.bytes <= 10_000 and memory.refused == 1


# issue #12: a frozen PostgreSQL held every click, since the commit was awaited without a deadline.
def test_a_commit_past_its_deadline_is_spooled_and_later_batches_do_not_wait_for_it(
    store: Store, tmp_path: Path
) -> None:
    thawed = threading.Event()
    calls = 0

    def frozen_at_first(events: Sequence[RawEvent]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            thawed.wait(30)  # the database stops answering in the middle of this commit
        return store.append_events(events)

    spool = Spool(tmp_path / "spool.jsonl")
    batcher = Batcher(frozen_at_first, spool, (StoreUnavailable,), commit_deadline=0.3, replay_every=0.05)
    events = [event(n) for n in range(20)]

    async def scenario() -> None:
        await batcher.start()
        try:
            assert await asyncio.wait_for(batcher.record(events[0]), 5), "answered from the spool after the deadline"
            later = asyncio.gather(*(batcher.record(e) for e in events[1:]))
            assert all(await asyncio.wait_for(later, 2)), "later batches go to the spool, not behind the stuck commit"
            assert spool.depth() == 20 and batcher.stats.commit_timeouts == 1 and batcher.store_failing
            thawed.set()  # the stuck commit lands late; the replay brings the same events again
            await wait_until(lambda: not spool.pending() and not batcher.store_failing, "spool replayed")
        finally:
            thawed.set()
            await batcher.stop()

    asyncio.run(scenario())
    assert sorted(stored_in_order(store)) == sorted(e.delivery for e in events), "each event stored exactly once"


# issue #12: an error the replayer did not expect killed it silently, and the spool stayed for good.
def test_the_replayer_survives_any_error_shows_it_and_goes_on(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([event(n) for n in range(10)])
    failures = 2

    def buggy_at_first(events: Sequence[RawEvent]) -> int:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("a bug nobody foresaw")
        return store.append_events(events)

    batcher = Batcher(buggy_at_first, spool, (StoreUnavailable,), replay_every=0.05)

    async def scenario() -> None:
        await batcher.start()
        try:
            await wait_until(lambda: batcher.stats.replay_failures >= 1, "a failed replay counted")
            assert "replay_stuck" in assess(batcher, store_answers=True).body["reasons"]
            await wait_until(lambda: not spool.pending() and batcher.replay_error is None,
                             "the replayer went on and replayed the spool")
            assert batcher.stats.replay_failures == 2
            assert await batcher.record(event(10))
        finally:
            await batcher.stop()

    asyncio.run(scenario())
    assert store.count_events() == 11
