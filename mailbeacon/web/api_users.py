"""POST /api/v1/users/{id}/disable and /enable, DELETE /api/v1/users/{id}: admins manage users (issue #13).

Only an admin's key (or session, with its CSRF token) may: anyone else gets 403. An admin cannot
disable or delete themselves (409): another admin must, so there is always one left. What a
deleted user leaves is `accounts.delete_user`'s to say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon import accounts
from mailbeacon.store import StoreUnavailable, UserRow
from mailbeacon.web.api_messages import path_id
from mailbeacon.web.auth import api_user, error, require_csrf
from mailbeacon.web.context import Web

Change = Callable[[UserRow], Awaitable[dict[str, object]]]


def user_json(user: UserRow) -> dict[str, object]:
    return {"id": user.id, "email": user.email, "seat": user.seat, "admin": user.is_admin, "disabled": not user.enabled}


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    def admin_action(change: Change) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            admin = await api_user(request, store)
            if isinstance(admin, JSONResponse):
                return admin
            if (refused := require_csrf(request)) is not None:
                return refused
            if not admin.is_admin:
                return error(403, "only an admin may manage users")
            try:
                user_id = path_id(request.path_params["user_id"])
                target = await run_in_threadpool(store.user_by_id, user_id) if user_id else None
                if target is None or target.deleted_at is not None:
                    return error(404, "no such user")
                if target.id == admin.id:
                    return error(409, "you cannot disable or delete yourself: another admin can")
                return JSONResponse(await change(target))
            except StoreUnavailable:
                return error(503, "the database cannot answer now; retry")

        return endpoint

    def switch(disabled: bool) -> Change:
        async def change(target: UserRow) -> dict[str, object]:
            await run_in_threadpool(store.set_user_disabled, target.id, disabled)
            changed = await run_in_threadpool(store.user_by_id, target.id)
            return user_json(changed or target)

        return change

    async def delete(target: UserRow) -> dict[str, object]:
        gone = await run_in_threadpool(accounts.delete_user, store, target)
        return {"deleted": target.email, "messages_kept": gone.messages, "campaigns_kept": gone.campaigns,
                "webhooks_deleted": gone.webhooks, "mailbox_disconnected": gone.mailbox}

    return [
        Route("/api/v1/users/{user_id}/disable", admin_action(switch(True)), methods=["POST"]),
        Route("/api/v1/users/{user_id}/enable", admin_action(switch(False)), methods=["POST"]),
        Route("/api/v1/users/{user_id}", admin_action(delete), methods=["DELETE"]),
    ]
