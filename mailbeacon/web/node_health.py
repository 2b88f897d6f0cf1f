"""The HTTP side of a node without the web role (issue #17): /healthz only, for orchestrators and balancers.

A relay or worker node serves no tracking, API or dashboard; it still says whether it
reaches the store, its name, its roles and the leases of jobs it holds now.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailbeacon.ingest.health import BoundedPing


def create_health_app(
    ping: Callable[[], bool],
    describe: Callable[[], dict[str, object]],
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    bounded = BoundedPing(ping)  # answers within a second while the database is frozen (issue #12)

    async def healthz(request: Request) -> Response:
        store_ok = await bounded()
        body = {"status": "ok" if store_ok else "degraded", "store": store_ok, **describe()}
        return JSONResponse(body, status_code=200 if store_ok else 503)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "not found: this node has no web role"}, status_code=404)

    return Starlette(routes=[Route("/healthz", healthz)], exception_handlers={404: not_found}, lifespan=lifespan)
