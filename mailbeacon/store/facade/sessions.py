"""Dashboard sessions (issue #12, item 13): started at login, looked up per request, ended by rows deleted."""

from __future__ import annotations

import time

from mailbeacon.store.accounts import UserRow, update_user
from mailbeacon.store.facade.base import StoreBase
from mailbeacon.store.sessions import (
    SessionLimits,
    SessionRow,
    delete_expired_sessions,
    delete_session,
    delete_session_by_hash,
    delete_user_sessions,
    insert_session,
    select_session_user,
    select_sessions,
    touch_session,
)


class SessionQueries(StoreBase):
    def start_session(self, user_id: int, token_hash: str, ip: str, user_agent: str, limits: SessionLimits) -> int:
        """A new session's row (expired rows of everyone are cleared on the way); its id."""
        now = time.time()
        with self._translated("start a session"), self._write() as conn:
            delete_expired_sessions(conn, limits, now)
            return insert_session(conn, user_id, token_hash, now, ip, user_agent)

    def session_user(self, token_hash: str, limits: SessionLimits) -> tuple[SessionRow, UserRow] | None:
        """The live session with this hash and its user; None once it ended or expired."""
        with self._translated("look up a session"), self._read() as conn:
            return select_session_user(conn, token_hash, limits, time.time())

    def touch_session(self, session_id: int, ip: str, user_agent: str, limits: SessionLimits) -> bool:
        """Record a request of the session, at most once every `limits.touch_after` seconds."""
        with self._translated("touch a session"), self._write() as conn:
            return touch_session(conn, session_id, time.time(), ip, user_agent, limits.touch_after)

    def sessions_of(self, user_id: int, limits: SessionLimits) -> list[SessionRow]:
        with self._translated("list sessions"), self._read() as conn:
            return select_sessions(conn, user_id, limits, time.time())

    def end_session_by_hash(self, token_hash: str) -> bool:
        """Logout: the session whose cookie carries this id's hash ends."""
        with self._translated("end a session"), self._write() as conn:
            return delete_session_by_hash(conn, token_hash)

    def end_session(self, user_id: int, session_id: int) -> bool:
        """End one of the user's sessions; False if it is someone else's or over already."""
        with self._translated("end a session"), self._write() as conn:
            return delete_session(conn, user_id, session_id)

    def end_sessions(self, user_id: int, keep: int | None = None) -> int:
        """End every session of the user but `keep` (sign out everywhere else; a disabled user: all)."""
        with self._translated("end sessions"), self._write() as conn:
            return delete_user_sessions(conn, user_id, keep)

    def set_password_hash(self, user_id: int, password_hash: str, keep_session: int | None = None) -> bool:
        """A new dashboard password; in the same transaction every session of the user but `keep_session` ends."""
        with self._translated("change a password"), self._write() as conn:
            if not update_user(conn, user_id, {"password_hash": password_hash}):
                return False
            delete_user_sessions(conn, user_id, keep_session)
            return True
