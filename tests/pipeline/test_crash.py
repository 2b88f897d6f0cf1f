"""kill -9 of a server while its pipeline derives: after a restart, the counters equal a recount from scratch."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mailbeacon.outbound import read_captured
from mailbeacon.store import Store, open_store
from tests.relay.test_relay import html_message
from tests.support.servers import Server, running_server, start_server
from tests.support.smtp import add_user, relay_client

READERS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1", "198.51.100.{n}"),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.10730; Pro)", "192.0.2.{n}"),
    ("Mozilla/5.0", "17.58.{n}.9"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
     "40.107.{n}.1"),
    ("python-requests/2.31.0", "203.0.113.{n}"),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.{n}"),
]


def snapshot(store: Store, message_id: int) -> tuple[object, object]:
    events = [(e.id, e.cls, e.reasons, e.client, e.first) for e in store.events_after(0, 100_000, None)]
    return store.message_report(message_id), events


def wait_until_derived(data: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        while time.monotonic() < deadline:
            if store.reader_position("classify") == store.last_event_id() > 0:
                return
            time.sleep(0.1)
    raise AssertionError("the pipeline did not catch up")


def load(server: Server, urls: list[str], count: int, rng: random.Random) -> None:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        for _ in range(count):
            ua, ip = rng.choice(READERS)
            headers = {"User-Agent": ua, "X-Forwarded-For": ip.format(n=rng.randrange(1, 4))}
            url = rng.choice(urls)
            path = url.split("/", 3)[3]
            assert client.get(f"{server.url}/{path}", headers=headers).status_code in (200, 302)


def test_counters_after_a_crash_equal_a_recount(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(7)
    user = add_user(data, "crash@example.com", "--seat", "sales")
    server = start_server(data)
    try:
        assert server.smtp is not None
        with relay_client(server.smtp, user) as client:
            client.sendmail(user.email, ["a@example.org", "b@example.org", "c@example.org"],
                            html_message("crash test", sender=user.email))
        deadline = time.monotonic() + 20
        while len(copies := read_captured(data / "captured")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        urls = [u for copy in copies for u in copy.pixel_urls + copy.click_urls]
        assert len(urls) == 6
        load(server, urls, 600, rng)
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere in the pipeline's work
    finally:
        server.kill()
    with running_server(data) as again:
        load(again, urls, 300, rng)
        wait_until_derived(data)
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        (message_id,) = {row.message_id for row in store.events_after(0, 10, None)}
        incremental = snapshot(store, message_id)
    done = subprocess.run([sys.executable, "-m", "mailbeacon", "reclassify", "--data", str(data)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        recount = snapshot(store, message_id)
        assert f"reclassified {store.last_event_id()} events" in done.stdout
    assert recount == incremental
    report = incremental[0]
    assert report is not None and report.activity.raw_opens + report.activity.raw_clicks == 900  # type: ignore[attr-defined]
    classes = {cls for _, cls, _, _, _ in incremental[1]}  # type: ignore[union-attr]
    assert {"human", "machine", "proxied"} <= classes
