"""The live stream's fan-out in-process over a real SQLite store: bounded queues, heartbeats, resumes, release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mailbeacon.pipeline import Pipeline
from mailbeacon.store import Store, UserRow, open_store
from mailbeacon.web.stream import Hub, frames
from tests.pipeline.test_pipeline import hit, sent

ADMIN = UserRow(id=1, email="admin@example.com", is_admin=True, seat="basic", api_key_hash="k",
                smtp_password_hash="p", created_at=0.0)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'mb.db'}") as opened:
        opened.migrate()
        yield opened


def judged_opens(store: Store, n: int) -> None:
    key = sent(store).keys[0]
    for i in range(n):
        hit(store, key, "open", 3600 + i)
    Pipeline(store).catch_up()


async def take(stream: AsyncIterator[str], n: int, timeout: float = 10.0) -> list[str]:
    return [await asyncio.wait_for(anext(stream), timeout) for _ in range(n)]


def kinds(chunks: list[str]) -> list[str]:
    return [c.split("event: ")[1].split("\n")[0] if "event: " in c else c.split("\n")[0] for c in chunks]


def test_a_stream_too_slow_for_the_live_items_is_ended_with_a_reconnect_event(store: Store) -> None:
    async def scenario() -> list[str]:
        hub = Hub(store, asyncio.Event(), poll=0.01, queue_limit=3)
        subscriber = await hub.subscribe(ADMIN)
        stream = frames(hub, store, subscriber, None)
        first = await take(stream, 1)
        await asyncio.to_thread(judged_opens, store, 10)  # nobody reads meanwhile: the queue fills
        while hub.subscribers:
            await asyncio.sleep(0.01)
        rest = [chunk async for chunk in stream]
        return first + rest

    chunks = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert kinds(chunks) == ["retry: 3000", "activity", "activity", "activity", "reconnect"]
    assert '"reason":"too slow' in chunks[-1]


def test_a_quiet_stream_sends_heartbeat_comments(store: Store) -> None:
    async def scenario() -> list[str]:
        hub = Hub(store, asyncio.Event(), poll=0.01)
        stream = frames(hub, store, await hub.subscribe(ADMIN), None, heartbeat=0.05)
        try:
            return await take(stream, 3)
        finally:
            await stream.aclose()

    assert asyncio.run(scenario())[1:] == [": keep-alive\n\n", ": keep-alive\n\n"]


def test_a_resume_sends_at_most_the_backlog_then_says_what_it_skipped(store: Store) -> None:
    judged_opens(store, 5)

    async def scenario() -> list[str]:
        hub = Hub(store, asyncio.Event(), poll=0.01)
        stream = frames(hub, store, await hub.subscribe(ADMIN), 0, heartbeat=0.05, max_backlog=2)
        try:
            return await take(stream, 5)
        finally:
            await stream.aclose()

    chunks = asyncio.run(scenario())
    assert kinds(chunks) == ["retry: 3000", "activity", "activity", "missed", ": keep-alive"]
    assert chunks[1].startswith("id: 1\n") and chunks[3].startswith("id: 5\n")


def test_the_poller_stops_with_the_last_stream_and_a_stopping_server_ends_every_stream(store: Store) -> None:
    async def scenario() -> tuple[bool, list[str]]:
        stopping = asyncio.Event()
        hub = Hub(store, stopping, poll=0.01)
        one = await hub.subscribe(ADMIN)
        hub.unsubscribe(one)
        for _ in range(100):
            if not hub.polling:
                break
            await asyncio.sleep(0.02)
        left = hub.polling
        stream = frames(hub, store, await hub.subscribe(ADMIN), None)
        await take(stream, 1)
        stopping.set()
        return left, [chunk async for chunk in stream]

    left, rest = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert not left, "the poller runs on with nobody listening"
    assert kinds(rest) == ["reconnect"] and "shutting down" in rest[0]
