"""`mailbeacon mailbox`: connect a user's own mail account, show it, test it, disconnect it (issue #14).

Passwords come from a prompt, from stdin or from a file, never from an argument (which
`ps` and the shell's history would show), and no command prints one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailbeacon.cli.options import data_option, db_option, open_store, when
from mailbeacon.errors import MailbeaconError

if TYPE_CHECKING:
    from mailbeacon.mailboxes import Check, Mailboxes, MailboxView

SECURITY = click.Choice(["starttls", "tls", "none"])


@click.group()
def mailbox() -> None:
    """A user's own mailbox: their mail goes out through its SMTP server and lands in its Sent folder."""


@contextmanager
def _mailboxes(data_dir: Path, db_url: str | None, email: str | None) -> Iterator[tuple[Mailboxes, int]]:
    from mailbeacon.mailboxes import Mailboxes, SecretBox

    with open_store(data_dir, db_url) as store:
        user_id = 0
        if email is not None:
            found = store.user_by_email(email)
            if found is None:
                raise click.ClickException(f"no user {email!r}; see `mailbeacon user list`")
            user_id = found.id
        try:
            yield Mailboxes(store, SecretBox.load_or_create(data_dir)), user_id
        except MailbeaconError as exc:
            raise click.ClickException(str(exc)) from exc


def _passwords(password_stdin: bool, password_file: Path | None) -> tuple[str, str]:
    """(SMTP, IMAP): the first line, and the second one (empty or absent: the same)."""
    if password_stdin or password_file is not None:
        try:
            text = sys.stdin.read() if password_stdin else password_file.read_text("utf-8")  # type: ignore[union-attr]
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read the passwords: {exc}") from exc
        lines = [line.rstrip("\r") for line in text.split("\n")]
        smtp = lines[0] if lines else ""
        imap = lines[1] if len(lines) > 1 and lines[1] else smtp
        return smtp, imap
    smtp = click.prompt("SMTP password", hide_input=True)
    imap = click.prompt("IMAP password (Enter: the same)", hide_input=True, default="", show_default=False)
    return smtp, imap or smtp


@mailbox.command("connect")
@click.option("--user", "email", required=True, help="The mailbeacon user whose mailbox it is.")
@click.option("--smtp-host", required=True, help="SMTP submission server, e.g. smtp.example.com.")
@click.option("--smtp-port", type=int, default=None, help="Default: 587 for starttls, 465 for tls.")
@click.option("--smtp-security", type=SECURITY, default="starttls", show_default=True,
              help="none only to this machine (127.0.0.1, ::1, localhost).")
@click.option("--smtp-user", default=None, help="SMTP login; default: the user's email.")
@click.option("--imap-host", required=True, help="IMAP server, e.g. imap.example.com.")
@click.option("--imap-port", type=int, default=None, help="Default: 993 for tls, 143 for starttls.")
@click.option("--imap-security", type=SECURITY, default="tls", show_default=True,
              help="none only to this machine (127.0.0.1, ::1, localhost).")
@click.option("--imap-user", default=None, help="IMAP login; default: the SMTP login.")
@click.option("--sent-folder", default=None, help="Append to this folder; default: the one flagged \\Sent, or 'Sent'.")
@click.option("--sent-copy", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="File the sender's copy in the Sent folder; auto: not where the provider does (Gmail, Outlook).")
@click.option("--trust-smtp-cert", default=None, metavar="SHA256",
              help="Accept this certificate although it does not verify (the fingerprint a failed connect showed).")
