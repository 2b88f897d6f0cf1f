"""Webhooks from three nodes, one hanging mid-delivery and then killed (issue #17).

Every event's webhook is delivered, and no receiver gets a message more often than it was
attempted: each request of the nodes alive is an attempt in the delivery log, and the dead
node's hung requests (never answered, never logged) are the only others.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from mailbeacon.web.tracking import GIF
from tests.nodes.conftest import NAMES, Nodes, api, tracked, upstream
from tests.support.dashboard import send, wait_for
from tests.webhooks.receiver import running_receiver

pytestmark = pytest.mark.slow  # three real nodes: 15-25 s

OPENS = 40
"""Half before node c hangs, half after."""
READERS = 10


def test_each_webhook_is_delivered_and_no_attempt_reaches_the_receiver_twice(nodes: Nodes) -> None:
    ada = nodes.add_user("ada@example.com", "--admin", "--seat", "sales")
    c_address = nodes.host("c").address
    with upstream(nodes.net) as sink, running_receiver(host=nodes.net.gateway) as receiver:
        servers = dict(zip(NAMES, nodes.start(NAMES, "--upstream", sink.url, "--webhook-retry-after", "0.5",
                                              "--webhook-lease", "6",
                                              "--webhook-allow-network", f"{nodes.net.gateway}/32")))
        a = servers["a"]
        created = api(a, ada["api_key"], "POST", "/api/v1/webhooks", json={"url": receiver.url("hook")})
        assert created.status_code == 201, created.text
        hook = created.json()
        path = receiver.expect(hook)
        receiver.first_of_each[path] = 500  # every message takes two attempts: one fails, one delivers
        send(a.url, ada["api_key"], to=[f"reader{n}@example.org" for n in range(READERS)], subject="Hooks",
             html="<p>Hello.</p>")
        pixels = itertools.cycle([copy.pixel for copy in tracked(sink.wait_for(READERS, timeout=30))])
        where = itertools.cycle([servers[name] for name in NAMES])

        def opens(count: int, offset: int) -> None:
            for n in range(offset, offset + count):
                got = httpx.get(next(where).url + next(pixels), headers={"User-Agent": f"Thunderbird/115.{n}"},
                                timeout=10)
                assert got.content == GIF

        opens(OPENS // 2, 0)
        receiver.wait_for(lambda seen: len(seen) >= OPENS // 2, timeout=60, what="the first webhooks")
        receiver.held_from.add(c_address)  # node c hangs in its requests from now on
        where = itertools.cycle([servers["a"], servers["b"]])
        later = threading.Thread(target=opens, args=(OPENS - OPENS // 2, OPENS // 2))
        later.start()
        held = receiver.holding.wait(timeout=60)
        time.sleep(0.5)  # node c records what was answered before it hung; its hung request waits seconds
        nodes.kill("c")  # mid-request
        later.join(timeout=60)
        assert held, "node c sent no webhook after it began to hang"

        def delivered(seen: list[Any]) -> bool:
            return len({r.id for r in seen if r.answered == 200}) >= OPENS

        seen = receiver.wait_for(delivered, timeout=90, what="every event's webhook delivered", path=path)
        log = deliveries(a, ada["api_key"], hook["id"])
        assert len(log) == OPENS and {d["status"] for d in log} == {"delivered"}
        assert all(r.verified for r in seen)
        hung = Counter(r.id for r in seen if r.answered == 0)
        assert hung and set(hung.values()) == {1} and {r.peer for r in seen if r.answered == 0} == {c_address}
        answered = {d["webhook_id"]: Counter[int]() for d in log}
        for r in seen:
            if r.answered:
                answered[r.id][r.answered] += 1
        # Each answer the receiver gave is one attempt in the log, and the log has no answer it did not give.
        assert answered == {d["webhook_id"]: Counter(a["status_code"] for a in d["attempts"] if a["status_code"])
                            for d in log}
        unanswered = {d["webhook_id"]: sum(1 for a in d["attempts"] if a["status_code"] is None) for d in log}
        assert all(unanswered[wid] <= hung[wid] for wid in unanswered)  # the hung requests, nothing else


def deliveries(server: Any, key: str, webhook_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        params = {"limit": "200", **({"before": str(before)} if before else {})}
        page = api(server, key, "GET", f"/api/v1/webhooks/{webhook_id}/deliveries", params=params).json()
        found += page["deliveries"]
        if page["next"] is None:
            return found
        before = page["next"]
