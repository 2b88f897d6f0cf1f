"""Server-side dashboard sessions (issue #12, item 13): the signed cookie carries only a random session id.

The store keeps the id's SHA-256 with the user, the login and last-seen times, the address
and the User-Agent; a request is logged in only while that row lives, so logging out, a new
password or a disabled user ends every copy of the cookie at once (a signed cookie alone
stayed valid 14 days after logout). The CSRF token and flash messages stay in the cookie.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from mailbeacon.store import SessionLimits, SessionRow, Store, StoreUnavailable, UserRow

log = logging.getLogger(__name__)

SESSION_ID = "sid"
"""The cookie's key for the random session id."""
STATE = "sessions"
"""Where the app's SessionConfig sits in `app.state` (web/app.py puts it there)."""
MAX_USER_AGENT = 512


@dataclass(frozen=True, slots=True)
class SessionConfig:
    limits: SessionLimits = field(default_factory=SessionLimits)
    client_ip: Callable[[str, str], str] = lambda peer, forwarded_for: peer
    """(peer, X-Forwarded-For) -> the client's address; the tracking server's rule for trusted proxies."""


def config(conn: HTTPConnection) -> SessionConfig:
    found = getattr(conn.app.state, STATE, None) if "app" in conn.scope else None
    return found if isinstance(found, SessionConfig) else SessionConfig()


def token_hash(token: str) -> str:
    """The stored form of a session id: 256 random bits need no slow hash, and a leaked table opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def client(conn: HTTPConnection) -> tuple[str, str]:
    """(address, User-Agent) of the browser, as a session row records them."""
    peer = conn.client.host if conn.client else ""
    address = config(conn).client_ip(peer, conn.headers.get("x-forwarded-for", ""))
    return address, conn.headers.get("user-agent", "")[:MAX_USER_AGENT]


def _token(conn: HTTPConnection) -> str | None:
    token = conn.session.get(SESSION_ID) if "session" in conn.scope else None
    return token if isinstance(token, str) and token else None


async def current(conn: HTTPConnection, store: Store) -> tuple[SessionRow, UserRow] | None:
    """The live session of this request's cookie and its user; None without one, or once it ended or expired."""
    token = _token(conn)
    if token is None:
        return None
    settings = config(conn)
    found = await run_in_threadpool(store.session_user, token_hash(token), settings.limits)
    if found is not None and time.time() - found[0].last_seen_at >= settings.limits.touch_after:
        address, user_agent = client(conn)
        try:
            await run_in_threadpool(store.touch_session, found[0].id, address, user_agent, settings.limits)
        except StoreUnavailable as exc:  # the read succeeded: serve the page, touch it next time
            log.info("session %d not touched: %s", found[0].id, exc)
    return found


async def start(conn: HTTPConnection, store: Store, user: UserRow) -> int:
    """Log this browser in as `user`: a new session (nothing of the old cookie survives: session fixation)."""
    token = secrets.token_urlsafe(32)
    address, user_agent = client(conn)
    session_id = await run_in_threadpool(
        store.start_session, user.id, token_hash(token), address, user_agent, config(conn).limits
    )
    conn.session.clear()  # the CSRF token too: the next page makes a new one
    conn.session[SESSION_ID] = token
    return session_id


async def end(conn: HTTPConnection, store: Store) -> None:
    """Log out: the session's row goes, so a copy of the cookie logs nobody in either."""
    token = _token(conn)
    if token is not None:
        await run_in_threadpool(store.end_session_by_hash, token_hash(token))
    if "session" in conn.scope:
        conn.session.clear()
