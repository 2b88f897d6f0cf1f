"""An answer is a promise, through a real `mailbeacon serve`: a full disk, a damaged spool, a frozen PostgreSQL.

# issue #12, items 1-3. Each test checks afterwards, by counting rows in the store,
# that every event a client got its answer for is there exactly once.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import Counter
from pathlib import Path

import httpx

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.ingest import Spool
from mailbeacon.tokens import Keyring
from mailbeacon.web.tracking import GIF
from tests.support.disks import fill_disk, small_disk
from tests.support.pg_cluster import private_cluster
from tests.support.servers import running_server, start_server
from tests.web.test_durability import (
    DEPTH,
    LOST,
    SPOOLED,
    all_events,
    assert_clicks_stored_once,
    fire_clicks,
    get_all,
    make_clicks,
    metrics,
    spool_drained,
    sqlite_store_url,
    wait_for,
)

IN_MEMORY = "mailbeacon_events_in_memory"
SHED = 'mailbeacon_requests_shed_total{route="click"}'
SPOOL_FAILURES = "mailbeacon_spool_write_failures_total"
QUARANTINED = "mailbeacon_spool_quarantined_total"
COMMIT_TIMEOUTS = "mailbeacon_commit_timeouts_total"


def open_paths(keyring: Keyring, deliveries: list[bytes]) -> list[str]:
    return [f"/o/{keyring.sign_open(d)}.gif" for d in deliveries]


def healthz(url: str) -> httpx.Response:
    return httpx.get(f"{url}/healthz", timeout=10)


# --- item 1: the disk is full --------------------------------------------------------------------------


def test_with_the_disk_full_answered_events_wait_in_memory_and_land_once_it_is_freed(tmp_path: Path) -> None:
    with small_disk(tmp_path / "data", "4m") as data_dir:
        server = start_server(data_dir, "--memory-buffer", "400", "--public-metrics")
        try:
            keyring = Keyring.load_or_create(data_dir)
            filler = fill_disk(data_dir)  # the database, the spool and the quarantine all live here

            opens = [secrets.token_bytes(12) for _ in range(300)]
            pixels = get_all(server, open_paths(keyring, opens))
            assert [(r.status_code, r.content) for r in pixels] == [(200, GIF)] * len(opens), "a pixel always draws"
            held = healthz(server.url)
            assert held.status_code == 503, "events only in memory: a load balancer should send readers elsewhere"
            assert held.json()["status"] == "degraded" and held.json()["events_in_memory"] == 300
            assert {"store_failing", "spool_unwritable", "events_in_memory"} <= set(held.json()["reasons"])

            clicks = make_clicks(300, "full")
            responses = get_all(server, [f"/c/{keyring.sign_click(c.delivery, c.link, c.target)}" for c in clicks])
            redirected = [c for c, r in zip(clicks, responses) if r.status_code == 302 and r.headers["location"] == c.target]
            shed = [r for r in responses if r.status_code == 503 and r.headers.get("retry-after")]
            assert len(redirected) == 100, "a click redirects while the memory buffer has room (400 - 300 opens)"
            assert len(shed) == 200, "then, only then, clicks are shed with 503 and Retry-After"
            late_opens = [secrets.token_bytes(12) for _ in range(50)]
            assert {r.status_code for r in get_all(server, open_paths(keyring, late_opens))} == {200}

            seen = metrics(server)
            assert seen[IN_MEMORY] == 400 and seen[SHED] == 200
            assert seen[LOST] == 250, "every event not kept is counted: 200 shed clicks, 50 opens"
            assert seen[SPOOL_FAILURES] >= 1
            assert "losing_events" in healthz(server.url).json()["reasons"]

            filler.unlink()
            wait_for(lambda: metrics(server)[IN_MEMORY] == 0 and spool_drained(server), 20, "held events stored")
            wait_for(lambda: healthz(server.url).json()["reasons"] == [], 10, "healthy again")
            healed = healthz(server.url)
            assert (healed.status_code, healed.json()["status"]) == (200, "ok")
            events = all_events(sqlite_store_url(data_dir))
        finally:
            server.stop()

    stored_opens = Counter(e.delivery_key for e in events if e.type == "open")
    assert stored_opens == Counter(opens), "every pixel answered while memory had room is stored exactly once"
    assert_clicks_stored_once([e for e in events if e.type == "click"], redirected)
    assert len(events) == 400
    print(f"\ndisk full: {len(opens) + len(late_opens)} pixels drawn, {len(redirected)} clicks redirected, "
          f"{len(shed)} shed with 503; {len(events)} stored, {seen[LOST]:.0f} lost (counted)")


# --- item 2: a damaged spool at start ------------------------------------------------------------------


def _event(n: int) -> RawEvent:
    return RawEvent(secrets.token_bytes(16), EventKind.OPEN, n.to_bytes(12, "big"), None, None, time.time(),
                    "198.51.100.7", "Mozilla/5.0", "GET")


def _legacy(e: RawEvent) -> bytes:
    """A record as versions before the checksum wrote it."""
    fields = {"uid": base64.b64encode(e.uid).decode(), "kind": e.kind.value,
              "delivery": base64.b64encode(e.delivery).decode(), "link": None, "url": None, "at": e.occurred_at,
              "ip": e.ip, "ua": e.user_agent, "method": e.method}
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def test_a_server_starting_on_a_damaged_spool_stores_every_sound_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "spool.jsonl"
    # An upgrade with events in its spool: an older version's lines, one torn by ENOSPC and glued to the next...
    path.write_bytes(b"".join(_legacy(_event(n)) for n in range(1, 11)) + _legacy(_event(11))[:60]
                     + b"".join(_legacy(_event(n)) for n in range(12, 16)))
    spool = Spool(path)
    for n in range(16, 31):  # ... then this version's records, one of them (20) corrupted on disk ...
        spool.append([_event(n)])
    lines = path.read_bytes().splitlines(keepends=True)
    twenty = 14 + 20 - 16  # after 10 plain lines, the glued one and 3 more
    lines[twenty] = lines[twenty].replace(b"Mozilla", b"M0zilla")
    torn = Spool(tmp_path / "scratch.jsonl")  # ... and a last record torn by a crash
    torn.append([_event(31)])
    path.write_bytes(b"".join(lines) + torn.path.read_bytes()[:50])
    expected = Counter(n for n in range(1, 31) if n not in (11, 20))

    with running_server(data_dir, "--public-metrics") as server:
        wait_for(lambda: spool_drained(server), 15, "the damaged spool replayed")
        seen = metrics(server)
        health = healthz(server.url)
        events = all_events(sqlite_store_url(data_dir))

    stored = Counter(int.from_bytes(e.delivery_key, "big") for e in events)
    assert stored == expected, "every sound record stored exactly once, and nothing else"
    assert seen[QUARANTINED] == 3, "the glued, the corrupted and the torn record are quarantined"
    assert len((data_dir / "spool.jsonl.quarantine").read_bytes().splitlines()) == 3
    assert not path.exists() and not (data_dir / "spool.jsonl.replaying").exists()
    assert (health.status_code, health.json()["reasons"]) == (200, [])


# --- item 3: PostgreSQL frozen -------------------------------------------------------------------------


def test_clicks_and_opens_are_answered_while_postgres_is_frozen_and_land_exactly_once(tmp_path: Path) -> None:
    with private_cluster() as cluster, running_server(tmp_path / "data", "--db", cluster.url, "--public-metrics") as server:
        keyring = Keyring.load_or_create(server.data_dir)
        before = make_clicks(5, "before")
        fire_clicks(server, keyring, before)

        opens = [secrets.token_bytes(12) for _ in range(150)]
        clicks = make_clicks(150, "frozen")
        cluster.freeze()
        try:
            started = time.monotonic()
            # Each request must be answered within the client's 10 s timeout (get_all), whatever the database does.
            pixels = get_all(server, open_paths(keyring, opens))
            fire_clicks(server, keyring, clicks)
            answered_in = time.monotonic() - started
            health = healthz(server.url)  # bounded too: its ping does not wait for a frozen database
            seen = metrics(server)
        finally:
            cluster.thaw()
        assert [(r.status_code, r.content) for r in pixels] == [(200, GIF)] * len(opens)
        assert health.status_code == 200, "durable in the spool: this server still keeps its promise"
        assert health.json()["store"] is False and "store_failing" in health.json()["reasons"]
        assert seen[COMMIT_TIMEOUTS] >= 1 and seen[SPOOLED] >= len(opens) + len(clicks)

        wait_for(lambda: spool_drained(server), 30, "spool drained once PostgreSQL runs again")
        wait_for(lambda: healthz(server.url).json()["reasons"] == [], 15, "healthy again")
        assert metrics(server)[LOST] == 0 and metrics(server)[DEPTH] == 0
        events = all_events(cluster.url)

    assert_clicks_stored_once([e for e in events if e.type == "click"], before + clicks)
    assert Counter(e.delivery_key for e in events if e.type == "open") == Counter(opens)
    assert len(events) == len(before) + len(opens) + len(clicks)
    print(f"\nPostgreSQL frozen: {len(opens)} pixels and {len(clicks)} clicks answered in {answered_in:.1f} s, "
          f"{len(events) - len(before)} stored once each, 0 lost")
