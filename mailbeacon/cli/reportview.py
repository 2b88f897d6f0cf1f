"""`mailbeacon campaign report NAME`: a campaign's report as rich tables, as JSON (--json), or its recipients as CSV.

The tables show human next to raw, as the dashboard does. Addresses, URLs and client names
come from outside: they go into the tables as plain `Text`, never parsed as rich markup.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailbeacon.cli.options import data_option, db_option, open_store, when
from mailbeacon.wording import many

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

LISTED = 10
"""Links, clients and devices shown in the tables (--json has them all)."""


@click.command("report")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (the API's GET /api/v1/campaigns/{id}).")
@click.option("--csv", "csv_file", default=None, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write one row per list member reached to FILE ('-': standard output) instead.")
@click.option("--bucket", type=click.Choice(["hour", "day"]), default="hour", show_default=True,
              help="The timeline's bucket in --json.")
@data_option
@db_option
def campaign_report(
    name: str, as_json: bool, csv_file: Path | None, bucket: str, data_dir: Path, db_url: str | None
) -> None:
    """Campaign NAME's report: progress, opens and clicks (human and raw), rates, top links, clients and
    devices, what could not be tracked, unsubscribes and bounces."""
    import json

    from mailbeacon.views.campaign_csv import csv_chunks
    from mailbeacon.views.campaign_reports import BUCKETS, report_json

    with open_store(data_dir, db_url) as store:
        found = store.campaign_named(name)
        if found is None:
            raise click.ClickException(f"no campaign {name!r}; `mailbeacon campaign list` shows them")
        if csv_file is not None:
            out = sys.stdout if str(csv_file) == "-" else csv_file.open("w", encoding="utf-8", newline="")
            try:
                for chunk in csv_chunks(store.campaign_recipients(found.id), store.campaign_field_names(found.id)):
                    out.write(chunk)
            finally:
                if out is not sys.stdout:
                    out.close()
            if out is not sys.stdout:
                click.echo(f"campaign {name}: recipients written to {csv_file}", err=True)
            return
        report = store.campaign_report(found.id, BUCKETS[bucket])
    assert report is not None
    body = report_json(report)
    if as_json:
        click.echo(json.dumps(body))
        return
    from rich.console import Console

    show(body, Console(highlight=False, soft_wrap=False))


def show(r: dict[str, Any], console: Console) -> None:
    """The report (`report_json`'s shape) as lines and tables."""
    from rich.text import Text

    p, o, c, rates = r["progress"], r["opens"], r["clicks"], r["rates"]
    withdrawn = f", {p['withdrawn']:,} withdrawn by the cancel" if p["withdrawn"] else ""
    console.print(Text.assemble(("campaign ", "bold"), (r["name"], "bold"), f"  {r['status']}"))
    console.print(Text(f"subject template: {r['subject']}  ·  from {r['from']}  ·  list {r['list']['name']}  ·  "
                       f"started {when(r['started_at'] or r['created_at'])}"))
    console.print(Text(f"{many(p['total'], 'member')}: {many(p['queued'], 'copy')} ({p['sent']:,} sent, {p['bounced']:,} bounced, "
                       f"{p['pending']:,} pending{withdrawn}), {p['skipped']:,} skipped; {pct(p['done'])} done"))
    headline = _table("Opens and clicks", ("", "human", "raw"))
    headline.add_row("opened (unique)", f"{o['unique_human']:,}  {pct(rates['open'])}",
                     f"{o['unique']:,}  {pct(rates['open_raw'])}")
    headline.add_row("opens", f"{o['human']:,}", f"{o['raw']:,}")
    headline.add_row("clicked (unique)", f"{c['unique_human']:,}  {pct(rates['click'])}",
                     f"{c['unique']:,}  {pct(rates['click_raw'])}")
    headline.add_row("clicks", f"{c['human']:,}", f"{c['raw']:,}")
    headline.add_row("opened without images", f"{o['inferred']:,}", "")
    console.print(headline)
    console.print(Text(f"rates over {many(p['sent'], 'delivered copy')}; click-to-open {pct(rates['click_to_open'])}; "
                       f"machines: {many(o['machine'], 'open')}, {many(c['machine'], 'click')}"))
    links = _table("Top links", ("URL", "human", "raw"))
    for link in r["links"][:LISTED]:
        links.add_row(Text(link["url"]), f"{link['clicks']['human']:,}", f"{link['clicks']['raw']:,}")
    console.print(links)
    for title, key in (("Clients", "client"), ("Devices", "device")):
        table = _table(title, (key, "human", "machine", "events"))
        for row in r[f"{key}s"][:LISTED]:
            table.add_row(Text(row[key]), f"{row['human']:,}", f"{row['machine']:,}", f"{row['events']:,}")
        console.print(table)
    u = r["untrackable"]
    console.print(Text(f"untrackable: {many(u['copies'], 'copy')} ({pct(u['share'])}), {u['opens_untracked']:,} without "
                       f"open tracking; {many(u['images_blocked'], 'reader')} clicked without loading images"))
    for reason in u["reasons"]:
        console.print(Text(f"  {reason['copies']:,}  {reason['reason']}"))
    console.print(Text(f"unsubscribes: {r['unsubscribes']:,} ({pct(rates['unsubscribe'])})"))
    for item in r["unsubscribed"]:
        console.print(Text(f"  {when(item['at'])}  {item['email']}  ({item['source']})"))
    console.print(Text(f"bounces: {p['bounced']:,} ({pct(rates['bounce'])})"))
    for item in r["bounces"]:
        console.print(Text(f"  {item['recipient']}: {item['reply'] or 'no reply recorded'}"))


def _table(title: str, columns: tuple[str, ...]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for n, column in enumerate(columns):
        table.add_column(column, justify="left" if n == 0 else "right", overflow="fold")
    return table


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
