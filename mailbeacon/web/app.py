"""THE route table: the tracking hot path, then everything else through Starlette.

Route modules each give `routes(web)`: the JSON API (`api`), webhooks
(`webhooks_api`), the live stream (`stream`) and the dashboard (`dashboard`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mailbeacon.ingest.health import BoundedPing, assess
from mailbeacon.web import (
    api,
    api_campaigns,
    api_contacts,
    api_feed,
    api_messages,
    api_users,
    dashboard,
    openapi,
    stream,
)
from mailbeacon.web import api_docs, unsubscribe, webhooks_api
from mailbeacon.web.api_guard import ApiCsrfGuard
from mailbeacon.web.auth import AdminKeyGate
from mailbeacon.web.context import Web
from mailbeacon.web.sessions import SessionConfig

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
SESSION_COOKIE = "mb_session"


def create_app(web: Web, lifespan: Callable[[Any], AbstractAsyncContextManager[None]] | None = None) -> ASGIApp:
    tracking, store, outbound = web.tracking, web.store, web.outbound
    batcher = tracking.batcher
    metrics_gate = AdminKeyGate(store)

    ping = BoundedPing(store.ping)  # answers within a second while the database is frozen (issue #12)

    async def healthz(request: Request) -> Response:
        health = assess(batcher, await ping())
        return JSONResponse(health.body, status_code=health.status_code)

    async def metrics(request: Request) -> Response:
        if not web.public_metrics and (refused := await metrics_gate.refused(request)) is not None:
            return refused
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
            "# TYPE mailbeacon_events_in_memory gauge",
            f"mailbeacon_events_in_memory {batcher.events_in_memory}",
            "# TYPE mailbeacon_commit_timeouts_total counter",
            f"mailbeacon_commit_timeouts_total {s.commit_timeouts}",
            "# TYPE mailbeacon_spool_write_failures_total counter",
            f"mailbeacon_spool_write_failures_total {s.spool_write_failures}",
            "# TYPE mailbeacon_spool_quarantined_total counter",
            f"mailbeacon_spool_quarantined_total {batcher.spool_quarantined}",
            "# TYPE mailbeacon_replay_failures_total counter",
            f"mailbeacon_replay_failures_total {s.replay_failures}",
            "# TYPE mailbeacon_requests_shed_total counter",
            f'mailbeacon_requests_shed_total{{route="click"}} {t.shed}',
        ]
        if outbound is not None:
            lines += [
                "# TYPE mailbeacon_outbound_total counter",
                f'mailbeacon_outbound_total{{result="sent"}} {outbound.sent}',
                f'mailbeacon_outbound_total{{result="retried"}} {outbound.retried}',
                f'mailbeacon_outbound_total{{result="bounced"}} {outbound.bounced}',
            ]
        hub = web.extras.get(stream.HUB)
        if isinstance(hub, stream.Hub):
            lines += ["# TYPE mailbeacon_live_streams gauge", f"mailbeacon_live_streams {hub.subscribers}"]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "not found"}, status_code=404)

    rest = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            *unsubscribe.routes(web),
            *api.routes(web),
            *webhooks_api.routes(web),
            *stream.routes(web),
            *api_messages.routes(web),
            *api_feed.routes(web),
            *api_contacts.routes(web),
            *api_campaigns.routes(web),
            *api_users.routes(web),
            *openapi.routes(web),
            *api_docs.routes(web),
            *dashboard.routes(web),
        ],
        exception_handlers={404: not_found},
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=web.session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(web.session_limits.lifetime),
                same_site="lax",
                https_only=web.secure_cookies,
            ),
            Middleware(ApiCsrfGuard),  # inside the session middleware: it reads the session
        ],
        lifespan=lifespan,
    )
    rest.state.sessions = SessionConfig(web.session_limits, tracking.client_ip)  # read by web/sessions.py

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(("/o/", "/c/")):
                return await tracking.asgi(scope, send)
        await rest(scope, receive, send)

    return app
