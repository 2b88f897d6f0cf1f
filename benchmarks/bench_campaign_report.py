"""How fast a big campaign's report answers: 100,000 deliveries and ~300,000 events in SQLite.

Run: .venv/bin/python benchmarks/bench_campaign_report.py [--contacts 100000] [--events 300000] [--fresh]
     [--db postgresql://...] [--requests 30]

The store is built once and cached under benchmarks/.cache/ (`--fresh` builds it again; with
`--db` it is built in that PostgreSQL database every time). The campaign's rows are written
directly (contacts, list, the campaign with its one message, links, one delivery and one
campaign_sends row per contact: 96 % sent, 2 % bounced, 1 % still queued, 1 % do-not-track;
500 members skipped as unsubscribed before the send); its events go through
`Store.append_events` in time order: Apple Mail Privacy Protection prefetches (30 % of copies),
a security gateway fetching the pixel and every link (20 %), and reading sessions from the
reader's client over three days, scaled to reach `--events`; then the real classify reader
(`Pipeline.catch_up`) judges them and writes the feed and the counters, and 300 contacts
unsubscribe through the campaign. Every row is what `mailbeacon serve` would have written.

Measured: each Store method the report, the list and the export use (best and median of
`--requests` calls, in process), then the same through a real `mailbeacon serve`: the report
JSON, the list, the dashboard page, and the whole per-recipient CSV (rows a second, and the
server's peak RSS before and after, to show the export streams).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from mailbeacon.accounts import hash_api_key, new_api_key  # noqa: E402
from mailbeacon.events import HONEYPOT_LINK, HONEYPOT_TARGET, EventKind, RawEvent  # noqa: E402
from mailbeacon.pipeline import Pipeline  # noqa: E402
from mailbeacon.store import Store, open_store  # noqa: E402
from mailbeacon.tokens import Keyring  # noqa: E402
from benchmarks.bench_api import CHROME, CLIENTS, _ip  # noqa: E402  (the same readers as the API benchmark)
from tests.support.servers import start_server  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
TARGET_MS = 1000.0
LINKS = ["https://shop.example/sale", "https://shop.example/new", "https://shop.example/blog", "https://shop.example/"]
SKIPPED = 500
UNSUBSCRIBES = 300


def build(store: Store, db: Any, contacts: int, events: int, seed: int) -> dict[str, Any]:
    """The users, the campaign and its events; `db` is a DB-API connection on the same database."""
    rng = random.Random(seed)
    store.migrate()
    store.set_setting("ip_truncate_after_days", None)  # no privacy job rewriting IPs while we measure
    keys = {"admin": new_api_key(), "owner": new_api_key()}
    store.add_user("admin@shop.example", True, "sales", hash_api_key(keys["admin"]), "x")
    owner = store.add_user("news@shop.example", False, "sales", hash_api_key(keys["owner"]), "x")
    start = time.time() - 4 * 86400
    p = "%s" if "psycopg" in type(db).__module__ else "?"
    cur = db.cursor()

    def insert(sql: str, rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(sql.replace("?", p), rows)

    members = contacts + SKIPPED
    insert("INSERT INTO contacts (id, email, fields, unsubscribed_at, unsubscribe_source, created_at, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)",
           [(i, f"reader{i}@mail{i % 97}.example", json.dumps({"first_name": f"Reader {i}"}),
             start - 86400 if i <= SKIPPED else None, "cli" if i <= SKIPPED else None, start, start)
            for i in range(1, members + 1)])
    insert("INSERT INTO contact_lists (id, name, created_at) VALUES (?, ?, ?)", [(1, "everyone", start)])
    insert("INSERT INTO list_members (list_id, contact_id, added_at) VALUES (?, ?, ?)",
           [(1, i, start) for i in range(1, members + 1)])
    insert("INSERT INTO messages (id, user_id, subject, sender, created_at, source) VALUES (?, ?, ?, ?, ?, ?)",
           [(1, owner, "Spring sale", "news@shop.example", start, "campaign")])
    insert("INSERT INTO campaigns (id, name, user_id, list_id, message_id, subject, from_address, html, text, base_url, "
           "rate, status, cursor, total, queued, skipped, created_at, started_at, queued_at, finished_at) VALUES "
           "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
           [(1, "spring-sale", owner, 1, 1, "Spring sale", "Shop <news@shop.example>", "<p>Hi</p>", None,
             "http://127.0.0.1:8080", None, "queued", members, members, contacts, SKIPPED, start, start, start + 600,
             None)])
    insert("INSERT INTO links (message_id, idx, url) VALUES (?, ?, ?)",
           [(1, i, url) for i, url in enumerate(LINKS)] + [(1, HONEYPOT_LINK, HONEYPOT_TARGET)])
    deliveries: list[tuple[bytes, float]] = []
    rows, sends = [], []
    for n in range(contacts):
        contact = SKIPPED + 1 + n
        key = rng.randbytes(12)
        sent_at = start + n * 0.006
        roll = rng.random()
        status = "bounced" if roll < 0.02 else "queued" if roll < 0.03 else "sent"
        untracked = 0.03 <= roll < 0.04
        rows.append((n + 1, key, 1, f"reader{contact}@mail{contact % 97}.example", sent_at, not untracked,
                     not untracked, "recipient is on the do-not-track list" if untracked else None, False, status,
                     sent_at + 1 if status == "sent" else None,
                     "550 5.1.1 no such user" if status == "bounced" else "250 OK" if status == "sent" else None))
        sends.append((1, contact, n + 1, None))
        if status == "sent" and not untracked:
            deliveries.append((key, sent_at + 1))
    insert("INSERT INTO deliveries (id, delivery_key, message_id, recipient, created_at, opens_tracked, clicks_tracked, "
           "untracked_reason, shared, status, accepted_at, upstream_reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
           rows)
    insert("INSERT INTO campaign_sends (campaign_id, contact_id, delivery_id, skipped) VALUES (?, ?, ?, ?)",
           sends + [(1, i, None, "unsubscribed") for i in range(1, SKIPPED + 1)])
    if p == "%s":
        for table in ("contacts", "contact_lists", "messages", "campaigns", "deliveries"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    db.commit()

    log = trace(rng, deliveries, events)
    began = time.perf_counter()
    for at in range(0, len(log), 10_000):
        store.append_events(log[at:at + 10_000])
    print(f"appended {len(log):,} events in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    judged = Pipeline(store, batch=2000).catch_up()
    took = time.perf_counter() - began
    print(f"pipeline judged {judged:,} events in {took:.0f} s ({judged / took:,.0f}/s)", flush=True)
    for n in rng.sample(range(contacts), UNSUBSCRIBES):
        store.unsubscribe(SKIPPED + 1 + n, rng.choice(("link", "one-click")), 1)
    return {"keys": keys, "campaign": 1, "events": len(log), "contacts": contacts}


def trace(rng: random.Random, deliveries: list[tuple[bytes, float]], target: int) -> list[RawEvent]:
    """The copies' events in time order, cut to `target`."""
    machine = 0.3 + 0.2 * (2 + len(LINKS))
    sessions_mean = max(0.1, (target * 1.1 / len(deliveries) - machine) / 1.25)
    now = time.time()
    found: list[tuple[float, EventKind, bytes, int | None, str, str]] = []
    for key, delivered in deliveries:
        if rng.random() < 0.3:  # Apple Mail Privacy Protection prefetches the pixel
            found.append((delivered + rng.uniform(60, 900), EventKind.OPEN, key, None, _ip(rng, "17.58"), "Mozilla/5.0"))
        if rng.random() < 0.2:  # a security gateway: the pixel and every link, the honeypot too
            at, ip = delivered + rng.uniform(1, 10), _ip(rng, "40.94")
            found.append((at, EventKind.OPEN, key, None, ip, CHROME))
            found += [(at + 0.3 * i, EventKind.CLICK, key, i, ip, CHROME) for i in range(len(LINKS))]
            found.append((at + 2, EventKind.CLICK, key, HONEYPOT_LINK, ip, CHROME))
        ua = rng.choices([c for c, _ in CLIENTS], [w for _, w in CLIENTS])[0]
        home, at = _ip(rng, "198.51"), delivered
        for _ in range(int(rng.expovariate(1 / sessions_mean))):
            at += rng.expovariate(1 / 14_400)
            found.append((at, EventKind.OPEN, key, None, home, ua))
            if rng.random() < 0.25:
                link = min(int(rng.expovariate(1.2)), len(LINKS) - 1)  # the first link is the most clicked
                found.append((at + rng.uniform(20, 60), EventKind.CLICK, key, link, home, CHROME))
    found = sorted(e for e in found if e[0] < now)[:target]
    return [
        RawEvent(n.to_bytes(16, "big"), kind, key, link,
                 None if link is None else HONEYPOT_TARGET if link == HONEYPOT_LINK else LINKS[link], at, ip, ua, "GET")
        for n, (at, kind, key, link, ip, ua) in enumerate(found, 1)
    ]


