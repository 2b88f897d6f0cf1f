"""Users: who may send through the relay and read the API, with which seat.

Only hashes of API keys and SMTP passwords are stored; callers hash before asking.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, insert, select

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


def select_user_by_email(conn: Connection, email: str) -> UserRow | None:
    return _select_user(conn, users.c.email == email)


def _select_user(conn: Connection, where: ColumnElement[bool]) -> UserRow | None:
    row = conn.execute(select(users).where(where)).one_or_none()
    if row is None:
        return None
    return UserRow(
        id=row.id,
        email=row.email,
        is_admin=row.is_admin,
        seat=row.seat,
        api_key_hash=row.api_key_hash,
        smtp_password_hash=row.smtp_password_hash,
        created_at=row.created_at,
    )
