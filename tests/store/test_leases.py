"""Leases (issue #17): one holder at a time, taken over when it expires, fenced by epoch; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
import time

from mailbeacon.store import Store, Tenures
from mailbeacon.store.tenure import BOOT


def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    first = store.acquire_lease("reader:classify", "node-a", "1", ttl=0.6)
    assert first is not None and first.epoch == 1
    assert store.acquire_lease("reader:classify", "node-b", "2", ttl=0.6) is None
    assert store.acquire_lease("reader:classify", "node-a", "other process", ttl=0.6) is None  # a restarted node waits
    time.sleep(0.7)
    taken = store.acquire_lease("reader:classify", "node-b", "2", ttl=5)
    assert taken is not None and (taken.holder, taken.epoch) == ("node-b", 2)
    assert store.renew_lease(first, ttl=5) is None  # the former holder's renewal changes nothing
    assert not store.release_lease(first)
    now, leases = store.leases()
    assert [(lease.name, lease.holder, lease.is_held(now)) for lease in leases] == [("reader:classify", "node-b", True)]


def test_a_released_lease_is_taken_at_once(store: Store) -> None:
    held = store.acquire_lease("privacy", "node-a", "1", ttl=60)
    assert held is not None
    renewed = store.renew_lease(held, ttl=60)
    assert renewed is not None and renewed.expires_at >= held.expires_at
    assert store.release_lease(renewed)
    taken = store.acquire_lease("privacy", "node-b", "2", ttl=60)
    assert taken is not None and taken.epoch == 2


def test_one_of_many_racing_nodes_takes_a_lease(store: Store) -> None:
    won: list[str] = []
    start = threading.Barrier(6)

    def race(node: str) -> None:
        start.wait()
        if store.acquire_lease("campaign:7", node, node, ttl=60) is not None:
            won.append(node)

    threads = [threading.Thread(target=race, args=(f"node-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_an_offered_lease_is_free_for_any_node(store: Store) -> None:
    assert store.offer_lease("campaign:3", "web-1")
    now, offered = store.leases("campaign:")
    assert [(lease.name, lease.is_held(now)) for lease in offered] == [("campaign:3", False)]
    taken = store.acquire_lease("campaign:3", "worker-1", "1", ttl=60)
    assert taken is not None
    assert not store.offer_lease("campaign:3", "web-1")  # held: nothing to hand over
    assert store.forget_lease(taken)
    assert store.leases("campaign:")[1] == []
    assert store.leases("campaign_")[1] == []  # a prefix, not a LIKE pattern


def test_tenures_renew_what_they_hold_and_take_over_what_expired(store: Store) -> None:
    a, b = Tenures(store, "node-a", ttl=0.9), Tenures(store, "node-b", ttl=0.9)
    for tenures in (a, b):
        tenures.want("reader:classify")
    a.tend()
    b.tend()
    assert a.holds("reader:classify") and not b.holds("reader:classify")
    for _ in range(4):  # renewed: it outlives its ttl
        time.sleep(0.3)
        a.tend()
        b.tend()
    assert a.holds("reader:classify") and not b.holds("reader:classify")
    time.sleep(1.0)  # node a stops renewing (it died)
    assert not a.holds("reader:classify")  # it believes its lease only for a margin of it
    b.tend()
    assert b.holds("reader:classify") and b.held() == ["reader:classify"]
    b.release_all()
    a.tend()
    assert a.holds("reader:classify")


def test_a_restarted_node_takes_over_its_dead_process_leases_at_once(store: Store) -> None:
    dead = f"{BOOT}-{2**22 + 12345}-0000"  # a pid above Linux's pid_max: no such process
    assert store.acquire_lease("reader:classify", "node-a", dead, ttl=60) is not None
    alive = f"{BOOT}-{os.getpid()}-0000"  # this very process, as another instance of node-a
    assert store.acquire_lease("privacy", "node-a", alive, ttl=60) is not None
    other, restarted = Tenures(store, "node-b"), Tenures(store, "node-a")
    for tenures in (other, restarted):
        tenures.want("reader:classify")
        tenures.want("privacy")
        tenures.tend()
    assert other.held() == []  # another node waits for the lease to expire
    assert restarted.held() == ["reader:classify"]  # its own dead process's, at once; a live one's, not
