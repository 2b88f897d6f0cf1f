"""Mail from the command line: instrument one message, queue one, read the capture mailbox."""

from __future__ import annotations

import email.message
import email.policy
import json
import secrets
import sys
from dataclasses import asdict
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

import click

from mailbeacon.cli.options import DEFAULT_BASE_URL, data_option, db_option
from mailbeacon.errors import MailbeaconError
from mailbeacon.instrument import Plan, TokenTracker, instrument_message
from mailbeacon.wording import many

@click.command()
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


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option("--as", "as_user", required=True, help="Email of the mailbeacon user sending it.")
@click.option("--to", "extra_to", multiple=True, help="Envelope recipients; default: To, Cc and Bcc of the message.")
@data_option
@db_option
@click.option("--base-url", default=DEFAULT_BASE_URL, envvar="MAILBEACON_BASE_URL", show_default=True,
              help="Public URL of the tracking server, used in every tracking link.")
@click.option("--json", "as_json", is_flag=True, help="Print what was queued as JSON.")
def send(
    file: BinaryIO, as_user: str, extra_to: tuple[str, ...], data_dir: Path, db_url: str | None, base_url: str,
    as_json: bool,
) -> None:
    """Queue the message in FILE ('-' for stdin) as USER, tracked like mail through the relay.

    The running `mailbeacon serve` on the same data delivers it.
    """
    from email.utils import getaddresses

    from mailbeacon import service
    from mailbeacon.instrument import field_values
    from mailbeacon.submission import Sender

    raw = file.read()
    raw = b"\r\n".join(line.rstrip(b"\r") for line in raw.split(b"\n"))  # SMTP's line ending
    recipients = list(extra_to) or [
        address for name in ("To", "Cc", "Bcc") for _, address in getaddresses(field_values(raw, name)) if address
    ]
    if not recipients:
        raise click.ClickException("no recipients: the message has no To, Cc or Bcc, and no --to was given")
    try:
        settings = service.Settings(data_dir=data_dir, db_url=db_url, base_url=base_url)
        store, keyring = service.open_data(settings)
        try:
            user_row = store.user_by_email(as_user)
            if user_row is None:
                raise click.ClickException(f"no user {as_user!r}: create one with `mailbeacon user add`")
            sender = Sender(user_row.id, user_row.email, user_row.seat)
            submitted = service.submitter(settings, store, keyring).submit(sender, user_row.email, recipients, raw, "send")
        finally:
            store.close()
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"message_id": submitted.message_id, "copies": [asdict(c) for c in submitted.copies]}))
        return
    click.echo(f"message {submitted.message_id} queued, {many(len(submitted.copies), 'copy')}:")
    for copy in submitted.copies:
        tracked = ", ".join(kind for kind, on in (("opens", copy.opens_tracked), ("clicks", copy.clicks_tracked)) if on)
        click.echo(f"  {copy.recipient}: {tracked or 'not tracked'}"
                   + (f" ({copy.untracked_reason})" if copy.untracked_reason else ""))


@click.command()
@data_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def captured(data_dir: Path, as_json: bool) -> None:
    """List the mail in the capture mailbox, with the pixel a reader's client loads and each link's target.

    Links are read with the data directory's keys (their tokens carry the target); the
    invisible honeypot link of campaigns is left out.
    """
    import datetime

    from mailbeacon.outbound import read_captured, tracked_links
    from mailbeacon.service import Settings
    from mailbeacon.tokens import Keyring

    settings = Settings(data_dir=data_dir)
    keyring = Keyring.load_or_create(data_dir) if (data_dir / "keys").exists() else None  # a listing makes no keys
    for copy in read_captured(settings.capture_dir):
        links = tracked_links(copy, keyring)
        if as_json:
            click.echo(json.dumps({
                **asdict(copy),
                "path": str(copy.path),
                "click_urls": [link.url for link in links],  # issue #13: never the honeypot
                "links": [{"url": link.url, "target": link.target} for link in links],
            }, ensure_ascii=False))
            continue
        when = datetime.datetime.fromtimestamp(copy.received_at).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{when}  to {copy.delivered_to}  {copy.subject!r}  ({copy.path})")
        for url in copy.pixel_urls:
            click.echo(f"    pixel  {url}")
        for link in links:
            target = link.target or "(target unknown: not signed by this data directory's keys)"
            click.echo(f"    link   {target}\n           via {link.url}")


def _header(headers: email.message.Message, name: str) -> str | None:
    try:
        value = headers.get(name)
    except (ValueError, IndexError):  # a header the parser cannot read is just not recorded
        return None
    return str(value) if value is not None else None
