"""Installing and keeping an installation: `init`, `migrate`, `backup` (issue 17, item 3)."""

from __future__ import annotations

from pathlib import Path

import click

from mailbeacon.cli.options import data_option, db_option
from mailbeacon.errors import MailbeaconError

KEPT_ASIDE = ("mailbeacon.db", "mailbeacon.db-wal", "mailbeacon.db-shm", "mailbeacon.db-journal")
"""The SQLite files, copied through the online backup API rather than as files."""


@click.command()
@data_option
@db_option
def init(data_dir: Path, db_url: str | None) -> None:
    """Create a data directory: its signing keys and the database's schema. Safe to run again."""
    from mailbeacon import service

    existed = (data_dir / "keys").exists()
    try:
        store, _ = service.open_data(service.Settings(data_dir=data_dir, db_url=db_url))
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    store.close()
    click.echo(f"{'data directory is ready' if existed else 'new data directory'}: {data_dir.resolve()}")


@click.command()
@data_option
@db_option
def migrate(data_dir: Path, db_url: str | None) -> None:
    """Bring the database's schema up to date (`serve` does it too); does nothing when it is."""
    from mailbeacon import service
    from mailbeacon.store import open_store

    _require_data_dir(data_dir)
    try:
        with open_store(service.Settings(data_dir=data_dir, db_url=db_url).store_url) as store:
            applied = store.migrate()
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"applied migrations {', '.join(map(str, applied))}" if applied else "the database is up to date")


@click.command()
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@data_option
@db_option
def backup(target: Path, data_dir: Path, db_url: str | None) -> None:
    """Copy the data directory (keys, spool, settings files) and the SQLite database into TARGET.

    The database is copied with SQLite's online backup API while the server runs. On
    PostgreSQL this copies the data directory and prints the pg_dump command for the database.
    """
    import shutil

    from mailbeacon import service
    from mailbeacon.filemodes import private_dir
    from mailbeacon.store.backup import backup_database

    _require_data_dir(data_dir)
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} is not empty: back up into a new directory")
    private_dir(target)
    settings = service.Settings(data_dir=data_dir, db_url=db_url)
    shutil.copytree(data_dir, target, dirs_exist_ok=True, ignore=lambda _, names: [n for n in names if n in KEPT_ASIDE])
    try:
        pg_dump = backup_database(settings.store_url, target)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    if pg_dump is None:
        click.echo(f"backed up {data_dir} and its database into {target}")
    else:
        click.echo(f"backed up {data_dir} into {target}; the PostgreSQL database is pg_dump's to copy:\n{pg_dump}")


def _require_data_dir(data_dir: Path) -> None:
    """A mistyped --data names no installation: say so rather than make a new one."""
    if not (data_dir / "keys").exists():
        what = "does not exist" if not data_dir.exists() else "has no signing keys"
        raise click.ClickException(
            f"{data_dir} {what}: it is not a mailbeacon data directory (check --data, "
            f"or create one with `mailbeacon init --data {data_dir}`)"
        )
