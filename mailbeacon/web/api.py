"""The JSON API under /api/v1/ for programs (Bearer API key) and the dashboard's scripts (session cookie).

The events log in id order and sending; the read resources (messages, feed, contacts) are in
`api_messages`, `api_feed` and `api_contacts`, the OpenAPI document in `openapi`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon.store import StoreUnavailable
from mailbeacon.submission import NotYours, Sender, Suppressed
from mailbeacon.web.api_guard import json_body
from mailbeacon.web.auth import api_user, error
from mailbeacon.web.compose import ComposeError, compose
from mailbeacon.web.context import Web

MAX_PAGE = 1000


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def events(request: Request) -> Response:
        user = await api_user(request, store)
        if isinstance(user, JSONResponse):
            return user
        try:
            after = int(request.query_params.get("after", "0"))
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return error(400, "after and limit must be integers")
        if not 0 <= after < 2**63 or not 1 <= limit <= MAX_PAGE:
            return error(400, f"after must be 0..2**63-1 and limit 1..{MAX_PAGE}")
        rows = await run_in_threadpool(store.events_after, after, limit, None if user.is_admin else user.id)
        page = [
            {
                "id": row.id,
                "type": row.type,
                "occurred_at": row.occurred_at,
                "message_id": row.message_id,
                "recipient": row.recipient,
                "link": row.link_idx,
                "url": row.url,
                "ip": row.ip,
                "user_agent": row.user_agent,
                "method": row.method,
                "class": row.cls,
                "reasons": list(row.reasons),
                "client": row.client,
                "first": row.first,
            }
            for row in rows
        ]
        return JSONResponse({"events": page, "next": rows[-1].id if len(rows) == limit else None})

    async def post_message(request: Request) -> Response:
        user = await api_user(request, store)
        if isinstance(user, JSONResponse):
            return user
        if web.submitter is None:
            return error(503, "this server does not send mail")
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        send_to_suppressed = isinstance(body, dict) and body.pop("send_to_suppressed", False) is True
        try:
            raw, recipients = compose(body, user.email)
        except ComposeError as exc:
            return error(400, str(exc))
        sender = Sender(user.id, user.email, user.seat)
        try:
            client = request.client.host if request.client else None
            submitted = await run_in_threadpool(
                web.submitter.submit, sender, user.email, recipients, raw, "api", client, send_to_suppressed
            )
        except StoreUnavailable:
            return error(503, "cannot queue the message now, nothing was queued; retry")
        except NotYours as exc:  # From is the user's own address; kept as a second lock (issue #12)
            return error(403, str(exc))
        except Suppressed as exc:  # issue #15: nothing queued; "send_to_suppressed": true sends anyway
            return error(409, f"{exc}; nothing was queued (\"send_to_suppressed\": true sends anyway)")
        web.queued()
        copies = [
            {
                "recipient": c.recipient,
                "delivery": c.delivery,
                "opens_tracked": c.opens_tracked,
                "clicks_tracked": c.clicks_tracked,
                "untracked_reason": c.untracked_reason,
            }
            for c in submitted.copies
        ]
        return JSONResponse({"message_id": submitted.message_id, "copies": copies}, status_code=202)

    return [
        Route("/api/v1/events", events),
        Route("/api/v1/messages", post_message, methods=["POST"]),
    ]
