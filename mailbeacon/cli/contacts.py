"""`mailbeacon contacts`: CSV import, lists, one contact, unsubscribe and resubscribe."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from mailbeacon.cli.options import data_option, db_option, open_store, when
from mailbeacon.wording import many

if TYPE_CHECKING:
    from mailbeacon.store import ContactRow, Store

@click.group()
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
    with open_store(data_dir, db_url) as store:
        result = import_contacts(store, data, list_name, delimiter, encoding)
    for line in describe_import(result):
        click.echo(line)


@contacts.command("lists")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_option
@db_option
def contacts_lists(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print every contact list with its member counts."""
    with open_store(data_dir, db_url) as store:
        found = store.lists()
    for item in found:
        if as_json:
            click.echo(json.dumps(asdict(item)))
        else:
            click.echo(f"{item.name}\t{many(item.members, 'member')}\t{item.unsubscribed} unsubscribed\tsince {when(item.created_at)}")
    if not found and not as_json:
        click.echo("no lists yet: mailbeacon contacts import FILE.csv --list NAME")


@contacts.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print the contact as JSON.")
@data_option
@db_option
def contacts_show(email: str, as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print a contact: whether it is subscribed, its lists and its fields."""
    with open_store(data_dir, db_url) as store:
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
    with open_store(data_dir, db_url) as store:
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
    return f"unsubscribed since {when(contact.unsubscribed_at)} ({contact.unsubscribe_source}{campaign})"
