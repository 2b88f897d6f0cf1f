"""`mailbeacon feed`: the activity feed in a terminal and as JSON lines, over a real store; `--follow` as a process."""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.events import EventKind, RawEvent
from mailbeacon.pipeline import Pipeline
from mailbeacon.store import Store, open_store
from tests.web.test_api import add_user, sqlite_url

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
HOSTILE_RECIPIENT = "[bold red]boss[/]\x1b[2J\x1b]8;;https://evil.example/\x07@example.org"
URL = "https://example.com/pricing?plan=pro"


def store_of(data_dir: Path) -> Store:
    return open_store(sqlite_url(data_dir))


def message(store: Store, email: str, subject: str, recipient: str = "bob@example.org") -> bytes:
    user = store.user_by_email(email)
    assert user is not None
    delivery = secrets.token_bytes(12)
    store.record_message(user.id, email, subject, None, [(delivery, recipient)], [(0, URL)])
    return delivery


def hit(store: Store, delivery: bytes, kind: str = "open", ip: str = "198.51.100.7", ua: str = THUNDERBIRD,
        ago: float = 3600.0) -> None:
    link, url = (0, URL) if kind == "click" else (None, None)
    store.append_events([RawEvent(secrets.token_bytes(16), EventKind(kind), delivery, link, url, time.time() - ago,
                                  ip, ua, "GET")])


def feed(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, ["feed", *args, "--data", str(data_dir)])
    return result.exit_code, result.output


@pytest.fixture()
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A's message opened by Apple's proxy, then by Bob, who clicks; B's message opened once."""
    data = tmp_path / "data"
    add_user(data, "a@example.com")
    add_user(data, "b@example.com")
    with store_of(data) as store:
        a = message(store, "a@example.com", "Our offer")
        b = message(store, "b@example.com", "Team lunch")
        hit(store, a, ip="17.58.101.9", ua="Mozilla/5.0", ago=7200)  # Apple Mail Privacy Protection
        hit(store, a, ago=3600)
        hit(store, a, "click", ua="Mozilla/5.0 (Windows NT 10.0) Chrome/120.0.0.0 Safari/537.36", ago=3500)
        hit(store, b, ago=60)
        Pipeline(store).catch_up()
    yield data


@pytest.fixture()
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_feed_reads_newest_last_with_local_time_verdict_and_client(data_dir: Path, tokyo: None) -> None:
    code, output = feed(data_dir)
    assert code == 0, output
    lines = output.splitlines()
    assert len(lines) == 4
    assert "[machine: apple_mpp]  bob@example.org opened “Our offer”  · Apple Mail" in lines[0]
    assert "[human]  bob@example.org opened “Our offer” (first open)  · Thunderbird (Windows)" in lines[1]
    assert f"[human]  bob@example.org clicked {URL} in “Our offer”  · Chrome (Windows)" in lines[2]
    assert "“Team lunch”" in lines[3]
    assert all(" JST  [" in line for line in lines), "local time with its zone label"


def test_limit_and_user_choose_what_is_shown(data_dir: Path) -> None:
    assert len(feed(data_dir, "--limit", "2")[1].splitlines()) == 2
    code, output = feed(data_dir, "--user", "b@example.com")
    assert code == 0 and "Team lunch" in output and "Our offer" not in output
    code, output = feed(data_dir, "--user", "nobody@example.com")
    assert code == 1 and "no user 'nobody@example.com'" in output


def test_json_lines_carry_the_item_and_what_its_owner_is_told(data_dir: Path) -> None:
    code, output = feed(data_dir, "--json")
    items = [json.loads(line) for line in output.splitlines()]
    assert code == 0 and [i["type"] for i in items] == ["open", "open", "click", "open"]
    assert [i["class"] for i in items[:3]] == ["machine", "human", "human"]
    assert items[0]["notify"] is None and items[0]["reasons"] == ["apple_mpp"]
    assert items[1]["notify"] == {"title": "bob@example.org opened “Our offer”", "body": "first open"}
    assert items[2]["notify"]["body"] == f"clicked {URL}" and items[2]["url"] == URL


def test_hostile_text_neither_styles_nor_controls_the_terminal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_user(data, "a@example.com")
    with store_of(data) as store:
        delivery = message(store, "a@example.com", "[link=https://evil.example/]win[/link]\x1b[31m", HOSTILE_RECIPIENT)
        hit(store, delivery, ua="Thunderbird\x1b]0;pwned\x07 [blink]x[/blink]")
        Pipeline(store).catch_up()
    code, output = feed(data, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert code == 0
    assert "\x1b[2J" not in output and "\x1b]" not in output and "\x07" not in output and "\x1b[31m" not in output
    assert "[bold red]boss[/]" in output and "[link=https://evil.example/]win[/link]" in output
    assert "\x1b[" in output, "rich styled the line itself: the check above ran on a colour terminal"
    code, output = feed(data, "--json")
    (item,) = [json.loads(line) for line in output.splitlines()]
    assert item["recipient"] == HOSTILE_RECIPIENT and item["user_agent"].startswith("Thunderbird\x1b]0;pwned")


def test_follow_prints_new_activity_as_it_is_judged_until_ctrl_c(data_dir: Path) -> None:
    command = [sys.executable, "-m", "mailbeacon", "feed", "--follow", "--json", "--limit", "1", "--data", str(data_dir)]
    lines: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as process:
        out = process.stdout
        assert out is not None
        reader = threading.Thread(target=lambda: [lines.put(line) for line in out])
        reader.start()
        try:
            first = lines.get(timeout=20)
            assert json.loads(first)["subject"] == "Team lunch", first  # the latest item: it is running
            with store_of(data_dir) as store:
                hit(store, message(store, "a@example.com", "Follow-up"), ago=1)
                Pipeline(store).catch_up()
            followed = json.loads(lines.get(timeout=20))
            assert followed["subject"] == "Follow-up" and followed["notify"]["body"] == "first open"
            os.killpg(process.pid, signal.SIGINT)
            assert process.wait(timeout=10) == 0
        except queue.Empty:
            pytest.fail("no line from mailbeacon feed --follow within 20 s")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            reader.join(timeout=10)
        assert lines.empty(), "".join(lines.queue)  # nothing else: no traceback after Ctrl-C


def test_a_possible_forward_reads_as_such_never_as_opened_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_user(data, "a@example.com")
    with store_of(data) as store:
        delivery = message(store, "a@example.com", "Our offer")
        hit(store, delivery, ago=7200)
        hit(store, delivery, ip="203.0.113.77", ago=60,
            ua="Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.10730; Pro)")
        Pipeline(store).catch_up()
    code, output = feed(data)
    last = output.splitlines()[-1]
    assert code == 0 and "[suspect_forward]" in last and "again" not in last
    assert "bob@example.org's copy of “Our offer” possibly forwarded: opened on another device/network" in last
