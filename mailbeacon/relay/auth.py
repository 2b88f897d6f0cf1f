"""AUTH PLAIN and LOGIN against the users' SMTP passwords, never on the event loop (issue #12, item 7).

scrypt takes tens of milliseconds by design, so it runs in a small thread pool of its own
while the event loop goes on answering pixels; an unknown user costs the same scrypt work.
Each attempt is counted by the accounts throttle before its check (per client and user,
across connections), and a connection is closed after a few failures. A success is
remembered for a while, keyed by an HMAC of the credentials under a per-process secret, so a
client that logs in for every message pays scrypt once.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import logging
import secrets
import time
import weakref
from base64 import b64decode
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.smtp import MISSING, SMTP, AuthResult

from mailbeacon.accounts import verify_smtp_password
from mailbeacon.accounts.throttle import Throttle, Throttled
from mailbeacon.relay.replies import (
    S421_AUTH_FAILURES,
    S454_AUTH_UNAVAILABLE,
    S454_THROTTLED,
    S535_AUTH_FAILED,
)
from mailbeacon.store import Store, StoreUnavailable
from mailbeacon.submission import Sender

log = logging.getLogger(__name__)

REMEMBER_SECONDS = 600.0
FAILURES_PER_CONNECTION = 3


class Authenticator:
    """The relay handler's `auth_PLAIN` and `auth_LOGIN` (aiosmtpd awaits a handler's auth_MECHANISM)."""

    def __init__(
        self, store: Store, throttle: Throttle | None = None, threads: int = 2,
        per_connection: int = FAILURES_PER_CONNECTION,
    ) -> None:
        self._store = store
        self._throttle = throttle or Throttle()
        self._per_connection = per_connection
        # Its own few threads: guessers wait for each other, not for the relay's submissions.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mailbeacon-auth")
        self._secret = secrets.token_bytes(32)
        self._remembered: dict[bytes, tuple[float, Sender]] = {}
        self._failures: weakref.WeakKeyDictionary[SMTP, int] = weakref.WeakKeyDictionary()
        """Failed AUTHs per connection (one SMTP instance per connection)."""

    async def plain(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC 4616: `AUTH PLAIN [initial-response]`, "authzid NUL authcid NUL passwd" in base64."""
        blob = await self._response(server, args[1] if len(args) > 1 else None, "")
        if blob is None:
            return await self._failed(server, None)
        parts = blob.split(b"\0")
        if len(parts) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return await self._failed(server, None)
        return await self._check(server, parts[1], parts[2])

    async def login(self, server: SMTP, args: list[str]) -> AuthResult:
        """`AUTH LOGIN [user]`: the user name and the password, each asked for in base64."""
        login = await self._response(server, args[1] if len(args) > 1 else None, server.AuthLoginUsernameChallenge)
        if login is None:
            return await self._failed(server, None)
        password = await self._response(server, None, server.AuthLoginPasswordChallenge)
        if password is None:
            return await self._failed(server, None)
        return await self._check(server, login, password)

    async def _response(self, server: SMTP, initial: str | None, challenge: str) -> bytes | None:
        """The client's decoded answer; None once the client was told why it cannot be read."""
        if initial is None:
            answer = await server.challenge_auth(challenge)
            return None if answer is MISSING else bytes(answer)  # challenge_auth replied 501 itself
        try:
            return b64decode(initial.encode(), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            await server.push("501 5.5.2 Can't decode base64")
            return None

    async def _check(self, server: SMTP, login_bytes: bytes, password_bytes: bytes) -> AuthResult:
        session = server.session
        assert session is not None
        login = login_bytes.decode("utf-8", "replace").strip()
        client = str(session.peer[0]) if isinstance(session.peer, tuple) and session.peer else ""
        try:
            attempt = self._throttle.attempt(login, client)  # counted before the check (issue #12, item 14)
        except Throttled:
            log.info("relay: authentication for %r from %s throttled", login, client)
            return await self._failed(server, S454_THROTTLED)
        with attempt:  # ends as a failure unless it succeeded or was abandoned
            key = hmac.digest(self._secret, login_bytes + b"\0" + password_bytes, hashlib.sha256)
            now = time.monotonic()
            remembered = self._remembered.get(key)
            if remembered is not None and remembered[0] > now and await self._still_enabled(remembered[1]):
                attempt.succeeded()
                return AuthResult(success=True, auth_data=remembered[1])
            password = password_bytes.decode("utf-8", "replace")
            try:
                sender = await asyncio.get_running_loop().run_in_executor(self._executor, self._verify, login, password)
            except StoreUnavailable as exc:
                attempt.abandon()
                log.warning("relay: cannot check credentials: %s", exc)
                return AuthResult(success=False, handled=False, message=S454_AUTH_UNAVAILABLE)
            if sender is None:
                log.info("relay: authentication failed for %r from %s", login, client)
                return await self._failed(server, S535_AUTH_FAILED)
            attempt.succeeded()
        if len(self._remembered) > 10_000:
            self._remembered.clear()
        self._remembered[key] = (now + REMEMBER_SECONDS, sender)
        return AuthResult(success=True, auth_data=sender)

    async def _still_enabled(self, sender: Sender) -> bool:
        """A remembered login skips the scrypt work, not the check that an admin has not disabled the user since."""
        if sender.user_id is None:
            return False
        try:
            user = await asyncio.get_running_loop().run_in_executor(self._executor, self._store.user_by_id,
                                                                    sender.user_id)
        except StoreUnavailable:
            return True  # the password was right minutes ago; the relay keeps working while the store is away
        return user is not None and user.enabled and user.email == sender.email

    def _verify(self, login: str, password: str) -> Sender | None:
        """In a thread: the user's row and the scrypt check (a dummy hash for an unknown user)."""
        user = self._store.user_by_email(login)
        if not verify_smtp_password(user, password) or user is None:
            return None
        return Sender(user.id, user.email, user.seat)

    async def _failed(self, server: SMTP, reply: str | None) -> AuthResult:
        """`reply` (None: the client was told already), or 421 and the connection closed when this
        was the connection's last allowed failure."""
        self._failures[server] = failures = self._failures.get(server, 0) + 1
        if failures >= self._per_connection:
            await server.push(S421_AUTH_FAILURES)
            if server.transport is not None:
                server.transport.close()
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=reply is None, message=reply)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
