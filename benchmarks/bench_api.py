"""Latency of the JSON API's read endpoints on a SQLite store of 1,000,000 events, next to /healthz.

Run: .venv/bin/python benchmarks/bench_api.py [--events 1000000] [--requests 300] [--seed 7] [--fresh]

Checks "with 1 million events in SQLite, the feed and message-detail endpoints answer in
p95 < 50 ms". The store is built once and cached under benchmarks/.cache/ (`--fresh` builds it
again): 5 users, ~20,000 direct messages (1-4 recipients) and 20 campaigns (500-2,500
recipients) over 25 days to 8,000 people (some addresses spelt in capitals); per delivery an
Apple Mail Privacy Protection prefetch (30 %), a security gateway fetching the pixel and
every link seconds after delivery (20 %), and reading sessions from the recipient's own
client (an open, and a click 20-60 s later a quarter of the time) spread over hours and days,
scaled to reach the number of events; one campaign of 2,000 recipients gets ~20,000 events
(the "message with many recipients and events"). Messages, deliveries and links are written
in one bulk transaction; the events go through `Store.append_events` (the hot path's writer)
in time order; then the real classify reader (`Pipeline.catch_up`) judges them and writes the
feed and the counters, so every row is what `mailbeacon serve` would have written.

A real `mailbeacon serve` is started on the store (no relay), and each endpoint is asked
`--requests` times in a row over one keep-alive connection, as the heaviest user (an admin
for the admin rows): the feed's first page, deep pages (random `before` cursors in the
oldest tenth of the user's events), the feed of the big message, its detail (2,000
recipients and the newest 50 events), the messages list (by time and by open rate), the
contacts list and a frequent contact's timeline. `/healthz` (one trivial query through the
same thread pool) is the baseline; the ratio of each p50 to it is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from mailbeacon.accounts import hash_api_key, new_api_key  # noqa: E402
from mailbeacon.events import EventKind, RawEvent  # noqa: E402
from mailbeacon.pipeline import Pipeline  # noqa: E402
from mailbeacon.store import open_store  # noqa: E402
from mailbeacon.tokens import Keyring  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
TARGET_MS = 50.0
DAYS = 25
USERS = ("ceo@corp.example", "sales1@corp.example", "sales2@corp.example", "support@corp.example")
USER_SHARE = (0.4, 0.3, 0.2, 0.1)
DIRECT_MESSAGES = 20_000
CAMPAIGNS = 20
BIG_RECIPIENTS = 2_000
BIG_EVENTS = 20_000
PEOPLE = 8_000
LINKS = ["https://corp.example/pricing", "https://corp.example/demo", "https://corp.example/blog/launch"]

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.10730; Pro)"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
CLIENTS = [(THUNDERBIRD, 0.2), (OUTLOOK, 0.35), (IPHONE, 0.25), (GMAIL, 0.2)]


@dataclass
class Plan:
    """What the benchmark asks for, saved next to the cached store."""

    keys: dict[str, str]
    heavy: str
    """The user with the most messages."""
    big_message: int
    contact: str
    """A frequent contact of the heavy user."""
    events: int


# --- the store ----------------------------------------------------------------------------------------


def build(directory: Path, events: int, seed: int) -> Plan:
    rng = random.Random(seed)
    directory.mkdir(parents=True)
    Keyring.load_or_create(directory)
    store = open_store(f"sqlite:///{directory / 'mailbeacon.db'}")
    store.migrate()
    store.set_setting("ip_truncate_after_days", None)  # no privacy job rewriting IPs while we measure
    keys = {"admin": new_api_key()}
    user_ids = [store.add_user("admin@corp.example", True, "sales", hash_api_key(keys["admin"]), "x")]
    for email in USERS:
        keys[email] = new_api_key()
        user_ids.append(store.add_user(email, False, "sales", hash_api_key(keys[email]), "x"))
    store.close()

    now = time.time()
    start = now - DAYS * 86400
    people = [f"person{i}@{'example' if i % 7 else 'mail'}{i % 200}.org" for i in range(PEOPLE)]
    popular = people[: PEOPLE // 20]  # a few people get much of the direct mail
    plans: list[tuple[int, float, list[str], bool]] = []  # (user id, sent at, recipients, campaign)
    for _ in range(DIRECT_MESSAGES):
        user = rng.choices(user_ids[1:], USER_SHARE)[0]
        pool = popular if rng.random() < 0.4 else people
        recipients = rng.sample(pool, rng.choice((1, 1, 1, 2, 3, 4)))
        recipients = [r.capitalize() if rng.random() < 0.05 else r for r in recipients]
        plans.append((user, rng.uniform(start, now - 3600), recipients, False))
    for n in range(CAMPAIGNS):
        size = BIG_RECIPIENTS if n == 0 else rng.randint(500, 2500)
        plans.append((user_ids[1], start + (n + 0.5) * (now - start - 86400) / CAMPAIGNS, rng.sample(people, size), True))
    plans.sort(key=lambda p: p[1])

    db = sqlite3.connect(directory / "mailbeacon.db", isolation_level=None)
    db.execute("BEGIN")
    deliveries: list[tuple[bytes, int, float, bool]] = []  # key, message id, sent at, in the big campaign
    big_message = 0
    for user, sent_at, recipients, campaign in plans:
        message_id = db.execute(
            "INSERT INTO messages (user_id, subject, sender, created_at, source, submitted_from) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user, f"{'Campaign' if campaign else 'Re: proposal'} {len(deliveries)}", USERS[user_ids.index(user) - 1],
             sent_at, "campaign" if campaign else "relay", "203.0.113.1"),
        ).lastrowid
        assert message_id is not None
        is_big = campaign and len(recipients) == BIG_RECIPIENTS and not big_message
        big_message = message_id if is_big else big_message
        for recipient in recipients:
            key = rng.randbytes(12)
            db.execute(
                "INSERT INTO deliveries (delivery_key, message_id, recipient, created_at, opens_tracked, "
                "clicks_tracked, shared, status, accepted_at, upstream_reply) VALUES (?, ?, ?, ?, 1, 1, 0, 'sent', ?, "
                "'250 OK')",
                (key, message_id, recipient, sent_at, sent_at + 1),
            )
            deliveries.append((key, message_id, sent_at + 1, is_big))
        db.executemany("INSERT INTO links (message_id, idx, url) VALUES (?, ?, ?)",
                       [(message_id, i, url) for i, url in enumerate(LINKS)])
    db.execute("COMMIT")
    db.close()

    log = trace(rng, deliveries, events, now)
    store = open_store(f"sqlite:///{directory / 'mailbeacon.db'}")
    began = time.perf_counter()
    for at in range(0, len(log), 10_000):
        store.append_events(log[at:at + 10_000])
    print(f"appended {len(log):,} events in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    judged = Pipeline(store, batch=2000).catch_up()
    took = time.perf_counter() - began
    print(f"pipeline judged {judged:,} events in {took:.0f} s ({judged / took:,.0f}/s)", flush=True)
    store.close()

    heavy = USERS[0]
    db = sqlite3.connect(directory / "mailbeacon.db")
    (contact,) = db.execute(
        "SELECT lower(d.recipient) FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.user_id = ? "
        "GROUP BY lower(d.recipient) ORDER BY count(*) DESC LIMIT 1", (user_ids[1],)
    ).fetchone()
    db.execute("ANALYZE")  # what a long-running deployment's `PRAGMA optimize` would have gathered
    db.close()
    return Plan(keys, heavy, big_message, contact, len(log))


def trace(rng: random.Random, deliveries: list[tuple[bytes, int, float, bool]], target: int, now: float) -> list[RawEvent]:
    """The events of every delivery, in time order, cut to `target`."""
    machine_events = 0.3 + 0.2 * (1 + len(LINKS))
    mean_sessions = max(0.1, (target * 1.15 / len(deliveries) - machine_events) / 1.25)
    found: list[tuple[float, EventKind, bytes, int | None, str, str, str]] = []
    for key, _, delivered, big in deliveries:
        if rng.random() < 0.3:  # Apple Mail Privacy Protection prefetches the pixel
            found.append((delivered + rng.uniform(60, 900), EventKind.OPEN, key, None, _ip(rng, "17.58"),
                          "Mozilla/5.0", "GET"))
        if rng.random() < 0.2:  # a security gateway on delivery: the pixel and every link
            at = delivered + rng.uniform(1, 10)
            ip = _ip(rng, "40.94")
            found.append((at, EventKind.OPEN, key, None, ip, CHROME, "GET"))
            found += [(at + 0.3 * i, EventKind.CLICK, key, i, ip, CHROME, "GET") for i in range(len(LINKS))]
        ua = rng.choices([c for c, _ in CLIENTS], [w for _, w in CLIENTS])[0]
        home = _ip(rng, "198.51")
        sessions = rng.expovariate(1 / (BIG_EVENTS / BIG_RECIPIENTS if big else mean_sessions))
        at = delivered
        for _ in range(int(sessions)):
            at += rng.expovariate(1 / 14_400)
            found.append((at, EventKind.OPEN, key, None, home, ua, "GET"))
            if rng.random() < 0.25:
                found.append((at + rng.uniform(20, 60), EventKind.CLICK, key, rng.randrange(len(LINKS)), home, CHROME,
                              "GET"))
    found = sorted(e for e in found if e[0] < now)[:target]
    return [
        RawEvent(n.to_bytes(16, "big"), kind, key, link, None if link is None else LINKS[link], at, ip, ua, method)
        for n, (at, kind, key, link, ip, ua, method) in enumerate(found, 1)
    ]


def _ip(rng: random.Random, prefix: str) -> str:
    return f"{prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def cached(events: int, seed: int, fresh: bool) -> tuple[Path, Plan]:
    directory = CACHE / f"api-{events}-{seed}-v1"
    meta = directory / "plan.json"
    if fresh and directory.exists():
        shutil.rmtree(directory)
    if meta.exists():
        print(f"store: {directory} (cached; --fresh builds it again)", flush=True)
        return directory, Plan(**json.loads(meta.read_text()))
    if directory.exists():
        shutil.rmtree(directory)  # a build that did not finish
    print(f"building the store in {directory} ...", flush=True)
    plan = build(directory, events, seed)
    meta.write_text(json.dumps(plan.__dict__))
    return directory, plan


# --- measuring ----------------------------------------------------------------------------------------


def measure(client: httpx.Client, key: str, paths: list[str]) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    for path in paths[:20]:  # warm the connection and the page cache
        client.get(path, headers=headers).raise_for_status()
    times = []
    for path in paths:
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "bytes": len(response.content)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="build the store again instead of using the cache")
    args = parser.parse_args()
    directory, plan = cached(args.events, args.seed, args.fresh)
    rng = random.Random(args.seed)
    n = args.requests
    server = start_server(directory, "--smtp", "off", timeout=60)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            heavy = plan.keys[plan.heavy]
            mine = client.get("/api/v1/feed", params={"limit": 1}, headers={"Authorization": f"Bearer {heavy}"})
            newest = mine.json()["items"][0]["id"]
            deep = [rng.randint(1, max(2, newest // 10)) for _ in range(n)]
            cases: list[tuple[str, str, list[str], bool]] = [
                ("/healthz (baseline)", heavy, ["/healthz"] * n, False),
                ("feed, first page", heavy, ["/api/v1/feed"] * n, True),
                ("feed, deep cursor", heavy, [f"/api/v1/feed?before={b}" for b in deep], True),
                ("feed, admin, first page", plan.keys["admin"], ["/api/v1/feed"] * n, True),
                ("feed?message_id= (big message)", heavy, [f"/api/v1/feed?message_id={plan.big_message}"] * n, True),
                ("feed?human=true", heavy, ["/api/v1/feed?human=true"] * n, True),
                ("messages/{id} (2,000 recipients)", heavy, [f"/api/v1/messages/{plan.big_message}"] * n, True),
                ("messages list", heavy, ["/api/v1/messages"] * n, False),
                ("messages list, by open rate", heavy, ["/api/v1/messages?sort=open_rate"] * n, False),
                ("contacts/{email} (timeline)", heavy, [f"/api/v1/contacts/{plan.contact}"] * n, False),
                ("contacts list", heavy, ["/api/v1/contacts"] * max(20, n // 10), False),
            ]
            print(f"\n{plan.events:,} events; {n} requests per row, one keep-alive connection, sequential")
            print(f"{'endpoint':<36}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'bytes':>9}{'p50/base':>10}  target")
            base = math.nan
            failed = False
            for name, key, paths, targeted in cases:
                found = measure(client, key, paths)
                if math.isnan(base):
                    base = found["p50"]
                verdict = ""
                if targeted:
                    ok = found["p95"] < TARGET_MS
                    failed |= not ok
                    verdict = f"p95 < {TARGET_MS:.0f} ms: {'yes' if ok else 'NO'}"
                print(f"{name:<36}{found['p50']:>9.2f}{found['p95']:>9.2f}{found['p99']:>9.2f}"
                      f"{found['bytes']:>9,.0f}{found['p50'] / base:>10.1f}  {verdict}", flush=True)
    finally:
        server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
