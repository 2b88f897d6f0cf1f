"""What every command shares: the --data and --db options, opening the store, printing a time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailbeacon.errors import MailbeaconError

if TYPE_CHECKING:
    from mailbeacon.store import Store

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


db_option = click.option(
    "--db",
    "db_url",
    default=None,
    envvar="MAILBEACON_DB",
    help="Database URL, e.g. postgresql://user@host/db (default: SQLite in the data directory).",
)


@contextlib.contextmanager
def open_store(data_dir: Path, db_url: str | None) -> Iterator[Store]:
    from mailbeacon.datadir import open_data  # not mailbeacon.service: no server modules for a listing

    try:
        store, _ = open_data(data_dir, db_url)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield store
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))
