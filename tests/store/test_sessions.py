"""Dashboard sessions in the store (issue #12, item 13), on SQLite and PostgreSQL: found by hash, expired, ended."""

from __future__ import annotations

import time

from mailbeacon.store import SessionLimits, Store

LIVE = SessionLimits()


def user(store: Store, name: str) -> int:
    return store.add_user(f"{name}@example.com", False, "basic", f"key-{name}", "scrypt$x$y")


def test_a_session_is_found_by_its_hash_with_its_user_until_it_ends(store: Store) -> None:
    ann = user(store, "ann")
    session_id = store.start_session(ann, "hash-1", "198.51.100.7", "Firefox/128.0", LIVE)
    found = store.session_user("hash-1", LIVE)
    assert found is not None
    session, owner = found
    assert (session.id, session.user_id, session.ip, session.user_agent) == (session_id, ann, "198.51.100.7",
                                                                             "Firefox/128.0")
    assert owner.email == "ann@example.com"
    assert session.created_at == session.last_seen_at and abs(session.created_at - time.time()) < 60
    assert store.session_user("hash-2", LIVE) is None
    assert store.end_session_by_hash("hash-1")
    assert store.session_user("hash-1", LIVE) is None
    assert not store.end_session_by_hash("hash-1")


def test_idle_and_old_sessions_are_over_and_cleared_at_the_next_login(store: Store) -> None:
    ann = user(store, "ann")
    store.start_session(ann, "idle", "", "", LIVE)
    time.sleep(0.05)
    assert store.session_user("idle", SessionLimits(idle=0.01)) is None, "idle past its limit"
    assert store.session_user("idle", SessionLimits(lifetime=0.01)) is None, "older than its lifetime"
    assert store.session_user("idle", LIVE) is not None
    assert store.sessions_of(ann, SessionLimits(idle=0.01)) == []
    fresh = store.start_session(ann, "fresh", "", "", SessionLimits(idle=0.01))  # clears what is over by these limits
    assert [s.id for s in store.sessions_of(ann, LIVE)] == [fresh]


def test_last_seen_moves_at_most_once_a_minute(store: Store) -> None:
    ann = user(store, "ann")
    session_id = store.start_session(ann, "h", "198.51.100.7", "Firefox", LIVE)
    assert not store.touch_session(session_id, "203.0.113.9", "Chrome", LIVE), "a second after login: not yet"
    row = store.sessions_of(ann, LIVE)[0]
    assert (row.ip, row.user_agent, row.last_seen_at) == ("198.51.100.7", "Firefox", row.created_at)
    often = SessionLimits(touch_every=0.0)
    assert store.touch_session(session_id, "203.0.113.9", "Chrome", often)
    row = store.sessions_of(ann, LIVE)[0]
    assert (row.ip, row.user_agent) == ("203.0.113.9", "Chrome") and row.last_seen_at >= row.created_at


def test_sessions_of_a_user_are_theirs_and_end_one_or_all_but_one(store: Store) -> None:
    ann, bob = user(store, "ann"), user(store, "bob")
    mine = [store.start_session(ann, f"ann-{n}", "", "", LIVE) for n in range(3)]
    theirs = store.start_session(bob, "bob-0", "", "", LIVE)
    assert sorted(s.id for s in store.sessions_of(ann, LIVE)) == mine
    assert not store.end_session(ann, theirs), "Ann cannot end Bob's session"
    assert store.session_user("bob-0", LIVE) is not None
    assert store.end_session(ann, mine[0])
    assert store.end_sessions(ann, keep=mine[1]) == 1
    assert [s.id for s in store.sessions_of(ann, LIVE)] == [mine[1]]
    assert store.end_sessions(bob) == 1, "a disabled user: every session"
    assert store.session_user("bob-0", LIVE) is None and store.session_user("ann-1", LIVE) is not None


def test_a_new_password_ends_every_session_but_the_one_kept(store: Store) -> None:
    ann = user(store, "ann")
    keep = store.start_session(ann, "laptop", "", "", LIVE)
    store.start_session(ann, "phone", "", "", LIVE)
    assert store.set_password_hash(ann, "argon2-new", keep_session=keep)
    assert store.session_user("phone", LIVE) is None
    found = store.session_user("laptop", LIVE)
    assert found is not None and found[1].password_hash == "argon2-new"
    assert store.set_password_hash(ann, "argon2-newer")
    assert store.sessions_of(ann, LIVE) == []
    assert not store.set_password_hash(9999, "argon2-x")
