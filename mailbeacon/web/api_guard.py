"""What every state-changing call of the JSON API must show before a route sees it (issue #12).

A same-site page can make a logged-in browser POST to /api/v1/ with the session cookie
(a `text/plain` form needs no preflight), so a call that rides on the cookie must carry
the session's CSRF token in `x-csrf-token`; a Bearer key is never sent by a browser on its
own and needs none. Routes that read JSON take it only as `application/json` (415 otherwise).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mailbeacon.web.auth import error, is_bearer, require_csrf
from mailbeacon.web.sessions import SESSION_ID

API_PREFIX = "/api/v1/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPE = "application/json"


class ApiCsrfGuard:
    """ASGI middleware inside the session middleware: a POST, PUT, PATCH or DELETE under /api/v1/ made with a
    logged-in session cookie and without the session's CSRF token answers 403, whatever the route."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX) and scope["method"] not in SAFE_METHODS:
            conn = HTTPConnection(scope)
            # Without a Bearer key and a logged-in session the route answers 401 itself.
            if not is_bearer(conn) and "session" in scope and SESSION_ID in conn.session:
                refused = require_csrf(conn)
                if refused is not None:
                    return await refused(scope, receive, send)
        await self._app(scope, receive, send)


async def json_body(request: Request) -> Any | Response:
    """The parsed JSON body, or the error to answer: 415 unless sent as application/json, 400 if not JSON."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != JSON_TYPE:
        shown = media_type or "none"
        return error(415, f"send the body as Content-Type: {JSON_TYPE} (got {shown})")
    try:
        return json.loads(await request.body())
    except ValueError:  # also UnicodeDecodeError
        return error(400, "the body is not valid JSON")
