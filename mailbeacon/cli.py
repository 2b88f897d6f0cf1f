"""The `mailbeacon` command: thin wrappers that parse arguments and call one function each."""

from __future__ import annotations

import email.message
import email.policy
import contextlib
import json
import secrets
from email.parser import BytesHeaderParser
import sys
from dataclasses import asdict
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import click

from mailbeacon import __version__
from mailbeacon.errors import MailbeaconError
from mailbeacon.instrument import Plan, TokenTracker, instrument_message
from mailbeacon.tokens import Keyring

if TYPE_CHECKING:
    from mailbeacon.store import ContactRow, Store, UserRow

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
              help="Address of the SMTP relay, or off.")
@click.option("--base-url", default=None, envvar="MAILBEACON_BASE_URL",
              help="Public URL of the tracking server (default: http://HTTP).")
@db_option
@click.option("--workers", default=1, show_default=True, type=int,
              help="Server processes sharing the port (each with its own group commit and spool).")
@click.option("--upstream", default=None, envvar="MAILBEACON_UPSTREAM",
              help="Real mail server, smtp://[user:pass@]host:port[?starttls=require|never&verify=false] or "
                   "smtps://...; default: the capture mailbox in the data directory.")
@click.option("--retry-after", "retry_first", default=60.0, show_default=True, type=float,
              help="Seconds before the first retry of a temporary upstream failure (each later wait doubles).")
@click.option("--webhook-retry-after", "webhook_retry_first", default=5.0, type=float, hidden=True,
              envvar="MAILBEACON_WEBHOOK_RETRY_AFTER",
              help="Seconds before a failed webhook is tried again (later waits scale with it); for tests.")
@click.option("--outbound-lease", default=120.0, show_default=True, type=float,
              help="Seconds a sender holds a copy it is delivering; after a crash, copies are sent again after it.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Relay certificate (PEM); default: a self-signed one made in the data directory.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--smtp-plain-auth", is_flag=True,
              help="Allow AUTH without STARTTLS; only on a loopback address, for testing.")
@click.option("--max-message-size", "size_limit", default=25 * 1024 * 1024, show_default=True, type=int,
              help="Larger messages are refused with 552.")
@click.option("--dkim-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Private key (PEM) to DKIM-sign every copy after instrumenting it.")
@click.option("--dkim-selector", default=None)
@click.option("--dkim-domain", default=None, help="Signing domain; default: the domain of the From address.")
@click.option("--no-tracking", is_flag=True, help="Kill switch: relay every copy untouched.")
@click.option("--no-open-tracking", is_flag=True)
@click.option("--no-click-tracking", is_flag=True)
@click.option("--no-split", is_flag=True,
              help="One copy for all recipients with one shared pixel (opens are 'one of the recipients').")
@click.option("--scanner-networks", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="More networks of link scanners, one CIDR a line (DATA/scanner_networks.txt is read too).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, default=["127.0.0.0/8", "::1/128"],
              show_default=True, help="Network whose X-Forwarded-For header is believed (repeat for several).")
@click.option("--honeypot", is_flag=True,
              help="Add an invisible link no person can reach to tracked copies: a click on it marks a scanner.")
@click.option("--instrument-dkim-signed", is_flag=True,
              help="Instrument mail that arrives DKIM-signed (its signature then fails unless --dkim-key re-signs).")
