"""Users: who sends, with which seat, and how they log in."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from mailbeacon.store.accounts import (
    UserRow,
    disable_user,
    insert_user,
    select_user_by_api_key_hash,
    select_user_by_email,
    select_user_by_id,
    select_users,
    tombstone_user,
    update_user,
)
from mailbeacon.store.schema import campaigns, messages
from mailbeacon.store.sessions import delete_user_sessions
from mailbeacon.store.facade.base import DuplicateUser, StoreBase, StoreConflict


class UserQueries(StoreBase):
    def add_user(self, email: str, is_admin: bool, seat: str, api_key_hash: str, smtp_password_hash: str) -> int:
        try:
            with self._translated("add a user"), self._write() as conn:
                return insert_user(
                    conn,
                    email=email,
                    is_admin=is_admin,
                    seat=seat,
                    api_key_hash=api_key_hash,
                    smtp_password_hash=smtp_password_hash,
                    now=time.time(),
                )
        except StoreConflict as e:
            raise DuplicateUser(f"user {email!r} exists already") from e

    def user_by_api_key_hash(self, api_key_hash: str) -> UserRow | None:
        with self._translated("look up a user"), self._read() as conn:
            return select_user_by_api_key_hash(conn, api_key_hash)

    def users(self) -> list[UserRow]:
        with self._translated("list users"), self._read() as conn:
            return select_users(conn)

    def update_user(self, user_id: int, **changes: object) -> bool:
        """Change seat, is_admin, password_hash or notification rules; False if there is no such user."""
        with self._translated("change a user"), self._write() as conn:
            return update_user(conn, user_id, changes)

    def user_by_id(self, user_id: int) -> UserRow | None:
        with self._translated("look up a user"), self._read() as conn:
            return select_user_by_id(conn, user_id)

    def user_by_email(self, email: str) -> UserRow | None:
        with self._translated("look up a user"), self._read() as conn:
            return select_user_by_email(conn, email)

    def set_user_disabled(self, user_id: int, disabled: bool) -> bool:
        """Disable a user (their sessions end in the same transaction) or enable them; False if there is none."""
        with self._translated("disable a user" if disabled else "enable a user"), self._write() as conn:
            if not disable_user(conn, user_id, time.time() if disabled else None):
                return False
            if disabled:
                delete_user_sessions(conn, user_id)
            return True

    def user_holdings(self, user_id: int) -> tuple[int, int]:
        """(messages, campaigns) the user owns: what stays, under "deleted user", when they are deleted."""
        with self._translated("count a user's data"), self._read() as conn:
            owned = [conn.execute(select(func.count()).where(t.c.user_id == user_id)).scalar_one()
                     for t in (messages, campaigns)]
        return int(owned[0]), int(owned[1])

    def tombstone_user(self, user_id: int) -> bool:
        """The last step of deleting a user: no email, no credentials, no sessions; their data keeps its owner row."""
        with self._translated("delete a user"), self._write() as conn:
            delete_user_sessions(conn, user_id)
            return tombstone_user(conn, user_id, time.time())
