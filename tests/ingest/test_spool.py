"""The spool's records survive torn writes, gluing and corruption: each damaged line is quarantined, every sound one replays.

# issue #12: an ENOSPC mid-append left a partial record, the next append was glued on,
# and replay raised JSONDecodeError on it for ever.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

import pytest

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.ingest import Spool
from mailbeacon.store import Store
from tests.support.disks import fill_disk, small_disk


def event(n: int, kind: EventKind = EventKind.OPEN) -> RawEvent:
    url = f"https://example.com/{n}" if kind is EventKind.CLICK else None
    link = 1 if kind is EventKind.CLICK else None
    return RawEvent(secrets.token_bytes(16), kind, n.to_bytes(12, "big"), link, url, time.time(), "192.0.2.1",
                    "Mozilla/5.0 (test)", "GET")


def stored_deliveries(store: Store) -> list[int]:
    return sorted(int.from_bytes(e.delivery_key, "big") for e in store.events_after(0, 10_000, None))


def legacy_line(e: RawEvent) -> bytes:
    """A record as versions before the checksum wrote it: one plain JSON object a line."""
    record = {
        "uid": base64.b64encode(e.uid).decode(), "kind": e.kind.value,
        "delivery": base64.b64encode(e.delivery).decode(), "link": e.link, "url": e.url,
        "at": e.occurred_at, "ip": e.ip, "ua": e.user_agent, "method": e.method,
    }
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def test_a_corrupted_record_is_quarantined_and_every_other_one_replays(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    for n in range(1, 6):
        spool.append([event(n, EventKind.CLICK if n % 2 else EventKind.OPEN)])
    lines = spool.path.read_bytes().splitlines(keepends=True)
    damaged = lines[2].replace(b"192.0.2.1", b"192.0.2.9")  # still JSON, still the right types: only the checksum knows
    spool.path.write_bytes(b"".join([*lines[:2], damaged, *lines[3:]]))

    assert spool.replay(store.append_events) == 4
    assert stored_deliveries(store) == [1, 2, 4, 5]
    assert spool.quarantined == 1
    assert spool.quarantine.read_bytes() == damaged
    assert not spool.pending()


def test_a_record_torn_by_a_crash_is_not_glued_to_the_next_append(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([event(1), event(2)])
    whole = spool.path.read_bytes()
    spool.append([event(3)])
    torn = spool.path.read_bytes()[: len(whole) + 40]  # the process died in the middle of writing record 3
    spool.path.write_bytes(torn)

    spool.append([event(4), event(5)])  # the next run appends to the same file

    assert Spool(spool.path).replay(store.append_events) == 4
    assert stored_deliveries(store) == [1, 2, 4, 5]
    assert spool.quarantine.read_bytes() == torn[len(whole) :] + b"\n"


def test_an_append_that_fails_midway_is_cut_back_and_the_next_one_replays(store: Store, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        spool = Spool(disk / "spool.jsonl")
        spool.append([event(n) for n in range(1, 4)])
        before = spool.path.read_bytes()
        filler = fill_disk(disk)
        with pytest.raises(OSError):
            spool.append([event(n) for n in range(100, 400)])  # ~100 KB: written in part, then ENOSPC
        assert spool.path.read_bytes() == before, "a failed append leaves the file as it was"
        filler.unlink()
        spool.append([event(4)])

        assert spool.replay(store.append_events) == 4
        assert stored_deliveries(store) == [1, 2, 3, 4]
        assert spool.quarantined == 0 and not spool.quarantine.exists()


def test_spools_of_older_versions_replay_and_their_glued_records_are_recovered(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    glued_torn = legacy_line(event(3))[:57]  # ENOSPC cut record 3; the next append went on right after it
    path.write_bytes(legacy_line(event(1)) + legacy_line(event(2)) + glued_torn + legacy_line(event(4)))
    spool = Spool(path)
    spool.append([event(5)])  # this version appends its own format after the old lines

    assert spool.replay(store.append_events) == 4
    assert stored_deliveries(store) == [1, 2, 4, 5]
    assert spool.quarantined == 1
    assert spool.quarantine.read_bytes() == glued_torn + b"\n"


def test_lines_that_are_not_records_are_quarantined_one_by_one(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([event(1)])
    wrong_types = legacy_line(event(2)).replace(b'"link":null', b'"link":"two"')
    with spool.path.open("ab") as f:
        f.write(b"\x00\xff\xfe garbage\n" + wrong_types + b"\n\n" + b"[1, 2, 3]\n")
    spool.append([event(3)])

    assert spool.replay(store.append_events) == 2
    assert stored_deliveries(store) == [1, 3]
    assert spool.quarantined == 3
    assert spool.quarantine.read_bytes().count(b"\n") == 3
