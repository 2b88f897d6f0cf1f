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
    return _select_user(conn, users.c.api_key_hash == api_key_hash)


def select_user_by_id(conn: Connection, user_id: int) -> UserRow | None:
    return _select_user(conn, users.c.id == user_id)


def select_user_by_email(conn: Connection, email: str) -> UserRow | None:
    return _select_user(conn, users.c.email == email)


def select_users(conn: Connection) -> list[UserRow]:
    return [user_of(row) for row in conn.execute(select(users).order_by(users.c.email))]


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
    )
