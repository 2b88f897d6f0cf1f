"""Dashboard sessions (issue #12, item 13): a row per logged-in browser, found by the hash of its cookie's id.

A session lives while its row does and it is neither idle nor too old; logging out,
a new password or a disabled user deletes rows, so a copied cookie dies with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from mailbeacon.store.accounts import UserRow, user_of
from mailbeacon.store.schema import sessions, users

DAY = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lives: `idle` seconds after its last request, `lifetime` seconds after login at most."""

    idle: float = 3 * DAY
    lifetime: float = 14 * DAY
    touch_every: float = 60.0
    """Its last-seen time moves on at most this often (seconds), not on every request."""

    @property
    def touch_after(self) -> float:
        """Seconds between two last-seen updates: `touch_every`, shorter for a short idle time so it still holds."""
        return min(self.touch_every, self.idle / 4)

    def alive(self, now: float) -> tuple[float, float]:
        """(last seen since, created since): the bounds a live session's row is within."""
        return now - self.idle, now - self.lifetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    user_id: int
    created_at: float
    last_seen_at: float
    ip: str
    """The client's address when last seen."""
    user_agent: str


def insert_session(conn: Connection, user_id: int, token_hash: str, now: float, ip: str, user_agent: str) -> int:
    session_id: int = conn.execute(
        insert(sessions)
        .values(user_id=user_id, token_hash=token_hash, created_at=now, last_seen_at=now, ip=ip, user_agent=user_agent)
        .returning(sessions.c.id)
    ).scalar_one()
    return session_id


def select_session_user(
    conn: Connection, token_hash: str, limits: SessionLimits, now: float
) -> tuple[SessionRow, UserRow] | None:
    """The live session with this hash and its user, in one query; None if it ended or expired."""
    seen_since, created_since = limits.alive(now)
    row = conn.execute(
        select(
            users,
            sessions.c.id.label("session_id"),
            sessions.c.created_at.label("session_created_at"),
            sessions.c.last_seen_at,
            sessions.c.ip,
            sessions.c.user_agent,
        )
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.token_hash == token_hash,
            sessions.c.last_seen_at >= seen_since,
            sessions.c.created_at >= created_since,
            users.c.disabled_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return None
    session = SessionRow(row.session_id, row.id, row.session_created_at, row.last_seen_at, row.ip, row.user_agent)
    return session, user_of(row)


def touch_session(conn: Connection, session_id: int, now: float, ip: str, user_agent: str, every: float) -> bool:
    """Move the last-seen time (and address, User-Agent) on, unless it moved less than `every` seconds ago."""
    result = conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id, sessions.c.last_seen_at <= now - every)
        .values(last_seen_at=now, ip=ip, user_agent=user_agent)
    )
    return bool(result.rowcount)


def select_sessions(conn: Connection, user_id: int, limits: SessionLimits, now: float) -> list[SessionRow]:
    """The user's live sessions, the most recently seen first."""
    seen_since, created_since = limits.alive(now)
    rows = conn.execute(
        select(sessions)
        .where(
            sessions.c.user_id == user_id,
            sessions.c.last_seen_at >= seen_since,
            sessions.c.created_at >= created_since,
        )
        .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
    )
    return [_session(row) for row in rows]


def delete_session_by_hash(conn: Connection, token_hash: str) -> bool:
    return bool(conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash)).rowcount)


def delete_session(conn: Connection, user_id: int, session_id: int) -> bool:
    """End one session of this user; False if it is not theirs or has ended already."""
    where = (sessions.c.id == session_id, sessions.c.user_id == user_id)
    return bool(conn.execute(delete(sessions).where(*where)).rowcount)


def delete_user_sessions(conn: Connection, user_id: int, keep: int | None = None) -> int:
    """End every session of the user but `keep`; the number ended."""
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(sessions.c.id != keep)
    return int(conn.execute(query).rowcount)


def delete_expired_sessions(conn: Connection, limits: SessionLimits, now: float) -> int:
    seen_since, created_since = limits.alive(now)
    query = delete(sessions).where(or_(sessions.c.last_seen_at < seen_since, sessions.c.created_at < created_since))
    return int(conn.execute(query).rowcount)


def _session(row: Row[Any]) -> SessionRow:
    return SessionRow(row.id, row.user_id, row.created_at, row.last_seen_at, row.ip, row.user_agent)
