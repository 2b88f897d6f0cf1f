"""The `mailbeacon` command: thin wrappers that parse arguments and call one function each."""

from __future__ import annotations

import email.message
import email.policy
import json
import secrets
from email.parser import BytesHeaderParser
import sys
from pathlib import Path
from typing import BinaryIO

import click

from mailbeacon import __version__
from mailbeacon.errors import MailbeaconError
from mailbeacon.instrument import Plan, TokenTracker, instrument_message
from mailbeacon.tokens import Keyring

DEFAULT_DATA = "./mailbeacon-data"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA,
    envvar="MAILBEACON_DATA",
    show_default=True,
    help="Data directory: keys, database, spool, captured mail.",
)


@click.group()
@click.version_option(__version__, prog_name="mailbeacon")
def main() -> None:
    """Email open and click tracking that never breaks the email."""


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--to", "recipient", required=True, help="The recipient this copy is for.")
@click.option("--from", "sender", default=None, help="The sender (recorded with the message).")
@click.option("--no-clicks", is_flag=True, help="Leave every link as it is.")
@click.option("--no-opens", is_flag=True, help="Add no open pixel.")
@click.option("--report", "as_report", is_flag=True, help="Print the report as JSON instead of the message.")
@click.option("--utm", default="", help="Query parameters added to every tracked link, e.g. utm_source=mail&utm_medium=email.")
@data_option
@click.option(
    "--db",
    "db_url",
    default=None,
    envvar="MAILBEACON_DB",
    help="Database URL (default: SQLite in the data directory).",
)
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    envvar="MAILBEACON_BASE_URL",
    show_default=True,
    help="Public URL of the tracking server, used in every tracking link.",
)
def instrument(
    file: BinaryIO,
    recipient: str,
    sender: str | None,
    no_clicks: bool,
    no_opens: bool,
    as_report: bool,
    utm: str,
    data_dir: Path,
    db_url: str | None,
    base_url: str,
) -> None:
    """Instrument the message in FILE ('-' for stdin) for one recipient; write it to stdout.

    The message, its delivery and its links are recorded in the store first, so
    the opens and clicks of the output are attributed to RECIPIENT.
    """
    from mailbeacon import service

    raw = file.read()
    delivery = secrets.token_bytes(12)
    try:
        store, keyring = service.open_data(service.Settings(data_dir=data_dir, db_url=db_url))
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        tracker = TokenTracker(base_url, keyring, delivery)
        result = instrument_message(raw, Plan(opens=not no_opens, clicks=not no_clicks, utm=utm), tracker)
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        links = {link.link: link.target for link in result.report.tracked_links if link.link is not None}
        store.record_message(
            user_id=None,
            sender=sender or _header(headers, "From"),
            subject=_header(headers, "Subject"),
            message_id_header=_header(headers, "Message-ID"),
            deliveries=[(delivery, recipient)],
            links=sorted(links.items()),
            utm=utm or None,
        )
    except MailbeaconError as exc:
        raise click.ClickException(f"could not record the message, nothing was sent out: {exc}") from exc
    finally:
        store.close()
    if as_report:
        payload = {
            "delivery": delivery.hex(),
            "recipient": recipient,
            "sender": sender,
            "pixel_url": tracker.pixel_url() if result.report.opens_tracked else None,
            **result.report.to_json(),
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        sys.stdout.buffer.write(result.message)
        sys.stdout.buffer.flush()
    if result.report.error:
        click.echo(f"mailbeacon: message passed on unchanged: {result.report.error}", err=True)


db_option = click.option(
    "--db",
    "db_url",
    default=None,
    envvar="MAILBEACON_DB",
    help="Database URL, e.g. postgresql://user@host/db (default: SQLite in the data directory).",
)


@main.command()
@data_option
@click.option("--http", "http", default="127.0.0.1:8080", show_default=True, envvar="MAILBEACON_HTTP",
              help="Address of the tracking server.")
@click.option("--smtp", "smtp", default="127.0.0.1:2525", show_default=True, envvar="MAILBEACON_SMTP",
              help="Address of the SMTP relay (the relay arrives with issue #4).")
@click.option("--base-url", default=None, envvar="MAILBEACON_BASE_URL",
              help="Public URL of the tracking server (default: http://HTTP).")
@db_option
@click.option("--workers", default=1, show_default=True, type=int,
              help="Server processes sharing the port (each with its own group commit and spool).")
def serve(data_dir: Path, http: str, smtp: str, base_url: str | None, db_url: str | None, workers: int) -> None:
    """Run the tracking server: pixel, redirect, health, metrics and the events API."""
    from mailbeacon import service

    try:
        http_host, http_port = service.parse_hostport(http)
        smtp_host, smtp_port = service.parse_hostport(smtp)
        settings = service.Settings(
            data_dir=data_dir,
            http_host=http_host,
            http_port=http_port,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            base_url=base_url,
            db_url=db_url,
            workers=workers,
        )
        service.serve(settings)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def user() -> None:
    """Users: who sends tracked mail, with which seat."""


@user.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Sees every message, not only their own.")
@click.option("--seat", type=click.Choice(["basic", "sales"]), default="basic", show_default=True,
              help="sales adds click tracking of one-to-one mail.")
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON.")
@data_option
@db_option
def add_user(email: str, admin: bool, seat: str, as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Create a user; prints their API key and SMTP password once (only hashes are kept)."""
    from mailbeacon import accounts, service

    try:
        store, _ = service.open_data(service.Settings(data_dir=data_dir, db_url=db_url))
        try:
            created = accounts.create_user(store, email, is_admin=admin, seat=seat)
        finally:
            store.close()
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"email": email, "api_key": created.api_key, "smtp_password": created.smtp_password}))
    else:
        click.echo(f"user {email} ({'admin, ' if admin else ''}{seat} seat)")
        click.echo(f"API key:       {created.api_key}")
        click.echo(f"SMTP password: {created.smtp_password}")
        click.echo("Keep them now: only their hashes are stored.")


@main.group()
def keys() -> None:
    """The signing keys of tracking links."""


@keys.command("rotate")
@data_option
def rotate_keys(data_dir: Path) -> None:
    """Sign new links with a new key; links already sent keep working."""
    try:
        kid = Keyring.rotate(data_dir)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"new signing key {kid} in {data_dir / 'keys'}")


def _header(headers: email.message.Message, name: str) -> str | None:
    try:
        value = headers.get(name)
    except (ValueError, IndexError):  # a header the parser cannot read is just not recorded
        return None
    return str(value) if value is not None else None
