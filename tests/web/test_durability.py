"""An answered pixel or redirect is durable: it survives kill -9, a stopped PostgreSQL and a locked SQLite.

Every test drives a real `mailbeacon serve` on 127.0.0.1 with a real HTTP
client, and checks afterwards, in the store, that each request that got its
answer left exactly one event there.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import ssl
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest

from mailbeacon.store import EventRow, open_store
from mailbeacon.tokens import Keyring
from mailbeacon.web.tracking import GIF
from tests.support.pg_cluster import private_cluster
from tests.support.servers import Server, running_server, start_server

SPOOLED = 'mailbeacon_events_written_total{to="spool"}'
LOST = "mailbeacon_events_lost_total"
DEPTH = "mailbeacon_spool_depth"


# --- helpers -----------------------------------------------------------------------------------------


def sqlite_store_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'mailbeacon.db'}"


def all_events(store_url: str) -> list[EventRow]:
    with open_store(store_url) as store:
        return store.events_after(0, 1_000_000, None)


def metrics(server: Server) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until `condition()` holds; fail (not hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still not the case after {timeout:.0f} s")
        time.sleep(0.1)


def spool_drained(server: Server) -> bool:
    return metrics(server)[DEPTH] == 0


@dataclass(frozen=True)
class Click:
    delivery: bytes
    link: int
    target: str


def make_clicks(count: int, label: str) -> list[Click]:
    return [
        Click(secrets.token_bytes(12), i % 7, f"https://example.com/{label}/{i}?q=a%2Fb&n={i}#top")
        for i in range(count)
    ]


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for all clients (unused on http://): building one per client costs ~30 ms of CPU."""
    return ssl.create_default_context()


def client(base_url: str, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=_tls())


async def _get_all(base_url: str, paths: Sequence[str], concurrency: int) -> list[httpx.Response]:
    """GET every path, `concurrency` clients at a time; responses in the order of `paths`."""
    responses: list[httpx.Response | None] = [None] * len(paths)
    queue = iter(range(len(paths)))

    async def reader() -> None:
        # One client and connection per reader: httpx's shared pool gets slow with many
        # concurrent requests, and real readers do not share connections either.
        async with client(base_url, 10) as http:
            for i in queue:  # one shared iterator: each path goes out once
                responses[i] = await http.get(paths[i], headers={"User-Agent": "durability-test"})

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(reader())
    return [r for r in responses if r is not None]


def get_all(server: Server, paths: Sequence[str], concurrency: int = 16) -> list[httpx.Response]:
    return asyncio.run(_get_all(server.url, paths, concurrency))


def fire_clicks(server: Server, keyring: Keyring, clicks: Sequence[Click]) -> None:
    """Click each link once; every one must redirect to its own target."""
    responses = get_all(server, [f"/c/{keyring.sign_click(c.delivery, c.link, c.target)}" for c in clicks])
    wrong = [
        (c.target, r.status_code, r.headers.get("location"))
        for c, r in zip(clicks, responses, strict=True)
        if r.status_code != 302 or r.headers.get("location") != c.target
    ]
    assert not wrong, f"{len(wrong)} of {len(clicks)} clicks did not redirect to their target, e.g. {wrong[:3]}"


def assert_clicks_stored_once(events: Sequence[EventRow], clicks: Sequence[Click]) -> None:
    by_delivery: dict[bytes, list[EventRow]] = {}
    for event in events:
        by_delivery.setdefault(event.delivery_key, []).append(event)
    missing = [c.target for c in clicks if c.delivery not in by_delivery]
    doubled = [c.target for c in clicks if len(by_delivery.get(c.delivery, [])) > 1]
    assert not missing, f"{len(missing)} of {len(clicks)} redirected clicks are not in the store, e.g. {missing[:3]}"
    assert not doubled, f"{len(doubled)} clicks are stored more than once, e.g. {doubled[:3]}"
    for click in clicks:
        (event,) = by_delivery[click.delivery]
        assert (event.type, event.link_idx, event.url) == ("click", click.link, click.target)


# --- kill -9 ------------------------------------------------------------------------------------------


@dataclass
class KillRun:
    sent: list[bytes]
    answered: set[bytes]
    unexpected: list[tuple[int, bytes]]
    cut_off: int
    """Requests that got no answer because the server was killed."""


