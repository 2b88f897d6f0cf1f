"""AUTH PLAIN and LOGIN against the users' SMTP passwords.

aiosmtpd calls the authenticator synchronously on the event loop that also
answers pixels, and scrypt takes tens of milliseconds by design. A successful
check is therefore remembered for a while, keyed by an HMAC of the
credentials under a per-process secret, so a client that logs in for every
message pays scrypt once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailbeacon.accounts import verify_password
from mailbeacon.store import Store, StoreUnavailable
from mailbeacon.submission import Sender

log = logging.getLogger(__name__)

REMEMBER_SECONDS = 600.0


class Authenticator:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._secret = secrets.token_bytes(32)
        self._remembered: dict[bytes, tuple[float, Sender]] = {}

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace").strip()
        password = auth_data.password.decode("utf-8", "replace")
        key = hmac.digest(self._secret, auth_data.login + b"\0" + auth_data.password, hashlib.sha256)
        now = time.monotonic()
        remembered = self._remembered.get(key)
        if remembered is not None and remembered[0] > now:
            return AuthResult(success=True, auth_data=remembered[1])
        try:
            user = self._store.user_by_email(login)
        except StoreUnavailable as exc:
            log.warning("relay: cannot check credentials: %s", exc)
            return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")
        if user is None or not verify_password(password, user.smtp_password_hash):
            log.info("relay: authentication failed for %r from %s", login, session.peer)
            return AuthResult(success=False, handled=False)
        sender = Sender(user.id, user.email, user.seat)
        if len(self._remembered) > 10_000:
            self._remembered.clear()
        self._remembered[key] = (now + REMEMBER_SECONDS, sender)
        return AuthResult(success=True, auth_data=sender)
