"""`mailbeacon privacy`: IP truncation and retention settings, applied now or hourly by the server."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from mailbeacon.cli.options import data_option, db_option, open_store
from mailbeacon.wording import many

@click.group()
def privacy() -> None:
    """Privacy settings: IP truncation after N days, retention of events (also on the dashboard's Settings)."""


@privacy.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@data_option
@db_option
def privacy_show(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Print the privacy settings in effect."""
    with open_store(data_dir, db_url) as store:
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
    with open_store(data_dir, db_url) as store:
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

    with open_store(data_dir, db_url) as store:
        run = store.apply_privacy(time.time(), pause=0.01, forget=forget_addresses)
    click.echo(f"{many(run.truncated, 'IP')} truncated, {many(run.deleted, 'old event')} deleted")


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither a whole number of days nor `never`") from None
