"""Users an admin can disable, enable and delete, from the CLI, the API and the Users page; and what
`user add` refuses and `--help` says (issue #13, item 7)."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from tests.support.dashboard import Session, add_user, send
from tests.support.servers import Server, running_server
from tests.support.smtp import relay_client

MAIL = "From: {0}\r\nTo: bob@example.org\r\nSubject: hello\r\n\r\nHi Bob.\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("users") / "data"
    add_user(data, "ada@example.com", "--admin")
    with running_server(data) as running:
        yield running


def mailbeacon(server: Server, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailbeacon", *args, "--data", str(server.data_dir)],
                          capture_output=True, text=True, input=input, timeout=60)


def key_works(server: Server, key: str) -> int:
    return httpx.get(f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code


def relay_login(server: Server, email: str, password: str) -> int:
    assert server.smtp is not None
    with relay_client(server.smtp) as client:
        try:
            return client.login(email, password)[0]
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code


def admin_key(server: Server) -> str:
    """Ada's key is not kept by the fixture: a new one, printed once."""
    return mailbeacon(server, "user", "new-key", "ada@example.com").stdout.strip()


def test_user_add_refuses_what_is_no_address_and_names_a_duplicate_plainly(server: Server) -> None:
    refused = mailbeacon(server, "user", "add", "notanemail")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "'notanemail' is not an email address" in refused.stderr
    assert "notanemail" not in mailbeacon(server, "user", "list").stdout
    twice = mailbeacon(server, "user", "add", "ada@example.com")
    assert twice.returncode != 0 and "user 'ada@example.com' exists already" in twice.stderr
    assert "API key" not in twice.stderr and twice.stdout == ""


def test_a_disabled_user_is_stopped_everywhere_and_keeps_their_data(server: Server) -> None:
    bea = add_user(server.data_dir, "bea@example.com", "--seat", "sales")
    message = send(server.url, bea["api_key"], to="bob@example.org", subject="Bea's", text="Hi")
    with Session(server.url) as browser:
        assert browser.login("bea@example.com").status_code == 303 and browser.logged_in()
        done = mailbeacon(server, "user", "disable", "bea@example.com")
        assert done.returncode == 0 and "disabled" in done.stdout and "stay" in done.stdout
        assert not browser.logged_in(), "the open session ended at once"
        assert browser.login("bea@example.com").status_code == 401
    assert key_works(server, bea["api_key"]) == 401
    assert relay_login(server, "bea@example.com", bea["smtp_password"]) == 535
    assert "bea@example.com  sales  (disabled)" in mailbeacon(server, "user", "list").stdout
    ada = admin_key(server)
    kept = httpx.get(f"{server.url}/api/v1/messages/{message}", headers={"Authorization": f"Bearer {ada}"})
    assert kept.status_code == 200, kept.text

    assert mailbeacon(server, "user", "enable", "bea@example.com").returncode == 0
    assert key_works(server, bea["api_key"]) == 200
    assert relay_login(server, "bea@example.com", bea["smtp_password"]) == 235
    with Session(server.url) as browser:
        assert browser.login("bea@example.com").status_code == 303


def test_the_relay_forgets_a_remembered_login_once_the_user_is_disabled(server: Server) -> None:
    cid = add_user(server.data_dir, "cid@example.com", password=None)
    assert relay_login(server, "cid@example.com", cid["smtp_password"]) == 235  # remembered for minutes
    mailbeacon(server, "user", "disable", "cid@example.com")
    assert relay_login(server, "cid@example.com", cid["smtp_password"]) == 535


def test_deleting_a_user_ends_their_sessions_frees_the_address_and_keeps_their_messages(server: Server) -> None:
    dan = add_user(server.data_dir, "dan@example.com")
    message = send(server.url, dan["api_key"], to="bob@example.org", subject="Dan's", text="Hi")
    with Session(server.url) as browser:
        browser.login("dan@example.com")
        asked = mailbeacon(server, "user", "delete", "dan@example.com", input="n\n")
        assert asked.returncode != 0 and "1 message and 0 campaigns stay" in asked.stdout
        assert browser.logged_in(), "not deleted without a yes"
        done = mailbeacon(server, "user", "delete", "dan@example.com", "--yes")
        assert done.returncode == 0, done.stderr
        assert "user dan@example.com deleted; their 1 message and 0 campaigns stay" in done.stdout
        assert not browser.logged_in()
    assert key_works(server, dan["api_key"]) == 401
    assert "dan@example.com" not in mailbeacon(server, "user", "list").stdout
    kept = httpx.get(f"{server.url}/api/v1/messages/{message}", headers={"Authorization": f"Bearer {admin_key(server)}"})
    assert kept.status_code == 200 and kept.json()["subject"] == "Dan's"
    again = add_user(server.data_dir, "dan@example.com")  # the address is free again, and sees nothing of the old
    listed = httpx.get(f"{server.url}/api/v1/messages", headers={"Authorization": f"Bearer {again['api_key']}"})
    assert listed.status_code == 200 and listed.json()["messages"] == []


