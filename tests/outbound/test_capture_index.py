"""The capture mailbox's index (issue #12, item 17): `/captured` and `mailbeacon captured` read it, not every message.

A mailbox of a few thousand copies (as an older installation has it, with no index) is
indexed at the first read; copies dropped in while the server is stopped, a rewritten
copy and a torn last line are found and indexed again; copies the server captures are
appended as they arrive.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mailbeacon.outbound import CaptureIndex, read_captured
from tests.support.dashboard import Session, add_user, cli, send, wait_for
from tests.support.servers import running_server

COPIES = 3000


def drop_in(maildir: Path, number: int, subject: str, stamp: int | None = None) -> Path:
    """A copy written straight into new/, as another tool (or an older mailbeacon) left it."""
    new = maildir / "new"
    new.mkdir(parents=True, exist_ok=True)
    path = new / f"{stamp or time.time_ns()}.P1Q{number}.test"
    path.write_bytes(
        f"Return-Path: <ann@example.com>\r\nDelivered-To: reader{number}@example.org\r\n"
        f"From: Ann <ann@example.com>\r\nSubject: {subject}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f'<p>Hi <a href="http://t.example/c/AAAAAAAAAAAAAAAAAAAAAAAAAAA{number}">offer</a>'
        f'<img src="http://t.example/o/BBBBBBBBBBBBBBBBBBBBBBBBBBB{number}.gif"></p>\r\n'.encode()
    )
    return path


def index_lines(maildir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (maildir / "index.jsonl").read_text("utf-8").splitlines()]


def test_a_large_mailbox_is_listed_from_its_index_and_what_came_while_stopped_is_found(tmp_path: Path) -> None:
    data = tmp_path / "data"
    maildir = data / "captured"
    key = add_user(data, "ada@example.com", "--admin", "--seat", "sales")["api_key"]
    base = time.time_ns() - 10**12
    for number in range(COPIES):
        drop_in(maildir, number, f"Old note {number}", base + number)
    assert not (maildir / "index.jsonl").exists()
    with running_server(data) as server, Session(server.url) as ada:
        ada.login("ada@example.com")
        ada.client.timeout = 60  # the first read parses the 3,000 copies once
        page = ada.page("/captured")
        assert f"of {COPIES}" in page.css_first("p.muted.small").text()
        assert page.css_first("#captured .subject").text() == f"Old note {COPIES - 1}"  # newest first
        lines = index_lines(maildir)
        assert len(lines) == COPIES
        first = next(line for line in lines if line["subject"] == "Old note 0")
        assert first["delivered_to"] == "reader0@example.org" and first["from_address"] == "ann@example.com"
        assert first["click_urls"] == ["http://t.example/c/AAAAAAAAAAAAAAAAAAAAAAAAAAA0"]
        assert first["pixel_urls"] == ["http://t.example/o/BBBBBBBBBBBBBBBBBBBBBBBBBBB0.gif"]
        assert first["size"] == (maildir / "new" / str(first["name"])).stat().st_size
        # A copy the server captures is appended to the index as it arrives.
        send(server.url, key, to="bob@example.org", subject="Sent live",
             html='<p>Hello <a href="https://example.com/pricing">pricing</a></p>')
        live = wait_for(lambda: [line for line in index_lines(maildir) if line["subject"] == "Sent live"],
                        "the live copy in the index")
        assert len(live) == 1 and len(live[0]["pixel_urls"]) == 1 and len(live[0]["click_urls"]) == 1  # type: ignore[arg-type]
        assert ada.page("/captured").css_first("#captured .subject").text() == "Sent live"

    # While the server is stopped: copies dropped in, one rewritten, the index's last line torn.
    for number in range(3):
        drop_in(maildir, COPIES + number, f"Dropped in {number}")
    rewritten = sorted((maildir / "new").iterdir())[5]
    time.sleep(0.01)
    rewritten.write_bytes(rewritten.read_bytes().replace(b"Subject: Old note 5", b"Subject: Corrected note 5"))
    with (maildir / "index.jsonl").open("ab") as index:
        index.write(b'{"name": "17000000')
    os.utime(maildir / "index.jsonl")  # newer than the rewritten copy: only the torn line says "rebuild"

    with running_server(data) as server, Session(server.url) as ada:
        ada.login("ada@example.com")
        ada.client.timeout = 60
        subjects = [node.text() for node in ada.page("/captured").css("#captured .subject")]
        assert subjects[:3] == ["Dropped in 2", "Dropped in 1", "Dropped in 0"]
        listed = cli("captured", "--json", "--data", str(data)).splitlines()
        assert len(listed) == COPIES + 4
        assert "Corrected note 5" in {json.loads(line)["subject"] for line in listed}
        assert len(index_lines(maildir)) == COPIES + 4, "the index was written again, whole"
        copy = ada.get(f"/captured/{rewritten.name}")
        assert copy.status_code == 200 and "Corrected note 5" in copy.text


def test_a_copy_newer_than_the_index_or_gone_from_the_mailbox_is_reindexed(tmp_path: Path) -> None:
    maildir = tmp_path / "captured"
    kept = drop_in(maildir, 1, "First")
    gone = drop_in(maildir, 2, "Second")
    index = CaptureIndex(maildir)
    assert [c.subject for c in index.read()] == ["First", "Second"]
    gone.unlink()
    time.sleep(0.01)
    kept.write_bytes(kept.read_bytes().replace(b"Subject: First", b"Subject: Frist"))  # same size, newer
    assert [c.subject for c in index.read()] == ["Frist"]
    assert [line["subject"] for line in index_lines(maildir)] == ["Frist"]
    assert [c.subject for c in read_captured(maildir)] == ["Frist"], "a fresh reader agrees"
    assert oct((maildir / "index.jsonl").stat().st_mode & 0o777) == "0o600"
