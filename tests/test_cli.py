"""The `mailbeacon` command, as a user runs it."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.tokens import Keyring

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "welcome.eml"


def run(*args: str, input: bytes | None = None) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_instrument_writes_the_tracked_message(tmp_path: Path) -> None:
    code, out, _ = run("instrument", str(EXAMPLE), "--to", "bob@example.org", "--data", str(tmp_path),
                       "--base-url", "https://t.example.com")
    assert code == 0
    keyring = Keyring.load_or_create(tmp_path)
    head, _, _ = out.partition(b"\n\n")
    assert head == EXAMPLE.read_bytes().partition(b"\n\n")[0], "headers must not change"
    text = out.replace(b"=\n", b"").decode()
    (pixel,) = re.findall(r"https://t\.example\.com/o/([A-Za-z0-9_-]+)\.gif", text)
    keyring.verify_open(pixel)
    clicks = [keyring.verify_click(t).url for t in re.findall(r"https://t\.example\.com/c/([A-Za-z0-9_-]+)", text)]
    assert clicks == ["https://example.com/proposal?id=42&v=2", "https://example.com/pricing",
                      "https://example.com/book", "https://example.com/book"]
    assert "mailto:ada@example.com" in text and 'href=3D"https://example.com">www.example.com' in text
    assert "bob@example.org" not in text.split("\n\n", 1)[1], "no address in clear in the body"


def test_instrument_report_is_json(tmp_path: Path) -> None:
    code, out, _ = run("instrument", str(EXAMPLE), "--to", "bob@example.org", "--report", "--data", str(tmp_path))
    assert code == 0
    report = json.loads(out)
    assert report["recipient"] == "bob@example.org" and report["opens_tracked"] is True
    assert report["tracked_links"] == 4
    untracked = {(link["target"], link["reason"]) for link in report["links"] if not link["tracked"]}
    assert untracked == {("mailto:ada@example.com", "not an http(s) link"),
                         ("https://example.com", "visible text is a URL")}


def test_no_clicks_and_no_opens_leave_the_message_alone(tmp_path: Path) -> None:
    code, out, _ = run("instrument", str(EXAMPLE), "--to", "b@example.org", "--no-clicks", "--no-opens",
                       "--data", str(tmp_path))
    assert code == 0 and out == EXAMPLE.read_bytes()


def test_instrument_reads_stdin_and_passes_plain_text_unchanged(tmp_path: Path) -> None:
    raw = b"From: a@example.com\nTo: b@example.org\nSubject: hi\n\nJust text, https://example.com/\n"
    code, out, err = run("instrument", "-", "--to", "b@example.org", "--data", str(tmp_path), input=raw)
    assert code == 0 and out == raw
    code, out, _ = run("instrument", "-", "--to", "b@example.org", "--report", "--data", str(tmp_path), input=raw)
    assert json.loads(out)["opens_reason"] == "opens not trackable: plain text"


def test_keys_file_is_private_and_rotation_keeps_old_links(tmp_path: Path) -> None:
    run("instrument", str(EXAMPLE), "--to", "b@example.org", "--data", str(tmp_path))
    keys = tmp_path / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    old = Keyring.load_or_create(tmp_path).sign_open(b"d" * 12)
    code, out, _ = run("keys", "rotate", "--data", str(tmp_path))
    assert code == 0 and b"new signing key 1" in out
    ring = Keyring.load_or_create(tmp_path)
    assert ring.active_kid == 1 and ring.verify_open(old).delivery == b"d" * 12


def test_unreadable_keys_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("0 not-hex\n")
    (tmp_path / "keys").chmod(0o600)
    code, _, err = run("instrument", str(EXAMPLE), "--to", "b@example.org", "--data", str(tmp_path))
    assert code == 1 and "keys" in err
