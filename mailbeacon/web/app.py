"""THE route table: the tracking hot path, then everything else through Starlette."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mailbeacon.accounts import hash_api_key
from mailbeacon.outbound.worker import OutboundStats
from mailbeacon.store import Store, StoreUnavailable, UserRow
from mailbeacon.submission import Sender, Submitter
from mailbeacon.web.compose import ComposeError, compose
from mailbeacon.web.reports import message_json
from mailbeacon.web.tracking import Tracking

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
MAX_PAGE = 1000


def create_app(
    tracking: Tracking,
    store: Store,
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]] | None = None,
    submitter: Submitter | None = None,
    queued: Callable[[], None] = lambda: None,
    outbound: OutboundStats | None = None,
) -> ASGIApp:
    """`submitter` takes `POST /api/v1/messages`; `queued` is told when copies wait in the queue."""
    batcher = tracking.batcher

    async def authenticated(request: Request) -> UserRow | JSONResponse:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return JSONResponse({"error": "missing API key: send Authorization: Bearer KEY"}, status_code=401)
        user = await run_in_threadpool(store.user_by_api_key_hash, hash_api_key(auth[7:].strip()))
        if user is None:
            return JSONResponse({"error": "unknown API key"}, status_code=401)
        return user

    async def healthz(request: Request) -> Response:
        ok = await run_in_threadpool(store.ping)
        body = {"status": "ok" if ok else "degraded", "store": ok, "spool_depth": batcher.spool_depth}
        return JSONResponse(body, status_code=200)

    async def metrics(request: Request) -> Response:
        s, t = batcher.stats, tracking.stats
        lines = [
            "# TYPE mailbeacon_requests_total counter",
            f'mailbeacon_requests_total{{route="open"}} {t.opens}',
            f'mailbeacon_requests_total{{route="click"}} {t.clicks}',
            f'mailbeacon_requests_total{{route="invalid_token"}} {t.invalid}',
            "# TYPE mailbeacon_events_written_total counter",
            f'mailbeacon_events_written_total{{to="store"}} {s.events_stored}',
            f'mailbeacon_events_written_total{{to="spool"}} {s.events_spooled}',
            f'mailbeacon_events_written_total{{to="replayed"}} {s.events_replayed}',
            "# TYPE mailbeacon_events_lost_total counter",
            f"mailbeacon_events_lost_total {s.events_lost}",
            "# TYPE mailbeacon_batches_total counter",
            f"mailbeacon_batches_total {s.batches}",
            "# TYPE mailbeacon_batch_events_total counter",
            f"mailbeacon_batch_events_total {s.batch_events}",
            "# TYPE mailbeacon_batch_largest gauge",
            f"mailbeacon_batch_largest {s.largest_batch}",
            "# TYPE mailbeacon_spool_depth gauge",
            f"mailbeacon_spool_depth {batcher.spool_depth}",
        ]
        if outbound is not None:
            lines += [
                "# TYPE mailbeacon_outbound_total counter",
                f'mailbeacon_outbound_total{{result="sent"}} {outbound.sent}',
                f'mailbeacon_outbound_total{{result="retried"}} {outbound.retried}',
                f'mailbeacon_outbound_total{{result="bounced"}} {outbound.bounced}',
            ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def events(request: Request) -> Response:
        user = await authenticated(request)
        if isinstance(user, JSONResponse):
            return user
        try:
            after = int(request.query_params.get("after", "0"))
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return JSONResponse({"error": "after and limit must be integers"}, status_code=400)
        if not 0 <= after < 2**63 or not 1 <= limit <= MAX_PAGE:
            return JSONResponse({"error": f"after must be 0..2**63-1 and limit 1..{MAX_PAGE}"}, status_code=400)
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
        user = await authenticated(request)
        if isinstance(user, JSONResponse):
            return user
        if submitter is None:
            return JSONResponse({"error": "this server does not send mail"}, status_code=503)
        try:
            raw, recipients = compose(await request.json(), user.email)
        except ValueError as exc:  # ComposeError, or a body that is not JSON
            message = str(exc) if isinstance(exc, ComposeError) else "the body is not valid JSON"
            return JSONResponse({"error": message}, status_code=400)
        sender = Sender(user.id, user.email, user.seat)
        try:
            client = request.client.host if request.client else None
            submitted = await run_in_threadpool(submitter.submit, sender, user.email, recipients, raw, "api", client)
        except StoreUnavailable:
            return JSONResponse({"error": "cannot queue the message now, nothing was queued; retry"}, status_code=503)
        queued()
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

    async def message_detail(request: Request) -> Response:
        user = await authenticated(request)
        if isinstance(user, JSONResponse):
            return user
        try:
            message_id = int(request.path_params["message_id"])
        except ValueError:
            return JSONResponse({"error": "not found"}, status_code=404)
        found = await run_in_threadpool(store.message_report, message_id)
        if found is None or not (user.is_admin or found.user_id == user.id):
            return JSONResponse({"error": "not found"}, status_code=404)  # another user's message does not exist
        return JSONResponse(message_json(found))

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "not found"}, status_code=404)

    rest = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/api/v1/events", events),
            Route("/api/v1/messages", post_message, methods=["POST"]),
            Route("/api/v1/messages/{message_id}", message_detail),
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(("/o/", "/c/")):
                return await tracking.asgi(scope, send)
        await rest(scope, receive, send)

    return app
