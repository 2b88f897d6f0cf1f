"""Pixel and click load over three nodes, one killed mid-load (issue #17).

Every request a reader got its answer to is stored exactly once, and after the load the
classify reader (on whichever node holds its lease, taken over if the dead node had it)
has counted exactly what a recount from scratch counts.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailbeacon.pipeline import Pipeline
from mailbeacon.service import Settings, classify_policy
from mailbeacon.store import Store, schema
from mailbeacon.web.tracking import GIF
from tests.nodes.conftest import NAMES, Nodes, tracked
from tests.support.dashboard import send, wait_for
from tests.support.smtp import running_sink

pytestmark = pytest.mark.slow  # three real nodes: 15-25 s

REQUESTS = 600
KILL_AFTER = 200
"""Answered requests before the node running the classify reader is killed."""
READERS = 20


def counters(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every counter the classify reader keeps, as rows (the deliveries' classifier memory left out)."""
    tables = {"message_activity": schema.message_activity, "link_activity": schema.link_activity,
              "hourly_activity": schema.hourly_activity, "delivery_activity": schema.delivery_activity}
    found = {}
    engine = sa.create_engine(make_url(db_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            for name, table in tables.items():
                columns = [c for c in table.c if c.name != "memory"]
                found[name] = sorted(tuple(row) for row in conn.execute(sa.select(*columns)))
            verdicts = sa.select(schema.events.c.id, schema.events.c.class_, schema.events.c.reasons,
                                 schema.events.c.client, schema.events.c.first)
            found["events"] = sorted(tuple(row) for row in conn.execute(verdicts))
    finally:
        engine.dispose()
    return found


def holder(store: Store, lease: str) -> str:
    """The node holding the lease now."""
    now, leases = store.leases(lease)
    held = [found.holder for found in leases if found.name == lease and found.is_held(now)]
    assert held, f"nobody holds {lease}"
    return held[0]


def test_every_answered_open_and_click_is_stored_once_when_a_node_dies_mid_load(nodes: Nodes) -> None:
    with running_sink(host=nodes.net.gateway) as sink:
        servers = dict(zip(NAMES, nodes.start(NAMES, "--upstream", sink.url)))
        ada = json.loads(nodes.cli("user", "add", "ada@example.com", "--admin", "--seat", "sales", "--json"))
        send(servers["a"].url, ada["api_key"], to=[f"reader{n}@example.org" for n in range(READERS)],
             subject="Load", html='<p>Hello, <a href="https://example.com/offer">the offer</a>.</p>')
        copies = tracked(sink.wait_for(READERS, timeout=30))
    paths = [path for copy in copies for path in (copy.pixel, *copy.links)]

    answered: set[int] = set()
    lock = threading.Lock()
    numbers = itertools.count()

    def reader() -> None:
        gone: set[str] = set()  # nodes this reader found dead, as a load balancer would
        with httpx.Client(timeout=10) as client:
            while (n := next(numbers)) < REQUESTS:
                live = [name for name in NAMES if name not in gone]
                name = live[n % len(live)]
                path = paths[n % len(paths)]
                try:
                    got = client.get(servers[name].url + path, headers={"User-Agent": f"Mozilla/5.0 (load {n})"})
                except httpx.TransportError:
                    gone.add(name)  # killed mid-request: this one may or may not be stored, never twice
                    continue
                if (got.status_code, got.content) == (200, GIF) or got.status_code == 302:
                    with lock:
                        answered.add(n)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answered) >= KILL_AFTER, "the first answers", timeout=60)
    store = nodes.store()
    victim = holder(store, "reader:classify").removeprefix("node-")  # the dying node held the reader
    nodes.kill(victim)
    for thread in threads:
        thread.join(timeout=120)
    assert len(answered) >= REQUESTS * 0.9  # most of the load was answered, by the two nodes left

    try:
        events = store.events_after(0, 10 * REQUESTS, None)
        stored = Counter(int(e.user_agent.removeprefix("Mozilla/5.0 (load ").removesuffix(")")) for e in events)
        assert {n for n in answered if stored[n] != 1} == set()  # every answered request exactly once
        assert max(stored.values()) == 1 and len(events) == len(stored)  # none twice, answered or not

        last = store.last_event_id()
        wait_for(lambda: store.reader_position("classify") == last, "the classify reader to catch up", timeout=60)
        assert holder(store, "reader:classify") != f"node-{victim}"  # another node took the reader over
        nodes.stop_all()
        judged = counters(nodes.db_url)
        assert judged["message_activity"] and judged["link_activity"]
        Pipeline(store, classify_policy(Settings(data_dir=nodes.data("a")))).reclassify()
        assert counters(nodes.db_url) == judged  # what three nodes counted, one dying, is a recount from scratch
    finally:
        store.close()
