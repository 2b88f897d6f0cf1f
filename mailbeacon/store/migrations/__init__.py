"""Numbered schema migrations and the runner that applies the missing ones.

Each `NNNN_name.py` defines `upgrade(conn)`, safe to run twice, and runs in its own transaction
with its schema_migrations row: a crash leaves all of a migration or none (listmonk's upgrades).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import Connection, insert, inspect, select

from mailbeacon.store.schema import schema_migrations

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names every migration uses, so later ones can refer to earlier ones' constraints."""

WriteTransaction = Callable[[], AbstractContextManager[Connection]]
"""Opens a write transaction that excludes other migrators until it ends."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Connection], None]


def discover() -> list[Migration]:
    """Every migration module in this package, in version order."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = re.fullmatch(r"(\d{4})_\w+", info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Migration(int(match[1]), info.name, module.upgrade))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {[m.name for m in found]}")
    return found


def apply_missing(write: WriteTransaction) -> list[int]:
    """Apply the migrations not recorded yet; returns the versions applied now."""
    with write() as conn:
        schema_migrations.create(conn, checkfirst=True)
    applied: list[int] = []
    for migration in discover():
        with write() as conn:
            # Checked inside the locked transaction: another process may have just applied it.
            if _is_applied(conn, migration.version):
                continue
            migration.upgrade(conn)
            conn.execute(insert(schema_migrations).values(version=migration.version, applied_at=time.time()))
        applied.append(migration.version)
    return applied


def add_missing_columns(conn: Connection, columns: dict[str, list[str]]) -> None:
    """ALTER TABLE ADD COLUMN for each `{table: ["name TYPE ...", ...]}` the table lacks (so an upgrade can run twice)."""
    inspector = inspect(conn)
    for table, wanted in columns.items():
        have = {column["name"] for column in inspector.get_columns(table)}
        for column in wanted:
            if column.split()[0] not in have:
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column}")


def _is_applied(conn: Connection, version: int) -> bool:
    query = select(schema_migrations.c.version).where(schema_migrations.c.version == version)
    return conn.execute(query).first() is not None