@click.option("--trust-imap-cert", default=None, metavar="SHA256", help="The same, for the IMAP server.")
@click.option("--password-stdin", is_flag=True, help="Read the SMTP password from stdin's first line, IMAP's from the second.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read them from a file, the same way.")
@click.option("--json", "as_json", is_flag=True, help="Print the connected mailbox as JSON.")
@data_option
@db_option
def connect(
    email: str, smtp_host: str, smtp_port: int | None, smtp_security: str, smtp_user: str | None, imap_host: str,
    imap_port: int | None, imap_security: str, imap_user: str | None, sent_folder: str | None, sent_copy: str,
    trust_smtp_cert: str | None, trust_imap_cert: str | None, password_stdin: bool, password_file: Path | None,
    as_json: bool, data_dir: Path, db_url: str | None,
) -> None:
    """Test both logins, then connect the mailbox of USER (replacing an earlier one); nothing is saved on failure."""
    from mailbeacon.mailboxes import ConnectFailed, MailboxError, MailboxSettings, Secrets, endpoint, sent_copy_mode

    if password_stdin and password_file is not None:
        raise click.UsageError("give --password-stdin or --password-file, not both")
    try:
        smtp = endpoint("smtp", smtp_host, smtp_port, smtp_security, smtp_user or email, trust_smtp_cert)
        imap = endpoint("imap", imap_host, imap_port, imap_security, imap_user or smtp.username, trust_imap_cert)
        settings = MailboxSettings(smtp, imap, sent_folder.strip() if sent_folder else None, sent_copy_mode(sent_copy))
    except MailboxError as exc:
        raise click.UsageError(str(exc)) from exc
    secrets = Secrets(*_passwords(password_stdin, password_file))
    with _mailboxes(data_dir, db_url, email) as (mailboxes, user_id):
        try:
            view = mailboxes.connect(user_id, settings, secrets)
        except ConnectFailed as exc:
            raise click.ClickException("not connected, nothing saved:\n" + _checks(exc.checks)) from exc
    if as_json:
        click.echo(json.dumps(view.to_json()))
        return
    click.echo(f"mailbox of {email} connected")
    _show(view)


@mailbox.command("show")
@click.option("--user", "email", required=True, help="The mailbeacon user whose mailbox it is.")
@click.option("--json", "as_json", is_flag=True, help="Print the mailbox as JSON.")
@data_option
@db_option
def show(email: str, as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """The connected mailbox of USER: servers, logins, Sent folder; never a password."""
    with _mailboxes(data_dir, db_url, email) as (mailboxes, user_id):
        view = mailboxes.show(user_id)
    if view is None:
        raise click.ClickException(f"{email} has no mailbox connected: their mail goes through the server's upstream")
    if as_json:
        click.echo(json.dumps(view.to_json()))
    else:
        _show(view)


@mailbox.command("test")
@click.option("--user", "email", required=True, help="The mailbeacon user whose mailbox it is.")
@data_option
@db_option
def test(email: str, data_dir: Path, db_url: str | None) -> None:
    """Log in to both servers again with the stored settings; exits 1 if either fails."""
    with _mailboxes(data_dir, db_url, email) as (mailboxes, user_id):
        checks = mailboxes.test(user_id)
    if not all(check.ok for check in checks):
        raise click.ClickException("test failed:\n" + _checks(checks))
    click.echo(_checks(checks))


@mailbox.command("disconnect")
@click.option("--user", "email", required=True, help="The mailbeacon user whose mailbox it is.")
@data_option
@db_option
def disconnect(email: str, data_dir: Path, db_url: str | None) -> None:
    """Forget the mailbox of USER and its passwords; their queued mail goes through the server's upstream."""
    with _mailboxes(data_dir, db_url, email) as (mailboxes, user_id):
        gone = mailboxes.disconnect(user_id)
    if gone is None:
        raise click.ClickException(f"{email} has no mailbox connected")
    click.echo(f"mailbox of {email} disconnected; {gone.rerouted} queued copies go through the server's upstream, "
               f"{gone.dropped} Sent-folder copies will not be filed")


@mailbox.command("rotate-key")
@data_option
@db_option
def rotate_key(data_dir: Path, db_url: str | None) -> None:
    """Seal every stored mailbox password with a new key (DATA/mailbox.key), then drop the old key."""
    with _mailboxes(data_dir, db_url, None) as (mailboxes, _):
        count = mailboxes.rotate_key()
    click.echo(f"new key in {mailboxes.box.path}; {count} mailboxes resealed")


def _show(view: MailboxView) -> None:
    for where in (view.smtp, view.imap):
        trusted = f", trusting certificate {where.pin}" if where.pin else ""
        click.echo(f"  {where.kind.upper():4}  {where.host}:{where.port} ({where.security}), login {where.username}"
                   f"{trusted}")
    if view.appends_sent_copy:
        folder = view.sent_folder or view.sent_folder_found or "not found yet"
        click.echo(f"  Sent copies filed in {folder!r}")
    else:
        who = view.provider_files or "nobody"
        click.echo(f"  Sent copies not filed by mailbeacon ({'filed by ' + who if view.provider_files else who})")
    if view.tested_at is not None:
        click.echo(f"  last test {when(view.tested_at)}: {view.test_result}")


def _checks(checks: list[Check]) -> str:
    return "\n".join(f"  {'ok  ' if check.ok else 'FAIL'} {check.text()}" for check in checks)