def test_the_api_lets_admins_only_manage_users(server: Server) -> None:
    eve = add_user(server.data_dir, "eve@example.com")
    fay = add_user(server.data_dir, "fay@example.com")
    ada = admin_key(server)
    with httpx.Client(base_url=server.url, timeout=10) as api:
        users = _ids(server)
        as_eve = api.post(f"/api/v1/users/{users['fay@example.com']}/disable",
                          headers={"Authorization": f"Bearer {eve['api_key']}"})
        assert as_eve.status_code == 403 and "admin" in as_eve.json()["error"]
        bearer = {"Authorization": f"Bearer {ada}"}
        disabled = api.post(f"/api/v1/users/{users['fay@example.com']}/disable", headers=bearer)
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        assert key_works(server, fay["api_key"]) == 401
        assert api.post(f"/api/v1/users/{users['fay@example.com']}/enable", headers=bearer).json()["disabled"] is False
        assert api.post(f"/api/v1/users/{users['ada@example.com']}/disable", headers=bearer).status_code == 409
        assert api.post("/api/v1/users/999999/disable", headers=bearer).status_code == 404
        gone = api.delete(f"/api/v1/users/{users['fay@example.com']}", headers=bearer)
        assert gone.status_code == 200 and gone.json()["deleted"] == "fay@example.com"
        assert api.delete(f"/api/v1/users/{users['fay@example.com']}", headers=bearer).status_code == 404


def test_the_users_page_disables_enables_and_deletes(server: Server) -> None:
    gus = add_user(server.data_dir, "gus@example.com")
    gus_id = _ids(server)["gus@example.com"]
    with Session(server.url) as ada:
        ada.login("ada@example.com")
        row = ada.page("/users").css_first(f'.user-row[data-id="{gus_id}"]')
        assert row is not None and row.css_first("button.user-disable") is not None
        ada.post(f"/users/{gus_id}/disable")
        page = ada.page("/users")
        assert "gus@example.com disabled" in page.css_first("#flash").text()
        row = page.css_first(f'.user-row[data-id="{gus_id}"]')
        assert row is not None and row.css_first(".user-disabled") is not None
        assert key_works(server, gus["api_key"]) == 401
        ada.post(f"/users/{gus_id}/enable")
        assert key_works(server, gus["api_key"]) == 200
        ada.post(f"/users/{gus_id}/delete")
        page = ada.page("/users")
        assert "gus@example.com deleted" in page.css_first("#flash").text()
        assert "gus@example.com" not in page.css_first("#users").text()
        ada.post("/users", {"email": "bob@localhost", "seat": "basic"})
        assert "'bob@localhost' is not an email address" in ada.page("/users").css_first("#flash").text()


def test_counts_read_as_english(server: Server, tmp_path: Path) -> None:
    hal = add_user(server.data_dir, "hal@example.com", password=None)
    assert server.smtp is not None
    with relay_client(server.smtp) as client:
        client.login("hal@example.com", hal["smtp_password"])
        client.mail("hal@example.com")
        client.rcpt("bob@example.org")
        code, reply = client.data(MAIL.format("hal@example.com").encode())
    assert code == 250 and reply.decode().endswith("(1 copy)"), reply
    eml = tmp_path / "one.eml"
    eml.write_text(MAIL.format("hal@example.com"))
    sent = mailbeacon(server, "send", str(eml), "--as", "hal@example.com", "--base-url", server.url)
    assert sent.returncode == 0 and ", 1 copy:" in sent.stdout, sent.stdout + sent.stderr


def _ids(server: Server) -> dict[str, int]:
    out = mailbeacon(server, "user", "list", "--json").stdout
    return {row["email"]: row["id"] for row in map(json.loads, out.splitlines())}


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def test_every_option_of_every_command_says_what_it_does() -> None:
    bare = [f"mailbeacon {' '.join(path)} {param.opts[0]}" for path, command in _commands(main)
            for param in command.params if isinstance(param, click.Option) and not param.hidden and not param.help]
    assert bare == []
    shown = " ".join(CliRunner().invoke(main, ["serve", "--help"]).output.split())
    assert "--tls-key FILE Private key (PEM) of --tls-cert" in shown
    assert "--no-open-tracking Add no pixel" in shown and "--no-click-tracking Leave links as they are" in shown
