"""Users: who may send through the relay and read the API, with which seat.

Only hashes of API keys and SMTP passwords are stored; callers hash before asking.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, insert, select, update

from mailbeacon.store.schema import SEATS, users


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    email: str
    is_admin: bool
    seat: str
    """'basic' or 'sales'."""
    api_key_hash: str
    smtp_password_hash: str
    created_at: float
    password_hash: str | None = None
    """The dashboard password's hash; None until one is set."""
    notify_first_open: bool = True
    notify_reopen_after: float | None = 3600.0
    """Seconds of quiet after which a human open is told again; None: never again."""
    notify_clicks: bool = True
    disabled_at: float | None = None
    """When an admin disabled them: no login, API key or relay AUTH (their data stays)."""
    deleted_at: float | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None and self.deleted_at is None


def insert_user(
    conn: Connection,
    *,
    email: str,
    is_admin: bool,
    seat: str,
    api_key_hash: str,
    smtp_password_hash: str,
    now: float,
) -> int:
    if seat not in SEATS:
        raise ValueError(f"seat must be one of {', '.join(SEATS)}, got {seat!r}")
    user_id: int = conn.execute(
        insert(users)
        .values(
            email=email,
            is_admin=is_admin,
            seat=seat,
            api_key_hash=api_key_hash,
            smtp_password_hash=smtp_password_hash,
            created_at=now,
        )
        .returning(users.c.id)
    ).scalar_one()
    return user_id


def select_user_by_api_key_hash(conn: Connection, api_key_hash: str) -> UserRow | None:
    """The enabled user with this key: a disabled user's key opens nothing."""
    found = _select_user(conn, users.c.api_key_hash == api_key_hash)
    return found if found is not None and found.enabled else None


def select_user_by_id(conn: Connection, user_id: int) -> UserRow | None:
    return _select_user(conn, users.c.id == user_id)


def select_user_by_email(conn: Connection, email: str) -> UserRow | None:
    return _select_user(conn, users.c.email == email)


def select_users(conn: Connection) -> list[UserRow]:
    """Every user but the deleted ones (their rows only keep their data's owner)."""
    query = select(users).where(users.c.deleted_at.is_(None)).order_by(users.c.email)
    return [user_of(row) for row in conn.execute(query)]


def disable_user(conn: Connection, user_id: int, now: float | None) -> bool:
    """Disable (`now`) or enable (None) a user that is not deleted; False if there is none."""
    query = update(users).where(users.c.id == user_id, users.c.deleted_at.is_(None)).values(disabled_at=now)
    return bool(conn.execute(query).rowcount)


def tombstone_user(conn: Connection, user_id: int, now: float) -> bool:
    """What remains of a deleted user: a row without email or credentials, owner of the data they leave."""
    gone = f"deleted-user-{user_id}"
    query = update(users).where(users.c.id == user_id, users.c.deleted_at.is_(None)).values(
        email=f"{gone}@deleted.invalid", api_key_hash=f"{gone}:no key", smtp_password_hash="", password_hash=None,
        is_admin=False, disabled_at=now, deleted_at=now,
    )
    return bool(conn.execute(query).rowcount)


def update_user(conn: Connection, user_id: int, changes: dict[str, object]) -> bool:
    """Set the given columns of one user; False if there is no such user."""
    allowed = {"seat", "is_admin", "password_hash", "api_key_hash", "notify_first_open", "notify_reopen_after", "notify_clicks"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))} of a user")
    if "seat" in changes and changes["seat"] not in SEATS:
        raise ValueError(f"seat must be one of {', '.join(SEATS)}, got {changes['seat']!r}")
    if not changes:
        return select_user_by_id(conn, user_id) is not None
    return bool(conn.execute(update(users).where(users.c.id == user_id).values(**changes)).rowcount)


def _select_user(conn: Connection, where: ColumnElement[bool]) -> UserRow | None:
    row = conn.execute(select(users).where(where)).one_or_none()
    return None if row is None else user_of(row)


def user_of(row: Row[Any]) -> UserRow:
    return UserRow(
        id=row.id,
        email=row.email,
        is_admin=row.is_admin,
        seat=row.seat,
        api_key_hash=row.api_key_hash,
        smtp_password_hash=row.smtp_password_hash,
        created_at=row.created_at,
        password_hash=row.password_hash,
        notify_first_open=bool(row.notify_first_open),
        notify_reopen_after=row.notify_reopen_after,
        notify_clicks=bool(row.notify_clicks),
        disabled_at=row.disabled_at,
        deleted_at=row.deleted_at,
    )