def serve(
    data_dir: Path,
    http: str,
    smtp: str,
    base_url: str | None,
    db_url: str | None,
    workers: int,
    upstream: str | None,
    retry_first: float,
    webhook_retry_first: float,
    outbound_lease: float,
    tls_cert: Path | None,
    tls_key: Path | None,
    smtp_plain_auth: bool,
    size_limit: int,
    dkim_key: Path | None,
    dkim_selector: str | None,
    dkim_domain: str | None,
    no_tracking: bool,
    no_open_tracking: bool,
    no_click_tracking: bool,
    no_split: bool,
    scanner_networks: Path | None,
    trusted_proxies: tuple[str, ...],
    honeypot: bool,
    instrument_dkim_signed: bool,
) -> None:
    """Run the tracking server and the SMTP relay: pixel, redirect, API, relay, outbound queue."""
    from mailbeacon import service
    from mailbeacon.submission import Switches

    try:
        http_host, http_port = service.parse_hostport(http)
        relay = smtp.lower() != "off"
        smtp_host, smtp_port = service.parse_hostport(smtp) if relay else ("127.0.0.1", 0)
        settings = service.Settings(
            data_dir=data_dir,
            http_host=http_host,
            http_port=http_port,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            relay=relay,
            base_url=base_url,
            db_url=db_url,
            workers=workers,
            upstream=upstream,
            retry_first=retry_first,
            webhook_retry_first=webhook_retry_first,
            outbound_lease=outbound_lease,
            smtp_plain_auth=smtp_plain_auth,
            tls_cert=tls_cert,
            tls_key=tls_key,
            smtp_size_limit=size_limit,
            dkim_key=dkim_key,
            dkim_selector=dkim_selector,
            dkim_domain=dkim_domain,
            trusted_proxies=_networks(trusted_proxies),
            scanner_networks=scanner_networks,
            switches=Switches(
                tracking=not no_tracking,
                opens=not no_open_tracking,
                clicks=not no_click_tracking,
                split=not no_split,
                instrument_dkim_signed=instrument_dkim_signed,
                honeypot=honeypot,
            ),
        )
        service.serve(settings)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc


def _networks(values: tuple[str, ...]) -> tuple[str, ...]:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--trusted-proxy") from exc
    return values


@main.command()
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
    click.echo(f"message {submitted.message_id} queued, {len(submitted.copies)} copies:")
    for copy in submitted.copies:
        tracked = ", ".join(kind for kind, on in (("opens", copy.opens_tracked), ("clicks", copy.clicks_tracked)) if on)
        click.echo(f"  {copy.recipient}: {tracked or 'not tracked'}"
                   + (f" ({copy.untracked_reason})" if copy.untracked_reason else ""))


@main.command()
@data_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def captured(data_dir: Path, as_json: bool) -> None:
    """List the mail in the capture mailbox, with the pixel and links a reader would load or click."""
    import datetime

    from mailbeacon.outbound import read_captured
    from mailbeacon.service import Settings

    maildir = Settings(data_dir=data_dir).capture_dir
    for copy in read_captured(maildir):
        if as_json:
            click.echo(json.dumps({**asdict(copy), "path": str(copy.path)}, ensure_ascii=False))
            continue
        when = datetime.datetime.fromtimestamp(copy.received_at).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{when}  to {copy.delivered_to}  {copy.subject!r}  ({copy.path})")
        for url in copy.pixel_urls:
            click.echo(f"    pixel  {url}")
        for url in copy.click_urls:
            click.echo(f"    link   {url}")


@main.command()
@data_option
@db_option
def reclassify(data_dir: Path, db_url: str | None) -> None:
    """Judge every stored open and click again with today's rules, and recount everything from them."""
    from mailbeacon import service
    from mailbeacon.pipeline import Pipeline

    try:
        policy = service.classify_policy(service.Settings(data_dir=data_dir, db_url=db_url))
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    with _store(data_dir, db_url) as store:
        derived = Pipeline(store, policy, batch=1000).reclassify()
    click.echo(f"reclassified {derived} events")


@main.group()
def ranges() -> None:
    """The networks the classifier knows: Apple's privacy proxies, mail security scanners."""


@ranges.command("import-apple")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
def import_apple(file: Path, data_dir: Path) -> None:
    """Replace the shipped Apple Mail Privacy Protection ranges with Apple's egress-ip-ranges.csv in FILE.

    Download https://mask-api.icloud.com/egress-ip-ranges.csv yourself; then run
    `mailbeacon reclassify` to judge past events with the new ranges.
    """
    from mailbeacon import service
    from mailbeacon.classify.networks import apple_csv_networks

    try:
        networks = apple_csv_networks(file.read_text("utf-8", errors="replace"))
    except ValueError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    if not networks:
        raise click.ClickException(f"{file}: no networks in it; the shipped ranges stay in use")
    target = data_dir / service.APPLE_RANGES
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(f"# imported from {file.name}\n" + "\n".join(networks) + "\n", "utf-8")
    tmp.replace(target)
    click.echo(f"{len(networks)} Apple networks in {target}; restart the server and run `mailbeacon reclassify`")


@main.group()
def dnt() -> None:
    """The do-not-track list: these recipients always get an untouched copy."""