def timed(call: Any, n: int) -> tuple[float, float]:
    call()  # warm the page cache
    times = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return min(times), statistics.median(times)


def measure_store(store: Store, campaign: int, n: int) -> bool:
    report = store.campaign_report(campaign)
    assert report is not None
    s = report.summary
    print(f"\ncampaign: {s.queued:,} copies ({s.sent:,} sent, {s.bounced:,} bounced, {s.pending:,} pending), "
          f"{s.activity.raw_opens:,} raw / {s.activity.human_opens:,} human opens, {s.unsubscribes} unsubscribes, "
          f"{len(report.times)} timeline rows, {len(report.clients)} client rows")
    print(f"{'store method (in process)':<44}{'best ms':>9}{'median ms':>11}")
    ok = True
    for name, call in [
        ("campaign_report (hourly)", lambda: store.campaign_report(campaign)),
        ("campaign_report (daily)", lambda: store.campaign_report(campaign, 86400)),
        ("campaign_summary", lambda: store.campaign_summary(campaign)),
        ("campaign_summaries (list)", lambda: store.campaign_summaries(None)),
        ("campaign_visible", lambda: store.campaign_visible(campaign, None)),
        ("campaign_recipients, first 1,000", lambda: list(zip(range(1000), store.campaign_recipients(campaign)))),
    ]:
        best, median = timed(call, n)
        ok &= median < TARGET_MS
        print(f"{name:<44}{best:>9.1f}{median:>11.1f}", flush=True)
    began = time.perf_counter()
    count = sum(1 for _ in store.campaign_recipients(campaign))
    took = time.perf_counter() - began
    print(f"{'campaign_recipients, all':<44}{took * 1000:>9.0f} ms for {count:,} rows ({count / took:,.0f} rows/s)")
    return ok


