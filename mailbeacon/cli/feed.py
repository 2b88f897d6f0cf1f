"""`mailbeacon feed`: the activity feed in the terminal, once or following."""

from __future__ import annotations

from pathlib import Path

import click

from mailbeacon.cli.options import data_option, db_option, open_store

@click.command()
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

    with open_store(data_dir, db_url) as store:
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