@dnt.command("add")
@click.argument("addresses", nargs=-1, required=True)
@data_option
@db_option
def dnt_add(addresses: tuple[str, ...], data_dir: Path, db_url: str | None) -> None:
    """Add ADDRESSES to the do-not-track list."""
    with _store(data_dir, db_url) as store:
        for address in addresses:
            added = store.do_not_track_add(address)
            click.echo(f"{address.lower()}: {'added' if added else 'already on the list'}")


@dnt.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@data_option
@db_option
def dnt_remove(addresses: tuple[str, ...], data_dir: Path, db_url: str | None) -> None:
    """Take ADDRESSES off the do-not-track list."""
    with _store(data_dir, db_url) as store:
        for address in addresses:
            removed = store.do_not_track_remove(address)
            click.echo(f"{address.lower()}: {'removed' if removed else 'was not on the list'}")


@dnt.command("list")
@data_option
@db_option
def dnt_list(data_dir: Path, db_url: str | None) -> None:
    """Print the do-not-track list, one address a line."""
    with _store(data_dir, db_url) as store:
        for address in store.do_not_track():
            click.echo(address)


@contextlib.contextmanager
def _store(data_dir: Path, db_url: str | None) -> Iterator[Store]:
    from mailbeacon import service

    try:
        store, _ = service.open_data(service.Settings(data_dir=data_dir, db_url=db_url))
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield store
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


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


def _user_named(store: Store, email: str) -> UserRow:
    found = store.user_by_email(email)
    if found is None:
        raise click.ClickException(f"no user {email!r}; see `mailbeacon user list`")
    return found


@user.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@data_option
@db_option
def user_password(email: str, password_stdin: bool, data_dir: Path, db_url: str | None) -> None:
    """Set the password EMAIL logs in to the dashboard with; their other sessions end."""
    from mailbeacon import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store(data_dir, db_url) as store:
        accounts.set_dashboard_password(store, _user_named(store, email).id, password)
    click.echo(f"password of {email} set")


@user.command("new-key")
@click.argument("email")
@data_option
@db_option
def user_new_key(email: str, data_dir: Path, db_url: str | None) -> None:
    """Give EMAIL a new API key (printed once); the old key stops working at once."""
    from mailbeacon import accounts

    with _store(data_dir, db_url) as store:
        click.echo(accounts.replace_api_key(store, _user_named(store, email).id))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_option
