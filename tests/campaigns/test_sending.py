"""`mailbeacon campaign send` against a real server and a real upstream: every contact gets exactly one
copy however often the sender is killed, and the copies are what a marketer and a reader expect."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailbeacon.store import Store, open_store, schema
from mailbeacon.tokens import Keyring
from tests.support.servers import running_server
from tests.support.smtp import Received, Sink, add_user, running_sink

MB = [sys.executable, "-m", "mailbeacon"]
CONTACTS = 300
UNSUBSCRIBED = {7, 150, 299}
DO_NOT_TRACK = {3, 200}
VIP = {i for i in range(CONTACTS) if i % 4 == 0}
TEMPLATE = """<!DOCTYPE html>
<html><body>
<p>Hello {{ contact.first_name | default("there") }},</p>
{% if contact.vip %}<p><a href="https://shop.example.com/vip">Your VIP offer</a></p>{% endif %}
<p><a href="https://shop.example.com/news?utm_source=mail&amp;id=1">This month's news</a></p>
<p><a href="https://shop.example.com/sale">The sale</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
"""
TEXT = "Hello {{ contact.first_name | default('there') }},\n\nthe news: https://shop.example.com/news\n"
CLICK = re.compile(rb'href="https?://[^/"]+/c/([A-Za-z0-9_-]+)"')


def address(i: int) -> str:
    return f"reader{i}@example.org"


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    add_user(data, "admin@example.com", "--admin")
    rows = ["email,first_name,vip,unsubscribed"]
    rows += [f"{address(i)},Reader{i},{'yes' if i in VIP else ''},{'yes' if i in UNSUBSCRIBED else ''}"
             for i in range(CONTACTS)]
    (tmp_path / "contacts.csv").write_text("\n".join(rows) + "\n")
    mb("contacts", "import", str(tmp_path / "contacts.csv"), "--list", "news", "--data", str(data))
    mb("dnt", "add", *(address(i) for i in DO_NOT_TRACK), "--global", "--data", str(data))
    (tmp_path / "news.html").write_text(TEMPLATE)
    (tmp_path / "news.txt").write_text(TEXT)
    return data


@pytest.fixture()
def store(data_dir: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{data_dir / 'mailbeacon.db'}") as opened:
        yield opened


def mb(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*MB, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def send_args(data_dir: Path, *extra: str, template: str = "news.html") -> list[str]:
    return ["campaign", "send", "--name", "november", "--list", "news", "--template",
            str(data_dir.parent / template), "--text", str(data_dir.parent / "news.txt"),
            "--subject", "News for {{ contact.first_name }}", "--from", "Shop News <news@shop.example.com>",
            "--data", str(data_dir), *extra]


def queued_so_far(store: Store) -> int:
    found = store.campaign_named("november")
    return 0 if found is None else found.queued + found.skipped


def kill_mid_run(data_dir: Path, store: Store, rng: random.Random) -> bool:
    """Start the sender with small batches and kill -9 it once it has queued a random few more;
    False if it finished first."""
    before = queued_so_far(store)
    target = before + rng.randint(1, 20)
    process = subprocess.Popen([*MB, *send_args(data_dir, "--batch", "3")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if queued_so_far(store) >= target:
                time.sleep(rng.uniform(0, 0.03))  # anywhere in the next batch: rendering, writing, committing
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                return True
            time.sleep(0.005)
        assert process.poll() is not None, "the sender made no progress in 60 s"
        return False
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def parsed(copy: Received) -> EmailMessage:
    message = email.message_from_bytes(copy.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_killed_ten_times_every_contact_still_gets_exactly_one_copy(data_dir: Path, store: Store) -> None:
    rng = random.Random(int(os.environ.get("KILL_SEED", time.time_ns())))
    subscribed = [i for i in range(CONTACTS) if i not in UNSUBSCRIBED]
    with running_sink() as sink, running_server(data_dir, "--upstream", sink.url):
        kills = 0
        for _ in range(10):
            kills += kill_mid_run(data_dir, store, rng)
        assert kills >= 8, "the kills must land while the sender works"
        done = mb("campaign", "resume", "november", "--wait", "--data", str(data_dir), timeout=120)
        assert f"{len(subscribed)} sent, 0 bounced" in done.stdout
        copies = sink.wait_for(len(subscribed), timeout=60)
        time.sleep(0.5)  # anything sent twice would arrive now
        copies = sink.received

    per_address = Counter(rcpt for copy in copies for rcpt in copy.rcpt_tos)
    assert per_address == Counter({address(i): 1 for i in subscribed})
    status = json.loads(mb("campaign", "status", "november", "--json", "--data", str(data_dir)).stdout)
    assert (status["status"], status["queued"], status["skipped"], status["sent"]) == (
        "done", len(subscribed), len(UNSUBSCRIBED), len(subscribed))

    keyring = Keyring.load_or_create(data_dir)
    campaign = store.campaign_named("november")
    assert campaign is not None
    indexes: dict[str, set[int]] = {}
    for copy in copies:
        (rcpt,) = copy.rcpt_tos
        i = int(rcpt.removeprefix("reader").split("@")[0])
        message = parsed(copy)
        html = html_of(message)
        assert f"Hello Reader{i}," in html and message["Subject"] == f"News for Reader{i}"
        assert f"Hello Reader{i}," in str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        unsubscribe = message["List-Unsubscribe"]
        assert re.fullmatch(r"<http://127\.0\.0\.1:8080/u/[A-Za-z0-9_-]+>", unsubscribe)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f'href="{unsubscribe[1:-1]}"' in html, "the unsubscribe link is never wrapped"
        tokens = CLICK.findall(copy.content)
        if i in DO_NOT_TRACK:
            assert not tokens and "/o/" not in html and "https://shop.example.com/sale" in html
            continue
        assert "https://shop.example.com/sale" not in html and "/o/" in html
        targets = {}
        for token in tokens:
            click = keyring.verify_click(token.decode())
            targets[click.url] = click.link
            indexes.setdefault(click.url, set()).add(click.link)
        expected = {"https://shop.example.com/news?utm_source=mail&id=1", "https://shop.example.com/sale",
                    "https://honeypot.invalid/"} | ({"https://shop.example.com/vip"} if i in VIP else set())
        assert set(targets) == expected
    assert all(len(found) == 1 for found in indexes.values()), f"one index per URL in every copy: {indexes}"
    stored = store.campaign_links(campaign.message_id)
    assert {url: idx for url, (idx,) in indexes.items() if "honeypot" not in url} == stored
    reasons = {d.recipient: (d.opens_tracked, d.clicks_tracked, d.untracked_reason)
               for d in store.deliveries_of(campaign.message_id)}
    assert reasons[address(3)] == (False, False, "recipient is on the do-not-track list")
    assert reasons[address(1)] == (True, True, None)


def test_the_same_name_with_another_template_is_refused(data_dir: Path, store: Store) -> None:
    mb(*send_args(data_dir))
    (data_dir.parent / "changed.html").write_text(TEMPLATE.replace("Hello", "Hi"))
    refused = mb(*send_args(data_dir, template="changed.html"), check=False)
    assert refused.returncode == 1
    assert "exists with another HTML template" in refused.stderr and "mailbeacon campaign resume november" in refused.stderr
    again = mb(*send_args(data_dir))  # the same parameters: a resume with nothing left to do
    assert "297 copies queued" in again.stdout
    assert len(store.deliveries_of(store.campaign_named("november").message_id)) == 297  # type: ignore[union-attr]


def test_a_contact_the_template_cannot_render_for_is_skipped_and_named(data_dir: Path, store: Store) -> None:
    broken = TEMPLATE.replace("<p>Hello", "<p>{{ 100 // (contact.first_name | length - 8) }} Hello")
    (data_dir.parent / "broken.html").write_text(broken)  # "Reader10".."Reader99" have 8 characters
    done = mb(*send_args(data_dir, template="broken.html"))
    status = json.loads(mb("campaign", "status", "november", "--json", "--data", str(data_dir)).stdout)
    failing = {address(i) for i in range(10, 100) if i not in UNSUBSCRIBED}
    assert status["queued"] == CONTACTS - len(UNSUBSCRIBED) - len(failing)
    assert status["skipped"] == len(UNSUBSCRIBED) + len(failing)
    assert {skip["email"] for skip in status["skips"]} <= failing and len(status["skips"]) == 20  # the first 20
    assert "ZeroDivisionError" in status["skips"][0]["reason"] and "line 3" in status["skips"][0]["reason"]
    assert f"skipped {address(10)}: " in done.stderr
    assert f"{len(failing) + len(UNSUBSCRIBED)} members skipped" in done.stdout


def test_a_copy_over_its_render_budget_is_skipped_with_the_budget_named(data_dir: Path, store: Store) -> None:
    # issue #12: a template that spins or floods for one contact costs that contact's copy, not the campaign.
    spin = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'
    flood = "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}"
    hostile = TEMPLATE.replace("<p>Hello", f'{{% if contact.first_name == "Reader5" %}}{spin}{{% endif %}}'
                                          f'{{% if contact.first_name == "Reader6" %}}{flood}{{% endif %}}<p>Hello')
    (data_dir.parent / "hostile.html").write_text(hostile)
    started = time.monotonic()
    done = mb(*send_args(data_dir, template="hostile.html"))
    assert time.monotonic() - started < 40  # one copy's time budget is 2 s
    status = json.loads(mb("campaign", "status", "november", "--json", "--data", str(data_dir)).stdout)
    assert status["queued"] == CONTACTS - len(UNSUBSCRIBED) - 2
    reasons = {skip["email"]: skip["reason"] for skip in status["skips"]}
    assert "time budget of 2 s" in reasons[address(5)] and "size budget of 5,000,000 characters" in reasons[address(6)]
    assert f"skipped {address(5)}: " in done.stderr


def test_ctrl_c_stops_between_batches_and_says_how_to_resume(data_dir: Path, store: Store) -> None:
    process = subprocess.Popen([*MB, *send_args(data_dir, "--batch", "2")], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while queued_so_far(store) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "go on with: mailbeacon campaign resume november" in err
    stopped = store.campaign_named("november")
    assert stopped is not None and stopped.status == "sending" and stopped.queued < CONTACTS - len(UNSUBSCRIBED)
    mb("campaign", "resume", "november", "--data", str(data_dir))
    finished = store.campaign_named("november")
    assert finished is not None and (finished.status, finished.queued) == ("queued", CONTACTS - len(UNSUBSCRIBED))


def test_a_rate_spaces_the_copies_in_the_queue(data_dir: Path, store: Store) -> None:
    mb(*send_args(data_dir, "--rate", "600/min"))
    campaign = store.campaign_named("november")
    assert campaign is not None and campaign.rate == 10
    engine = sa.create_engine(f"sqlite:///{data_dir / 'mailbeacon.db'}")
    with engine.connect() as conn:
        due = sorted(conn.execute(sa.select(schema.outbound.c.next_attempt_at)).scalars())
    engine.dispose()
    assert len(due) == 297
    gaps = [later - earlier for earlier, later in zip(due, due[1:])]
    assert min(gaps[1:]) >= 0.1 - 1e-6, "copy i may leave at the start + i / rate, not before"
    assert due[-1] - due[0] >= 29.5  # 296 gaps of a tenth of a second


def test_campaign_list_and_status_say_how_far_it_got(data_dir: Path) -> None:
    mb(*send_args(data_dir))
    listed = json.loads(mb("campaign", "list", "--json", "--data", str(data_dir)).stdout)
    assert (listed["name"], listed["status"], listed["queued"], listed["pending"]) == ("november", "queued", 297, 297)
    shown = mb("campaign", "status", "november", "--data", str(data_dir)).stdout
    assert "297 queued, 3 skipped; 0 sent, 0 bounced, 297 pending" in shown
    missing = mb("campaign", "status", "october", "--data", str(data_dir), check=False)
    assert missing.returncode == 1 and "no campaign 'october'" in missing.stderr


def test_wait_says_so_when_nothing_delivers(data_dir: Path) -> None:
    log = data_dir.parent / "wait.log"
    with log.open("w") as err:
        process = subprocess.Popen([*MB, *send_args(data_dir, "--wait", "--stall-warning", "1")],
                                   stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while "nothing delivered" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    said = log.read_text()
    assert "is `mailbeacon serve` running on this data?" in said
    assert "stopped waiting; the copies stay queued: mailbeacon campaign status november" in said
    assert process.returncode == 130
