"""A message to 1,000 recipients through a real relay: memory stays flat (issue #12, item 9).

Submitter.submit built every copy before queueing (100 x 5 MB took 580 MB); now each copy is
built as the store writes it, in the one transaction that makes the 250 mean "all queued".
"""

from __future__ import annotations

import re
import smtplib
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.servers import Server, running_server
from tests.support.smtp import add_user, free_port, relay_client

RECIPIENTS = 1000
GROWTH_LIMIT_MB = 300
"""Peak growth allowed whatever the count: the copies alone are 1,000 MB."""


def big_message(sender: str, size: int = 1_150_000) -> bytes:
    """About `size` bytes of HTML with a tracked link every hundred lines."""
    head = (f"From: {sender}\r\nTo: Many <list@example.org>\r\nSubject: to a thousand\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n")
    lines = []
    for n in range(size // 100):
        if n % 100 == 0:
            lines.append(f'<p><a href="https://example.com/page/{n}">page {n}</a></p>')
        else:
            lines.append(f"<p>Line {n:06d} of the long newsletter, written to fill about a hundred bytes.</p>")
    return (head + "\r\n".join(lines) + "\r\n</body></html>\r\n").encode()


def memory_mb(server: Server, field: str) -> float:
    """VmRSS (resident memory now) or VmHWM (its peak so far) of the server process, in MB."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) / 1024


@pytest.mark.slow  # about 1 GB of copies written to SQLite: 9 s on an idle machine
def test_a_thousand_copies_of_a_megabyte_are_queued_in_flat_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    user = add_user(data, "many@example.com", "--seat", "sales")
    unreachable = f"smtp://127.0.0.1:{free_port()}"  # the copies stay queued: no upstream to take them
    with running_server(data, "--upstream", unreachable, "--retry-after", "600", "--max-recipients",
                        str(RECIPIENTS)) as server:
        assert server.smtp is not None
        message = big_message(user.email)
        recipients = [f"reader{n:04d}@example.org" for n in range(RECIPIENTS)]
        with relay_client(server.smtp, user) as client:
            client.sendmail(user.email, recipients[:2], message.replace(b"a thousand", b"warm-up"))
            before = memory_mb(server, "VmRSS")
            started = time.monotonic()
            assert client.mail(user.email)[0] == 250
            for recipient in recipients:
                assert client.rcpt(recipient)[0] == 250
            code, reply = client.data(message)
            seconds = time.monotonic() - started
            growth = memory_mb(server, "VmHWM") - before  # the peak over what it held before
        assert code == 250 and f"({RECIPIENTS:,} copies)".encode() in reply, reply
        with sqlite3.connect(data / "mailbeacon.db") as db:
            (queued,) = db.execute(
                "SELECT count(*) FROM outbound JOIN deliveries ON deliveries.id = outbound.delivery_id "
                "JOIN messages ON messages.id = deliveries.message_id WHERE messages.subject = 'to a thousand'"
            ).fetchone()
        assert queued == RECIPIENTS
        print(f"{RECIPIENTS} x {len(message) / 1e6:.2f} MB queued in {seconds:.1f} s; peak RSS "
              f"{before:.0f} -> {before + growth:.0f} MB (+{growth:.0f} MB)")
        assert growth < GROWTH_LIMIT_MB, f"peak RSS grew by {growth:.0f} MB for {RECIPIENTS} copies"


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` for the test, unmounted after it."""
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def queued_copies(data: Path, subject: str) -> int:
    with sqlite3.connect(data / "mailbeacon.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM deliveries JOIN messages ON messages.id = deliveries.message_id "
            "WHERE messages.subject = ?", (subject,)
        ).fetchone()
    return int(count)


def test_a_disk_full_midway_queues_nothing_and_answers_451(tmp_path: Path) -> None:
    """One transaction for all the copies: a failure after some were written leaves none for the resend to double."""
    with small_disk(tmp_path / "disk", "40m") as disk:
        data = disk / "data"
        user = add_user(data, "full@example.com", "--seat", "sales")
        unreachable = f"smtp://127.0.0.1:{free_port()}"
        with running_server(data, "--upstream", unreachable, "--retry-after", "600", "--max-recipients",
                            "1000") as server:
            assert server.smtp is not None
            message = big_message(user.email, size=300_000).replace(b"to a thousand", b"disk full")
            with relay_client(server.smtp, user) as client:
                try:
                    client.sendmail(user.email, [f"r{n}@example.org" for n in range(300)], message)
                except smtplib.SMTPDataError as refused:
                    assert refused.smtp_code == 451, refused
                else:
                    raise AssertionError("300 copies of 0.3 MB were queued on a 40 MB disk")
                assert queued_copies(data, "disk full") == 0
                # The client sends it again when there is room (here: to fewer recipients): queued once.
                assert client.sendmail(user.email, ["r0@example.org", "r1@example.org"], message) == {}
            assert queued_copies(data, "disk full") == 2