def measure_server(directory: Path, db_url: str | None, plan: dict[str, Any], n: int) -> None:
    args = ["--smtp", "off"] + (["--db", db_url] if db_url else [])
    server = start_server(directory, *args, timeout=60)
    campaign = plan["campaign"]
    try:
        with httpx.Client(base_url=server.url, timeout=120,
                          headers={"Authorization": f"Bearer {plan['keys']['owner']}"}) as client:
            print(f"\n{'through a real server (owner API key)':<44}{'best ms':>9}{'median ms':>11}{'bytes':>10}")
            for name, path in [("GET /api/v1/campaigns/{id}", f"/api/v1/campaigns/{campaign}"),
                               ("GET /api/v1/campaigns", "/api/v1/campaigns")]:
                size = len(client.get(path).raise_for_status().content)
                best, median = timed(lambda: client.get(path).raise_for_status(), n)
                print(f"{name:<44}{best:>9.1f}{median:>11.1f}{size:>10,}", flush=True)
            rss_before = _peak_rss(server.process.pid)
            began, size, lines = time.perf_counter(), 0, 0
            with client.stream("GET", f"/api/v1/campaigns/{campaign}/recipients.csv") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            took = time.perf_counter() - began
            print(f"{'GET .../recipients.csv (all)':<44}{took * 1000:>9.0f} ms, {lines - 1:,} rows, {size:,} bytes, "
                  f"{(lines - 1) / took:,.0f} rows/s; server peak RSS {rss_before} -> {_peak_rss(server.process.pid)}")
    finally:
        server.stop()


def _peak_rss(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return line.split(":", 1)[1].strip()
    return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="an empty PostgreSQL database to build in (default: SQLite)")
    parser.add_argument("--fresh", action="store_true", help="build the SQLite store again instead of using the cache")
    parser.add_argument("--no-server", action="store_true", help="measure the Store methods only")
    args = parser.parse_args()
    directory = CACHE / f"campaign-report-{'pg-' if args.db else ''}{args.contacts}-{args.events}-{args.seed}-v1"
    meta = directory / "plan.json"
    if (args.fresh or args.db or not meta.exists()) and directory.exists():
        shutil.rmtree(directory)
    if args.db or not meta.exists():
        directory.mkdir(parents=True)
        Keyring.load_or_create(directory)
        url = args.db or f"sqlite:///{directory / 'mailbeacon.db'}"
        print(f"building the store in {args.db or directory} ...", flush=True)
        with open_store(url) as store:
            store.migrate()
            if args.db:
                import psycopg

                db: Any = psycopg.connect(args.db.replace("postgresql+psycopg://", "postgresql://"))
            else:
                db = sqlite3.connect(directory / "mailbeacon.db")
            try:
                plan = build(store, db, args.contacts, args.events, args.seed)
            finally:
                db.close()
        meta.write_text(json.dumps(plan))
    plan = json.loads(meta.read_text())
    url = args.db or f"sqlite:///{directory / 'mailbeacon.db'}"
    with open_store(url) as store:
        began = time.perf_counter()
        store.migrate()  # a store cached by an older version gets its new tables and indexes
        print(f"migrated in {time.perf_counter() - began:.1f} s", flush=True)
        ok = measure_store(store, plan["campaign"], args.requests)
    if not args.no_server:
        measure_server(directory, args.db, plan, args.requests)
    print(f"\nevery store method's median under {TARGET_MS:.0f} ms: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
