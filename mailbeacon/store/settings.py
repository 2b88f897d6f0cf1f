"""Server-wide settings changed at run time (the dashboard's Settings page, `mailbeacon privacy set`).

Rows of `settings` are name → JSON value; a name without a row has its default.
Values are checked here, before they are stored, so every reader can trust them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from sqlalchemy import Connection, insert, select, update

from mailbeacon.errors import ConfigError
from mailbeacon.store.schema import settings

MAX_DAYS = 36500


@dataclass(frozen=True, slots=True)
class ServerSettings:
    ip_truncate_after_days: int | None = 30
    """Events older than this keep only the network of their IP (IPv4 /24, IPv6 /48); None: never.

    30 days: long enough to look into a suspicious burst or reclassify recent mail
    with new scanner ranges, short enough that no full address lingers (pains.md G2).
    0 truncates as soon as the classifier has judged the event."""
    retention_days: int | None = None
    """Events (and their feed rows) older than this are deleted; None: kept. Counters stay."""


BOUNDS = {"ip_truncate_after_days": 0, "retention_days": 1}
"""The least value each setting takes; every one is a whole number of days up to MAX_DAYS, or None."""


def checked(name: str, value: object) -> int | None:
    """The value to store, or ConfigError naming the setting and what it takes.

    >>> checked("retention_days", 0)
    Traceback (most recent call last):
    ...
    mailbeacon.errors.ConfigError: retention_days must be a whole number of days from 1 to 36500, or null (never), got 0
    """
    if name not in BOUNDS:
        raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(BOUNDS))}")
    if value is None:
        return None
    low = BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_DAYS:
        raise ConfigError(
            f"{name} must be a whole number of days from {low} to {MAX_DAYS}, or null (never), got {value!r}"
        )
    return value


def select_settings(conn: Connection) -> ServerSettings:
    stored = {row.name: row.value for row in conn.execute(select(settings.c.name, settings.c.value))}
    values: dict[str, int | None] = {}
    for field in fields(ServerSettings):
        if field.name in stored:
            try:
                values[field.name] = checked(field.name, json.loads(stored[field.name]))
            except (ConfigError, ValueError):
                continue  # a row written by hand that we cannot trust: the default applies
    return ServerSettings(**values)


def upsert_setting(conn: Connection, name: str, value: int | None, now: float) -> None:
    encoded = json.dumps(value)
    moved = conn.execute(update(settings).where(settings.c.name == name).values(value=encoded, updated_at=now))
    if not moved.rowcount:
        conn.execute(insert(settings).values(name=name, value=encoded, updated_at=now))
