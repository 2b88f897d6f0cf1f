"""The `mailbeacon` command: thin wrappers that parse arguments and call one function each."""

from __future__ import annotations

import json
import secrets
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
@data_option
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
    data_dir: Path,
    base_url: str,
) -> None:
    """Instrument the message in FILE ('-' for stdin) for one recipient; write it to stdout."""
    raw = file.read()
    keyring = _keyring(data_dir)
    delivery = secrets.token_bytes(12)
    tracker = TokenTracker(base_url, keyring, delivery)
    result = instrument_message(raw, Plan(opens=not no_opens, clicks=not no_clicks), tracker)
    if as_report:
        payload = {"delivery": delivery.hex(), "recipient": recipient, "sender": sender, **result.report.to_json()}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        sys.stdout.buffer.write(result.message)
        sys.stdout.buffer.flush()
    if result.report.error:
        click.echo(f"mailbeacon: message passed on unchanged: {result.report.error}", err=True)


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


def _keyring(data_dir: Path) -> Keyring:
    try:
        return Keyring.load_or_create(data_dir)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
