"""Copies of the database for `mailbeacon backup`: SQLite's online backup API, or the pg_dump line to run.

The online backup copies a consistent snapshot while the server keeps writing (WAL mode),
which copying the file with `cp` does not.
"""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from mailbeacon.errors import ConfigError


def backup_database(url: str, target: Path) -> str | None:
    """Copy an SQLite store to `target` (None when done); for PostgreSQL, the pg_dump command to use instead
    (without the password: pg_dump takes it from PGPASSWORD or ~/.pgpass).

    >>> print(backup_database("postgresql://mb:secret@db:5432/mailbeacon", Path("/backups/x")))
    pg_dump --format=custom --file=/backups/x/mailbeacon.pgdump postgresql://mb@db:5432/mailbeacon
    """
    parsed = make_url(url)
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        shown = parsed._replace(drivername="postgresql", password=None).render_as_string(hide_password=False)
        return f"pg_dump --format=custom --file={shlex.quote(str(target / 'mailbeacon.pgdump'))} {shlex.quote(shown)}"
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise ConfigError(f"cannot back up {parsed.render_as_string(hide_password=True)}")
    source_path = Path(parsed.database)
    if not source_path.exists():
        raise ConfigError(f"no database at {source_path}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target / source_path.name)
        try:
            source.backup(copy)
        finally:
            copy.close()
        (target / source_path.name).chmod(0o600)  # readers' addresses: as private as the original
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot back up {source_path}: {exc}") from exc
    finally:
        source.close()
    return None
