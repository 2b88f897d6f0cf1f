"""`mailbeacon privacy show|set|apply`, and the hourly job of a real `mailbeacon serve` (first run at start)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.events import EventKind, RawEvent
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import Store, open_store
from tests.support.servers import running_server

DAY = 86400.0


def run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--data", str(data_dir)])
    return result.exit_code, result.output


def with_old_events(store: Store, *ages_in_days: float) -> None:
    """One message with an open per age, judged as the server would have judged them."""
    delivery = secrets.token_bytes(12)
    store.record_message(None, "a@example.com", "Old news", None, [(delivery, "bob@example.org")], [])
    now = time.time()
    store.append_events([
        RawEvent(secrets.token_bytes(16), EventKind.OPEN, delivery, None, None, now - age * DAY, "198.51.100.7",
                 "Thunderbird", "GET")
        for age in ages_in_days
    ])
    Pipeline(store).catch_up()


def test_settings_are_shown_set_and_checked(tmp_path: Path) -> None:
    assert run(tmp_path, "privacy", "show") == (0, "ip_truncate_after_days = 30\nretention_days = never\n")
    assert run(tmp_path, "privacy", "set", "retention_days", "365") == (0, "retention_days = 365\n")
    assert run(tmp_path, "privacy", "set", "ip_truncate_after_days", "never")[0] == 0
    code, output = run(tmp_path, "privacy", "set", "retention_days", "0")
    assert code == 1 and "retention_days must be a whole number of days from 1" in output
    code, output = run(tmp_path, "privacy", "set", "retention_days", "a year")
    assert code == 2 and "neither a whole number of days nor `never`" in output
    code, output = run(tmp_path, "privacy", "show", "--json")
    assert json.loads(output) == {"ip_truncate_after_days": None, "retention_days": 365}


def test_apply_deletes_and_truncates_what_the_settings_say(tmp_path: Path) -> None:
    run(tmp_path, "privacy", "show")  # creates and migrates the database
    with open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}") as store:
        with_old_events(store, 400, 40, 1)
    run(tmp_path, "privacy", "set", "retention_days", "365")
    assert run(tmp_path, "privacy", "apply") == (0, "1 IP truncated, 1 old event deleted\n")
    with open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}") as store:
        assert [e.ip for e in store.events_after(0, 10, None)] == ["198.51.100.0", "198.51.100.7"]


def test_the_server_applies_the_settings_when_it_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "privacy", "set", "retention_days", "100")
    with open_store(f"sqlite:///{data_dir / 'mailbeacon.db'}") as store:
        with_old_events(store, 200, 50, 0.5)
    with running_server(data_dir), open_store(f"sqlite:///{data_dir / 'mailbeacon.db'}") as store:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ips = [e.ip for e in store.events_after(0, 10, None)]
            if ips == ["198.51.100.0", "198.51.100.7"]:
                break
            time.sleep(0.1)
        assert ips == ["198.51.100.0", "198.51.100.7"], "the server's privacy job did not run at start"
