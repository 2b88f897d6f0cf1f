"""Who is asking: an API key (programs) or the dashboard's signed session cookie (people).

Both end in the same `UserRow`; every route filters by it, so a user sees only
what they sent and an admin sees all.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from mailbeacon.accounts import hash_api_key
from mailbeacon.store import Store, UserRow

SESSION_USER = "uid"
SESSION_STAMP = "stamp"


def session_stamp(user: UserRow) -> str:
    """Changes when the password does, so a new password logs every other session out."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


async def current_user(conn: HTTPConnection, store: Store) -> UserRow | None:
    auth = conn.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return await run_in_threadpool(store.user_by_api_key_hash, hash_api_key(auth[7:].strip()))
    if "session" not in conn.scope:
        return None
    user_id = conn.session.get(SESSION_USER)
    if not isinstance(user_id, int):
        return None
    user = await run_in_threadpool(store.user_by_id, user_id)
    if user is None or not hmac.compare_digest(str(conn.session.get(SESSION_STAMP, "")), session_stamp(user)):
        return None
    return user


async def api_user(conn: HTTPConnection, store: Store) -> UserRow | JSONResponse:
    """The user, or the JSON 401 an API client gets."""
    if conn.headers.get("authorization", "").lower().startswith("bearer "):
        user = await current_user(conn, store)
        return user if user is not None else error(401, "unknown API key")
    user = await current_user(conn, store)
    if user is None:
        return error(401, "missing API key: send Authorization: Bearer KEY")
    return user


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
