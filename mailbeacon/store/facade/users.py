"""Users: who sends, with which seat, and how they log in."""

from __future__ import annotations

import time

from mailbeacon.store.accounts import (
    UserRow,
    insert_user,
    select_user_by_api_key_hash,
    select_user_by_email,
    select_user_by_id,
    select_users,
    update_user,
)
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
            raise DuplicateUser(f"a user with email {email!r} or the same API key exists already") from e

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
