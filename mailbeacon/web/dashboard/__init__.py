"""The dashboard: server-rendered pages for people, behind a login, one module per page group.

Templates live in mailbeacon/web/templates, the stylesheet, script and icons in
mailbeacon/web/static (served at /static). Its routes come last: it owns `/`.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from mailbeacon.web.context import Web
from mailbeacon.web.dashboard import activity, campaign_form, campaigns, captured, contacts, hooks, login, messages
from mailbeacon.web.dashboard import mailbox, settings, signed_in, users
from mailbeacon.web.dashboard.pages import SECURITY_HEADERS, Pages

__all__ = ["routes"]


def routes(web: Web) -> list[BaseRoute]:
    pages = Pages(web)
    return [
        Mount("/static", app=_with_headers(StaticFiles(packages=[("mailbeacon.web", "static")])), name="static"),
        *login.routes(pages),
        *activity.routes(pages),
        *messages.routes(pages),
        *campaign_form.routes(pages),  # /campaigns/new before /campaigns/{id}
        *campaigns.routes(pages),
        *contacts.routes(pages),
        *captured.routes(pages),
        *hooks.routes(pages),
        *settings.routes(pages),
        *mailbox.routes(pages),
        *signed_in.routes(pages),
        *users.routes(pages),
    ]


def _with_headers(app: Any) -> Any:
    """Static files get the dashboard's security headers too (nosniff matters most for them)."""
    extra = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await app(scope, receive, sending)

    return wrapped