async def _opens_until_killed(
    server: Server,
    keyring: Keyring,
    concurrency: int = 32,
    budget: int = 3000,
    kill_after_s: float = 1.0,
    deadline_s: float = 10.0,
) -> KillRun:
    run = KillRun(sent=[], answered=set(), unexpected=[], cut_off=0)
    deliveries = iter([secrets.token_bytes(12) for _ in range(budget)])
    killed = False
    started = time.monotonic()

    async def reader() -> None:
        async with client(server.url, 5) as http:
            for delivery in deliveries:  # one shared iterator: each delivery is opened once
                if time.monotonic() - started > deadline_s:
                    return
                token = keyring.sign_open(delivery)
                run.sent.append(delivery)
                try:
                    response = await http.get(f"/o/{token}.gif")
                except httpx.TransportError:
                    if killed:
                        run.cut_off += 1
                        return
                    raise
                if response.status_code == 200 and response.content == GIF:
                    run.answered.add(delivery)
                else:
                    run.unexpected.append((response.status_code, response.content[:80]))

    async def killer() -> None:
        nonlocal killed
        # Kill after about a second of load (and a first round of answers), or earlier
        # if the budget goes fast, so that the readers are still sending when it dies.
        while len(run.sent) < budget * 2 // 3 and time.monotonic() - started < deadline_s / 2:
            if time.monotonic() - started >= kill_after_s and len(run.answered) >= concurrency:
                break
            await asyncio.sleep(0.01)
        killed = True
        server.kill()

    async with asyncio.TaskGroup() as group:
        group.create_task(killer())
        for _ in range(concurrency):
            group.create_task(reader())
    return run


def test_every_answered_open_survives_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, "--public-metrics")
    try:
        keyring = Keyring.load_or_create(data_dir)
        run = asyncio.run(_opens_until_killed(server, keyring))
    finally:
        server.kill()
    assert not run.unexpected, f"answers other than the GIF: {run.unexpected[:3]}"
    assert run.answered, "no open was answered before the kill"
    assert run.cut_off > 0, "the kill did not interrupt the load"

    with running_server(data_dir, "--public-metrics") as restarted:
        wait_for(lambda: spool_drained(restarted), 15, "spool drained after the restart")
        events = all_events(sqlite_store_url(data_dir))

    per_delivery = Counter(event.delivery_key for event in events)
    lost = [d.hex() for d in run.answered if per_delivery[d] == 0]
    doubled = {d.hex(): n for d, n in per_delivery.items() if n > 1}
    strangers = set(per_delivery) - set(run.sent)
    assert not lost, f"{len(lost)} of {len(run.answered)} answered opens are not in the store, e.g. {lost[:3]}"
    assert not doubled, f"{len(doubled)} deliveries have more than one event: {list(doubled.items())[:3]}"
    assert not strangers, "events for deliveries that were never requested"
    assert {event.type for event in events} == {"open"}


# --- PostgreSQL stopped ---------------------------------------------------------------------------------


def test_clicks_redirect_while_postgres_is_stopped_and_land_exactly_once(tmp_path: Path) -> None:
    # A private cluster: stopping the machine's own would fail every other test running meanwhile.
    with private_cluster() as cluster, running_server(tmp_path / "data", "--db", cluster.url, "--public-metrics") as server:
        keyring = Keyring.load_or_create(server.data_dir)
        before = make_clicks(5, "before")
        fire_clicks(server, keyring, before)
        assert_clicks_stored_once(all_events(cluster.url), before)

        during = make_clicks(200, "during")
        cluster.stop()
        try:
            fire_clicks(server, keyring, during)
            seen = metrics(server)
            health = httpx.get(f"{server.url}/healthz", timeout=10)
        finally:
            cluster.start()
        assert seen[SPOOLED] >= len(during), "every click made while PostgreSQL was down went to the spool"
        assert seen[DEPTH] == len(during)
        assert health.status_code == 200
        assert health.json()["store"] is False and health.json()["status"] == "degraded"

        wait_for(lambda: spool_drained(server), 15, "spool drained once PostgreSQL is back")
        assert metrics(server)[LOST] == 0
        events = all_events(cluster.url)
        assert_clicks_stored_once(events, before + during)
        assert len(events) == len(before) + len(during)
        assert httpx.get(f"{server.url}/healthz", timeout=10).json()["store"] is True


# --- SQLite locked ----------------------------------------------------------------------------------------


def test_pixels_and_clicks_are_answered_while_sqlite_is_locked_and_stored_once_after(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--public-metrics") as server:
        keyring = Keyring.load_or_create(server.data_dir)
        opens = [secrets.token_bytes(12) for _ in range(60)]
        clicks = make_clicks(40, "locked")
        locker = sqlite3.connect(server.data_dir / "mailbeacon.db", isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
            pixels = get_all(server, [f"/o/{keyring.sign_open(d)}.gif" for d in opens])
            assert [(r.status_code, r.content) for r in pixels] == [(200, GIF)] * len(opens)
            fire_clicks(server, keyring, clicks)
            seen = metrics(server)
            assert seen[SPOOLED] >= len(opens) + len(clicks)
            assert seen[DEPTH] == len(opens) + len(clicks)
            assert all_events(sqlite_store_url(server.data_dir)) == [], "nothing could be stored while locked"
            locker.execute("ROLLBACK")
        finally:
            locker.close()

        wait_for(lambda: spool_drained(server), 15, "spool drained once SQLite is unlocked")
        assert metrics(server)[LOST] == 0
        events = all_events(sqlite_store_url(server.data_dir))

    assert_clicks_stored_once([e for e in events if e.type == "click"], clicks)
    open_counts = Counter(e.delivery_key for e in events if e.type == "open")
    assert open_counts == Counter(opens), "every answered pixel is stored exactly once"
    assert len(events) == len(opens) + len(clicks)
