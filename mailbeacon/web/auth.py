"""Who is asking: an API key (programs) or the dashboard's session (people; web/sessions.py).

Both end in the same `UserRow`; every route filters by it, so a user sees only
what they sent and an admin sees all.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from mailbeacon.accounts import hash_api_key
from mailbeacon.store import Store, StoreUnavailable, UserRow
from mailbeacon.web import sessions

SESSION_CSRF = "csrf"
CSRF_HEADER = "x-csrf-token"
"""Scripts of the dashboard send the session's CSRF token in this header; forms in a `csrf` field."""


def is_bearer(conn: HTTPConnection) -> bool:
    """The caller shows an API key (and so is not judged by its session cookie)."""
    return conn.headers.get("authorization", "").lower().startswith("bearer ")


async def current_user(conn: HTTPConnection, store: Store) -> UserRow | None:
    if is_bearer(conn):
        key = conn.headers["authorization"][7:].strip()
        return await run_in_threadpool(store.user_by_api_key_hash, hash_api_key(key))
    found = await sessions.current(conn, store)
    return found[1] if found is not None else None


async def api_user(conn: HTTPConnection, store: Store) -> UserRow | JSONResponse:
    """The user, or the JSON 401 an API client gets."""
    if is_bearer(conn):
        user = await current_user(conn, store)
        return user if user is not None else error(401, "unknown API key")
    user = await current_user(conn, store)
    if user is None:
        return error(401, "missing API key: send Authorization: Bearer KEY")
    return user


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, made on first use (login replaces it)."""
    token = conn.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        conn.session[SESSION_CSRF] = token
    return token


def has_csrf(conn: HTTPConnection, supplied: str | None) -> bool:
    """True if `supplied` is this session's CSRF token; a session without one accepts nothing."""
    expected = conn.session.get(SESSION_CSRF) if "session" in conn.scope else None
    if not isinstance(expected, str) or not expected or not isinstance(supplied, str):
        return False
    return hmac.compare_digest(expected.encode(), supplied.encode())


def require_csrf(conn: HTTPConnection) -> JSONResponse | None:
    """None if a state-changing API call may go ahead, else the JSON 403.

    A Bearer key is never sent by a browser on its own, so it needs no token; a call
    that rides on the session cookie must carry the session's token in `x-csrf-token`.
    `api_guard.ApiCsrfGuard` asks it for every state-changing call under /api/v1/.
    """
    if is_bearer(conn):
        return None
    if has_csrf(conn, conn.headers.get(CSRF_HEADER)):
        return None
    return error(403, f"missing or wrong CSRF token: send the session's token in the {CSRF_HEADER} header")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class AdminKeyGate:
    """Who may read `/metrics` (issue #12, item 17): an admin's API key as `Authorization: Bearer KEY`.

    The store decides; while it is down, a key it last knew as an admin's still reads, so
    monitoring sees the spool fill (a key revoked meanwhile is refused once the store answers).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._admins: set[str] = set()
        """Hashes of the keys the store last answered as admins' (only those: guessed keys add nothing)."""

    async def refused(self, conn: HTTPConnection) -> JSONResponse | None:
        """None if the request may go ahead, else the 401 (no or unknown key), 403 (not an admin's) or 503."""
        auth = conn.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return _challenge("send an admin's API key: Authorization: Bearer KEY")
        key_hash = hash_api_key(auth[7:].strip())
        try:
            user = await run_in_threadpool(self._store.user_by_api_key_hash, key_hash)
        except StoreUnavailable:
            return None if key_hash in self._admins else error(503, "the store is unavailable to check the key")
        if user is None or not user.is_admin:
            self._admins.discard(key_hash)
            return _challenge("unknown API key") if user is None else error(403, "only an admin's API key may read this")
        self._admins.add(key_hash)
        return None


def _challenge(message: str) -> JSONResponse:
    response = error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="mailbeacon"'  # RFC 6750, section 3
    return response
