"""`mailbeacon suppression`: the addresses this instance no longer mails (issue #15, item 3)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from mailbeacon.cli.options import data_option, db_option, open_store


@click.group()
def suppression() -> None:
    """The suppression list: addresses no campaign mails again, and one-to-one mail neither.

    A hard bounce (5xx), a complaint, three copies in a row given up after temporary
    failures, or an admin's `add` puts an address here; an unsubscribe too, which stops
    campaigns only. The relay refuses a suppressed recipient with 550 5.1.1, the API with
    409 unless the message says "send_to_suppressed": true; `remove` mails it again.
    """


@suppression.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_option
@db_option
def suppression_list(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print the list, newest first: ADDRESS<TAB>REASON<TAB>SINCE<TAB>DETAIL."""
    with open_store(data_dir, db_url) as store:
        entries = store.suppression_list()
    for entry in entries:
        since = datetime.fromtimestamp(entry.created_at, timezone.utc).isoformat(timespec="seconds")
        if as_json:
            click.echo(json.dumps({"address": entry.address, "reason": entry.reason, "since": since,
                                   "detail": entry.detail}))
        else:
            click.echo("\t".join((entry.address, entry.reason, since, entry.detail or "")))


@suppression.command("add")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--note", default=None, help="Why, in your words (kept as the entry's detail).")
@data_option
@db_option
def suppression_add(addresses: tuple[str, ...], note: str | None, data_dir: Path, db_url: str | None) -> None:
    """Suppress ADDRESSES by hand."""
    with open_store(data_dir, db_url) as store:
        for address in addresses:
            if "@" not in address:
                raise click.ClickException(f"{address!r} is not an email address")
            added = store.suppress(address, "manual", note)
            click.echo(f"{address.lower()}: {'suppressed' if added else 'already on the list'}")


@suppression.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@data_option
@db_option
def suppression_remove(addresses: tuple[str, ...], data_dir: Path, db_url: str | None) -> None:
    """Take ADDRESSES off the list: they are mailed again (an unsubscribed contact stays unsubscribed)."""
    with open_store(data_dir, db_url) as store:
        for address in addresses:
            removed = store.unsuppress(address)
            click.echo(f"{address.lower()}: {'removed' if removed else 'was not on the list'}")