@db_option
def user_list(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Every user with their seat, and whether they are an admin and can log in to the dashboard."""
    with _store(data_dir, db_url) as store:
        for u in store.users():
            row = {"id": u.id, "email": u.email, "seat": u.seat, "admin": u.is_admin,
                   "dashboard": u.password_hash is not None}
            if as_json:
                click.echo(json.dumps(row))
            else:
                flags = ", ".join(f for f in ("admin" if u.is_admin else "", "no password" if
                                              u.password_hash is None else "") if f)
                click.echo(f"{u.email}  {u.seat}{'  (' + flags + ')' if flags else ''}")


@user.command("set")
@click.argument("email")
@click.option("--seat", type=click.Choice(["basic", "sales"]), default=None, help="sales: click tracking of one-to-one mail.")
@click.option("--admin/--no-admin", default=None, help="Sees every message, and manages users.")
@data_option
@db_option
def user_set(email: str, seat: str | None, admin: bool | None, data_dir: Path, db_url: str | None) -> None:
    """Change a user's seat or admin role."""
    changes: dict[str, object] = {}
    if seat is not None:
        changes["seat"] = seat
    if admin is not None:
        changes["is_admin"] = admin
    if not changes:
        raise click.UsageError("nothing to change: give --seat or --admin/--no-admin")
    with _store(data_dir, db_url) as store:
        store.update_user(_user_named(store, email).id, **changes)
        changed = _user_named(store, email)
    click.echo(f"user {email}: {changed.seat} seat{', admin' if changed.is_admin else ''}")


@main.group()
def contacts() -> None:
    """Campaign contacts and their lists: CSV import, unsubscribes."""


@contacts.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--list", "list_name", required=True, help="The list to put them on (created if new).")
@click.option("--delimiter", default=None, help="The cell separator (`tab` for tabs); default: guessed from the header.")
@click.option("--encoding", default="utf-8", show_default=True, help="The file's encoding when it has no BOM.")
@data_option
@db_option
def contacts_import(
    file: BinaryIO, list_name: str, delimiter: str | None, encoding: str, data_dir: Path, db_url: str | None
) -> None:
    """Import FILE.csv ('-' for stdin): an `email` column, the other columns become fields.

    Bad rows are reported with their line numbers and skipped; duplicates merge;
    an unsubscribed contact stays unsubscribed. Exits non-zero if nothing could be imported.
    """
    from mailbeacon.campaigns.imports import describe_import, import_contacts

    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
    data = file.read()
    with _store(data_dir, db_url) as store:
        result = import_contacts(store, data, list_name, delimiter, encoding)
    for line in describe_import(result):
        click.echo(line)


@contacts.command("lists")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_option
@db_option
def contacts_lists(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print every contact list with its member counts."""
    with _store(data_dir, db_url) as store:
        found = store.lists()
    for item in found:
        if as_json:
            click.echo(json.dumps(asdict(item)))
        else:
            click.echo(f"{item.name}\t{item.members} members\t{item.unsubscribed} unsubscribed\tsince {_when(item.created_at)}")
    if not found and not as_json:
        click.echo("no lists yet: mailbeacon contacts import FILE.csv --list NAME")


@contacts.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print the contact as JSON.")
@data_option
@db_option
def contacts_show(email: str, as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print a contact: whether it is subscribed, its lists and its fields."""
    with _store(data_dir, db_url) as store:
        contact = _contact_named(store, email)
        lists = store.lists_of(contact.id)
    if as_json:
        click.echo(json.dumps({**asdict(contact), "subscribed": contact.is_subscribed, "lists": lists}))
        return
    click.echo(f"{contact.email}\n  {_subscription(contact)}\n  lists: {', '.join(lists) or 'none'}")
    for name, value in sorted(contact.fields.items()):
        click.echo(f"  {name}: {value}")


@contacts.command("unsubscribe")
@click.argument("email")
@data_option
@db_option
def contacts_unsubscribe(email: str, data_dir: Path, db_url: str | None) -> None:
    """Unsubscribe EMAIL from every campaign (as its unsubscribe link would)."""
    _set_subscribed(email, False, data_dir, db_url)


@contacts.command("resubscribe")
@click.argument("email")
@data_option
@db_option
def contacts_resubscribe(email: str, data_dir: Path, db_url: str | None) -> None:
    """Undo an unsubscribe; only for a person who asked to be mailed again."""
    _set_subscribed(email, True, data_dir, db_url)


def _set_subscribed(email: str, subscribed: bool, data_dir: Path, db_url: str | None) -> None:
    with _store(data_dir, db_url) as store:
        before = _contact_named(store, email)
        contact = store.resubscribe(before.id) if subscribed else store.unsubscribe(before.id, "cli")
    assert contact is not None  # just looked up; contacts are never deleted
    click.echo(f"{contact.email}: {'already ' if before.is_subscribed == subscribed else ''}{_subscription(contact)}")


def _contact_named(store: Store, email: str) -> ContactRow:
    contact = store.contact_by_email(email)
    if contact is None:
        raise click.ClickException(f"no contact {email!r}")
    return contact


def _subscription(contact: ContactRow) -> str:
    if contact.unsubscribed_at is None:
        return "subscribed"
    campaign = f", campaign {contact.unsubscribe_campaign_id}" if contact.unsubscribe_campaign_id else ""
    return f"unsubscribed since {_when(contact.unsubscribed_at)} ({contact.unsubscribe_source}{campaign})"


def _when(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


@main.group()
def campaign() -> None:
    """Campaigns: one template to a contact list, personalised per contact, always tracked."""


@campaign.command("preview")
@click.option("--template", "html_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML template (Jinja2: {{ contact.first_name | default('there') }}, {{ unsubscribe_url }}).")
@click.option("--text", "text_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The plain-text template, if the mail has a text part.")
@click.option("--subject", required=True, help="The subject, a template too.")
@click.option("--list", "list_name", default=None, help="Preview for the first subscribed contact of this list.")
@click.option("--contact", "email", default=None, help="Preview for this contact.")
@click.option("--open", "open_browser", is_flag=True, help="Write the HTML to a temporary file and open it in a browser.")
@data_option
@db_option
@click.option("--base-url", default=DEFAULT_BASE_URL, envvar="MAILBEACON_BASE_URL", show_default=True,
              help="Public URL of the tracking server, used in the unsubscribe link.")
def campaign_preview(
    html_path: Path, text_path: Path | None, subject: str, list_name: str | None, email: str | None,
    open_browser: bool, data_dir: Path, db_url: str | None, base_url: str,
) -> None:
    """Print one contact's copy (subject, headers, text and HTML) as a send would render it."""
    import tempfile

    from mailbeacon.campaigns.preview import format_preview, preview_contact, render_preview
    from mailbeacon.campaigns.templates import CampaignTemplate

    try:
        template = CampaignTemplate.load(html_path, text_path, subject=subject)  # errors before any lookup
        keyring = Keyring.load_or_create(data_dir)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    with _store(data_dir, db_url) as store:
        shown = render_preview(template, preview_contact(store, list_name, email), keyring, base_url)
    click.echo(format_preview(shown), nl=False)
    if open_browser:
        with tempfile.NamedTemporaryFile("w", suffix=".html", prefix="mailbeacon-preview-", delete=False) as out:
            out.write(shown.rendered.html)
        click.echo(f"HTML written to {out.name}")
        click.launch(out.name)


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


@main.group()
def privacy() -> None:
    """Privacy settings: IP truncation after N days, retention of events (also on the dashboard's Settings)."""


@privacy.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@data_option
@db_option
def privacy_show(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print the privacy settings in effect."""
    with _store(data_dir, db_url) as store:
        current = asdict(store.get_settings())
    if as_json:
        click.echo(json.dumps(current))
        return
    for name, value in current.items():
        click.echo(f"{name} = {'never' if value is None else value}")


@privacy.command("set")
@click.argument("name", type=click.Choice(["ip_truncate_after_days", "retention_days"]))
@click.argument("days")
@data_option
@db_option
def privacy_set(name: str, days: str, data_dir: Path, db_url: str | None) -> None:
    """Set NAME to DAYS (a whole number) or `never`; `mailbeacon serve` applies it within the hour."""
    value = None if days.lower() in ("never", "none", "null") else _whole_number(days)
    with _store(data_dir, db_url) as store:
        store.set_setting(name, value)
    click.echo(f"{name} = {days.lower() if value is None else value}")


@privacy.command("apply")
@data_option
@db_option
def privacy_apply(data_dir: Path, db_url: str | None) -> None:
    """Apply the settings now: delete events past the retention, cut old IPs to their network.

    Counters already derived from deleted events stay; `mailbeacon reclassify`
    afterwards would recount from the events kept only.
    """
    import time

    from mailbeacon.pipeline.privacy import forget_addresses

    with _store(data_dir, db_url) as store:
        run = store.apply_privacy(time.time(), pause=0.01, forget=forget_addresses)
    click.echo(f"{run.truncated} IPs truncated, {run.deleted} old events deleted")


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither a whole number of days nor `never`") from None


@main.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing activity as it is classified, until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line (JSON lines), for programs.")
@click.option("--user", "email", default=None, help="Only the activity of mail this user sent.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 100_000),
              help="How many of the latest items to print first.")
@data_option
@db_option
def feed(follow: bool, as_json: bool, email: str | None, limit: int, data_dir: Path, db_url: str | None) -> None:
    """Print the activity feed, newest last: who opened or clicked what, judged human or machine."""
    from rich.console import Console

    from mailbeacon import feedview

    with _store(data_dir, db_url) as store:
        viewer = None
        if email is not None:
            viewer = store.user_by_email(email)
            if viewer is None:
                raise click.ClickException(f"no user {email!r}; `mailbeacon user list` shows who there is")
        console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
        printer = feedview.FeedPrinter(store, console, as_json, viewer)
        items, position = feedview.recent(store, viewer, limit)
        printer.print(items)
        if follow:
            try:
                feedview.follow(store, None if viewer is None else [viewer.id], position, printer.print,
                                lambda text: click.echo(text, err=True))
            except KeyboardInterrupt:
                pass  # Ctrl-C ends --follow; that is not an error


def _header(headers: email.message.Message, name: str) -> str | None:
    try:
        value = headers.get(name)
    except (ValueError, IndexError):  # a header the parser cannot read is just not recorded
        return None
    return str(value) if value is not None else None
