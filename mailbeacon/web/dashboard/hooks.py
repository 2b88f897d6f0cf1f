"""Webhooks in Settings: add an endpoint, see its signing secret and delivery log, redeliver, test, delete.

The checks are mailbeacon.webhooks' (the JSON API uses the same); an endpoint is its
owner's alone, and anyone else's id reads as a missing page.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.store import UserRow, Webhook
from mailbeacon.webhooks import WebhookError, change_endpoint, create_endpoint, redeliver, send_test
from mailbeacon.web.dashboard.pages import Pages, cursor, field, flash, redirect

PAGE = 50


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def own(request: Request, user: UserRow) -> Webhook | None:
        webhook_id = cursor(request.path_params["webhook_id"])
        found = await pages.call(store.webhook, webhook_id) if webhook_id else None
        return found if found is not None and found.user_id == user.id else None

    async def create(request: Request, user: UserRow, form: FormData) -> Response:
        kinds = [k for k in form.getlist("events") if isinstance(k, str)]
        try:
            made = await pages.call(lambda: create_endpoint(
                store, user, field(form, "url"), kinds, form.get("all_users") == "on",
                destinations=pages.web.webhook_destinations,
            ))
        except WebhookError as exc:
            flash(request, f"Not added: {exc}.", "error")
            return redirect("/settings#webhooks")
        flash(request, "Endpoint added. Verify its deliveries with the signing secret below.")
        return redirect(f"/settings/webhooks/{made.id}")

    async def webhook(request: Request, user: UserRow) -> Response:
        found = await own(request, user)
        if found is None:
            return pages.not_found(request, user)
        before = cursor(request.query_params.get("before"))
        deliveries = await pages.call(store.webhook_deliveries, found.id, before, PAGE)
        return pages.render(request, "webhook.html", user, webhook=found, deliveries=deliveries,
                            older=deliveries[-1].id if len(deliveries) == PAGE else None)

    async def delete(request: Request, user: UserRow, form: FormData) -> Response:
        found = await own(request, user)
        if found is None:
            return pages.not_found(request, user)
        await pages.call(store.delete_webhook, found.id)
        flash(request, f"Endpoint {found.url} deleted.")
        return redirect("/settings#webhooks")

    async def switch(request: Request, user: UserRow, form: FormData) -> Response:
        found = await own(request, user)
        if found is None:
            return pages.not_found(request, user)
        enabled = field(form, "enabled") == "1"
        await pages.call(lambda: change_endpoint(
            store, user, found.id, enabled=enabled, destinations=pages.web.webhook_destinations
        ))
        flash(request, "Endpoint enabled." if enabled else "Endpoint disabled: nothing more is sent to it.")
        return redirect(f"/settings/webhooks/{found.id}")

    async def test(request: Request, user: UserRow, form: FormData) -> Response:
        found = await own(request, user)
        if found is None:
            return pages.not_found(request, user)
        try:
            await pages.call(send_test, store, found)
            flash(request, "A webhook.test message is on its way.")
        except WebhookError as exc:
            flash(request, f"Not sent: {exc}.", "error")
        return redirect(f"/settings/webhooks/{found.id}")

    async def again(request: Request, user: UserRow, form: FormData) -> Response:
        found = await own(request, user)
        delivery_id = cursor(field(form, "delivery"))
        if found is None:
            return pages.not_found(request, user)
        try:
            done = delivery_id is not None and await pages.call(redeliver, store, found, delivery_id)
            flash(request, "Queued again, with the same webhook-id." if done else "No such delivery.",
                  "ok" if done else "error")
        except WebhookError as exc:
            flash(request, f"Not redelivered: {exc}.", "error")
        return redirect(f"/settings/webhooks/{found.id}")

    return [
        Route("/settings/webhooks", pages.action(create), methods=["POST"]),
        Route("/settings/webhooks/{webhook_id}", pages.view(webhook)),
        Route("/settings/webhooks/{webhook_id}/delete", pages.action(delete), methods=["POST"]),
        Route("/settings/webhooks/{webhook_id}/enabled", pages.action(switch), methods=["POST"]),
        Route("/settings/webhooks/{webhook_id}/test", pages.action(test), methods=["POST"]),
        Route("/settings/webhooks/{webhook_id}/redeliver", pages.action(again), methods=["POST"]),
    ]

