"""Webhook endpoints over the JSON API: CRUD, the delivery log, redelivery and a test event.

Each endpoint belongs to one user; another user's endpoint (an admin's view
included) answers 404, never data. Calls that change state and ride on the
session cookie must carry the session's CSRF token in `x-csrf-token`
(`api_guard`); API keys need none. Shapes (times are ISO 8601 in UTC):

    endpoint: {"id", "url", "event_filter": [kinds], "enabled", "disabled_reason",
               "all_users", "created_at", "secret" (on creation and GET of one)}
    delivery: {"id", "webhook_id" (the webhook-id header), "event_id", "type", "status",
               "next_attempt_at", "last_status", "last_error", "created_at", "delivered_at",
               "payload": the JSON sent, "attempts": [{"attempted_at", "status_code",
               "error", "duration", "response": the status line, never the body}] newest first}
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon.store import StoreUnavailable, UserRow, Webhook, WebhookDelivery
from mailbeacon.web.api_guard import json_body
from mailbeacon.web.auth import api_user, error
from mailbeacon.web.context import Web
from mailbeacon.webhooks import (
    FILTER_KINDS,
    EndpointDisabled,
    WebhookError,
    change_endpoint,
    create_endpoint,
    iso,
    redeliver,
    send_test,
)

MAX_PAGE = 200
PATCHABLE = {"url", "event_filter", "enabled", "all_users"}


def webhook_json(hook: Webhook, with_secret: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": hook.id,
        "url": hook.url,
        "event_filter": list(hook.event_filter),
        "enabled": hook.enabled,
        "disabled_reason": hook.disabled_reason,
        "all_users": hook.all_users,
        "created_at": iso(hook.created_at),
    }
    if with_secret:
        shown["secret"] = hook.secret
    return shown


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    payload = json.loads(delivery.payload)
    return {
        "id": delivery.id,
        "webhook_id": delivery.message_id,
        "event_id": delivery.event_id,
        "type": payload.get("type"),
        "status": delivery.status,
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "delivered_at": _iso(delivery.delivered_at),
        "payload": payload,
        "attempts": [
            {
                "attempted_at": iso(a.attempted_at),
                "status_code": a.status_code,
                "error": a.error,
                "duration": round(a.duration, 4),
                "response": a.response,
            }
            for a in delivery.log
        ],
    }


def _iso(t: float | None) -> str | None:
    return None if t is None else iso(t)


Handler = Callable[[Request, UserRow, Webhook], Awaitable[Response]]


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def body_of(request: Request) -> dict[str, Any] | Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object")
        return body

    def owned(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The caller's own endpoint {webhook_id}, or 404 (also for another user's)."""

        async def endpoint(request: Request) -> Response:
            user = await api_user(request, store)
            if isinstance(user, Response):
                return user
            webhook_id = _int(request.path_params["webhook_id"])
            hook = None if webhook_id is None else await run_in_threadpool(store.webhook, webhook_id)
            if hook is None or hook.user_id != user.id:
                return error(404, "not found")
            try:
                return await handler(request, user, hook)
            except EndpointDisabled as exc:
                return error(409, str(exc))
            except WebhookError as exc:
                return error(400, str(exc))
            except StoreUnavailable:
                return error(503, "the database is busy; retry")

        return endpoint

    async def list_webhooks(request: Request) -> Response:
        """{"webhooks": [endpoint without secret], "event_kinds": [what event_filter may hold]}."""
        user = await api_user(request, store)
        if isinstance(user, Response):
            return user
        try:
            hooks = await run_in_threadpool(store.webhooks_of, user.id)
        except StoreUnavailable:
            return error(503, "the database is busy; retry")
        return JSONResponse({"webhooks": [webhook_json(h, False) for h in hooks], "event_kinds": list(FILTER_KINDS)})

    async def create(request: Request) -> Response:
        """Body {"url", "event_filter"?: [kinds], "all_users"?: bool (admins)}; 201 with the secret."""
        user = await api_user(request, store)
        if isinstance(user, Response):
            return user
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        unknown = set(body) - {"url", "event_filter", "all_users"}
        if unknown:
            return error(400, f"unknown fields {sorted(unknown)!r}")
        try:
            hook = await run_in_threadpool(
                lambda: create_endpoint(
                    store, user, body.get("url"), body.get("event_filter", []), body.get("all_users", False),
                    destinations=web.webhook_destinations,
                )
            )
        except WebhookError as exc:
            return error(400, str(exc))
        except StoreUnavailable:
            return error(503, "the database is busy; nothing was created; retry")
        return JSONResponse(webhook_json(hook, True), status_code=201)

    async def show(request: Request, user: UserRow, hook: Webhook) -> Response:
        return JSONResponse(webhook_json(hook, True))

    async def patch(request: Request, user: UserRow, hook: Webhook) -> Response:
        """Body with any of url, event_filter, enabled (true re-enables after a 410), all_users."""
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        unknown = set(body) - PATCHABLE
        if unknown:
            return error(400, f"unknown fields {sorted(unknown)!r}; PATCH takes {sorted(PATCHABLE)!r}")
        if any(body.get(name, "") is None for name in PATCHABLE):
            return error(400, "fields must not be null")
        changed = await run_in_threadpool(
            lambda: change_endpoint(
                store, user, hook.id, url=body.get("url"), event_filter=body.get("event_filter"),
                enabled=body.get("enabled"), all_users=body.get("all_users"), destinations=web.webhook_destinations,
            )
        )
        if changed is None:
            return error(404, "not found")
        return JSONResponse(webhook_json(changed, True))

    async def delete(request: Request, user: UserRow, hook: Webhook) -> Response:
        await run_in_threadpool(store.delete_webhook, hook.id)
        return Response(status_code=204)

    async def deliveries(request: Request, user: UserRow, hook: Webhook) -> Response:
        """?before=<delivery id>&limit=1..200; {"deliveries": [...] newest first, "next": before for the next page}."""
        before = request.query_params.get("before")
        limit = _int(request.query_params.get("limit", "50"))
        cursor = None if before is None else _int(before)
        if limit is None or not 1 <= limit <= MAX_PAGE or (before is not None and cursor is None):
            return error(400, f"before must be a delivery id and limit 1..{MAX_PAGE}")
        page = await run_in_threadpool(store.webhook_deliveries, hook.id, cursor, limit)
        return JSONResponse({
            "deliveries": [delivery_json(d) for d in page],
            "next": page[-1].id if len(page) == limit else None,
        })

    async def redeliver_one(request: Request, user: UserRow, hook: Webhook) -> Response:
        """Queue the delivery again now, with the same webhook-id and body; 202 with the delivery."""
        delivery_id = _int(request.path_params["delivery_id"])
        if delivery_id is None or not await run_in_threadpool(redeliver, store, hook, delivery_id):
            return error(404, "not found")
        web.webhooks_queued()
        found = await run_in_threadpool(store.webhook_delivery, delivery_id)
        return JSONResponse(delivery_json(found) if found else {}, status_code=202)

    async def test(request: Request, user: UserRow, hook: Webhook) -> Response:
        """Queue a `webhook.test` event to the endpoint; 202 with the delivery (its log shows the answer)."""
        delivery_id = await run_in_threadpool(send_test, store, hook)
        web.webhooks_queued()
        found = await run_in_threadpool(store.webhook_delivery, delivery_id)
        return JSONResponse(delivery_json(found) if found else {}, status_code=202)

    one = "/api/v1/webhooks/{webhook_id}"
    return [
        Route("/api/v1/webhooks", list_webhooks, methods=["GET"]),
        Route("/api/v1/webhooks", create, methods=["POST"]),
        Route(one, owned(show), methods=["GET"]),
        Route(one, owned(patch), methods=["PATCH"]),
        Route(one, owned(delete), methods=["DELETE"]),
        Route(one + "/deliveries", owned(deliveries), methods=["GET"]),
        Route(one + "/deliveries/{delivery_id}/redeliver", owned(redeliver_one), methods=["POST"]),
        Route(one + "/test", owned(test), methods=["POST"]),
    ]


def _int(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 2**63 else None
