"""`mailbeacon campaign preview`: one contact's copy as a send would render it, and clear errors before any send."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailbeacon.cli import main
from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring

HTML = """<html><body>
<p>Hi {{ contact.first_name | default("there") }},</p>
<p><a href="https://shop.example/">Shop</a></p>
</body></html>
"""


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text("email,first_name\nann@example.com,<b>Ann</b>\nbob@example.com,\n")
    (tmp_path / "mail.html").write_text(HTML)
    (tmp_path / "mail.txt").write_text("Hi {{ contact.first_name | default('there') }}\n")
    data = tmp_path / "data"
    result = preview(data, "contacts", "import", str(tmp_path / "people.csv"), "--list", "news")
    assert result.exit_code == 0, result.output
    return data


def preview(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--data", str(data_dir)])


def test_preview_renders_the_first_contact_of_the_list_with_headers_text_and_html(data_dir: Path) -> None:
    folder = data_dir.parent
    result = preview(
        data_dir, "campaign", "preview", "--template", str(folder / "mail.html"), "--text", str(folder / "mail.txt"),
        "--subject", "News for {{ contact.first_name }}", "--list", "news", "--base-url", "https://t.example",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("To: ann@example.com\nSubject: News for <b>Ann</b>\nList-Unsubscribe: <https://t.example/u/")
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in out
    assert "----- text/plain -----\nHi <b>Ann</b>\n\n---\nUnsubscribe: https://t.example/u/" in out
    assert "<p>Hi &lt;b&gt;Ann&lt;/b&gt;,</p>" in out
    token = re.search(r"List-Unsubscribe: <https://t\.example/u/([A-Za-z0-9_-]+)>", out)
    assert token is not None
    signed = Keyring.load_or_create(data_dir).verify_unsubscribe(token.group(1))
    with open_store(f"sqlite:///{data_dir / 'mailbeacon.db'}") as store:
        ann = store.contact_by_email("ann@example.com")
    assert ann is not None and (signed.contact_id, signed.campaign_id) == (ann.id, 0)
    assert f'<a href="https://t.example/u/{token.group(1)}" data-notrack' in out  # the footer's link


def test_preview_for_a_named_contact_uses_the_default(data_dir: Path) -> None:
    folder = data_dir.parent
    result = preview(
        data_dir, "campaign", "preview", "--template", str(folder / "mail.html"), "--subject", "Hi",
        "--contact", "BOB@example.com",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("To: bob@example.com\n") and "<p>Hi there,</p>" in result.output
    assert "text/plain" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "nope"], "no list 'nope'; the lists are: news"),
        (["--contact", "zed@example.com"], "no contact 'zed@example.com'"),
        ([], "name a contact (--contact EMAIL) or a list (--list NAME)"),
        (["--list", "news", "--subject", "{{ contact.x"], "the subject, line 1:"),
    ],
    ids=["unknown-list", "unknown-contact", "neither", "bad-subject"],
)
def test_preview_errors_are_clear(data_dir: Path, args: list[str], message: str) -> None:
    folder = data_dir.parent
    subject = [] if "--subject" in args else ["--subject", "Hi"]
    result = preview(data_dir, "campaign", "preview", "--template", str(folder / "mail.html"), *subject, *args)
    assert result.exit_code == 1 and message in result.output, result.output
