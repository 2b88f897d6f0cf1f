"""Refreshing Apple's ranges from a file changes what `mailbeacon reclassify` concludes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailbeacon.events import EventKind, RawEvent
from mailbeacon.store import open_store


def mailbeacon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailbeacon", *args], capture_output=True, text=True, timeout=120)


def test_imported_apple_ranges_are_used_by_reclassify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert mailbeacon("dnt", "list", "--data", str(data)).returncode == 0  # creates and migrates the store
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        store.append_events([RawEvent(b"u" * 16, EventKind.OPEN, b"d" * 12, None, None, 1.0e9, "192.0.2.5",
                                      "Mozilla/5.0", "GET")])
    assert mailbeacon("reclassify", "--data", str(data)).returncode == 0
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        assert [e.reasons for e in store.events_after(0, 10, None)] == [("bare_user_agent",)]

    csv = tmp_path / "egress-ip-ranges.csv"
    csv.write_text("192.0.2.0/24,US,US-CA,Cupertino\n2001:db8::/32,DE,DE-BE,Berlin\n")
    done = mailbeacon("ranges", "import-apple", str(csv), "--data", str(data))
    assert done.returncode == 0 and "2 Apple networks" in done.stdout
    assert mailbeacon("reclassify", "--data", str(data)).returncode == 0
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        assert [(e.cls, e.reasons) for e in store.events_after(0, 10, None)] == [("machine", ("apple_mpp",))]


def test_a_file_that_is_not_a_range_list_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("network,country\nnot-a-network,US\n")
    done = mailbeacon("ranges", "import-apple", str(bad), "--data", str(tmp_path / "data"))
    assert done.returncode == 1 and "line 1" in done.stderr
    assert not (tmp_path / "data" / "apple_mpp_ranges.txt").exists()
