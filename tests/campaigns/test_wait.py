# issue #13, item 5: `campaign send --wait` tells copies waiting for a retry from a server that delivers nothing.
"""`mailbeacon campaign send --wait` against a real `mailbeacon serve` whose upstream answers 451 for one address.

The copy the upstream refused for now waits for its retry (an hour away here): --wait says so, with
the retry's time and the upstream's answer, and ends with exit status 75 instead of waiting for ever
or asking whether the server runs. Copies waiting for the campaign's rate are no stall either; a
server that is not running still is (tests/campaigns/test_sending.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from tests.support.dashboard import add_user
from tests.support.servers import running_server
from tests.support.smtp import running_sink

READERS = ["ada@example.org", "bea@example.org", "slow@example.org"]
REFUSAL = "451 4.3.0 <slow@example.org>: mailbox busy, try again later"


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    add_user(data, "ann@example.com", "--admin", password=None)
    contacts = tmp_path / "readers.csv"
    contacts.write_text("email\n" + "\n".join(READERS) + "\n")
    result = CliRunner().invoke(main, ["contacts", "import", str(contacts), "--list", "readers", "--data", str(data)])
    assert result.exit_code == 0, result.output
    (tmp_path / "t.html").write_text("<p>Hello</p>\n")
    return data


def test_wait_ends_when_only_a_retry_is_left_and_says_when_it_comes(data: Path) -> None:
    with running_sink() as sink, running_server(data, "--upstream", sink.url, "--retry-after", "3600") as server:
        sink.handler.reply = lambda envelope: REFUSAL if "slow@example.org" in envelope.rcpt_tos else "250 2.0.0 OK"
        done = subprocess.run(
            [sys.executable, "-m", "mailbeacon", "campaign", "send", "--name", "r", "--list", "readers", "--template",
             str(data.parent / "t.html"), "--subject", "Hello", "--from", "ann@example.com", "--rate", "1/s",
             "--base-url", server.url, "--data", str(data), "--wait", "--stall-warning", "2"],
            capture_output=True, text=True, timeout=90,
        )
        status = subprocess.run([sys.executable, "-m", "mailbeacon", "campaign", "status", "r", "--data", str(data)],
                                capture_output=True, text=True, timeout=60)
    assert done.returncode == 75, done.stdout + done.stderr
    assert "campaign r: 2 sent, 0 bounced" in done.stdout
    said = re.search(r"campaign r: 1 copy waiting for a retry at (\d\d:\d\d:\d\d) \((.*)\); the running", done.stdout)
    assert said is not None, done.stdout
    assert said.group(2) == REFUSAL
    assert "nothing delivered" not in done.stderr  # copies waiting for the rate or a retry are no stall
    assert "1 copy waiting for a retry at" in status.stdout and "1 pending (1 retrying)" in status.stdout
    assert "75" in CliRunner().invoke(main, ["campaign", "send", "--help"]).output
