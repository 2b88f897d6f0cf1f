"""GET /api/v1/feed: the activity feed, newest first, in pages cut by event id (`before`).

A user reads the events of what they sent, an admin everyone's. Filtering by a message of
another user is a 404 (the message does not exist for them); by a recipient, it finds the
address in any case.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from mailbeacon.store import FeedFilter, FeedItem, UserRow
from mailbeacon.web.api_messages import MAX_PAGE, address
from mailbeacon.web.auth import error
from mailbeacon.web.context import Web
from mailbeacon.web.params import Params, api_reader, owner
from mailbeacon.web.resources import feed_item_json

EVENT_TYPES = ("open", "click")
FEED_PARAMETERS = ("before", "limit", "message_id", "recipient", "type", "human")


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def activity(request: Request, user: UserRow) -> Response:
        params = Params(request, FEED_PARAMETERS)
        before = params.integer("before")
        limit = params.limit(50, MAX_PAGE)
        message_id = params.integer("message_id")
        recipient = address(params)
        where = FeedFilter(
            user_id=owner(user), message_id=message_id, type=params.choice("type", EVENT_TYPES),
            human=params.boolean("human"),
        )
        if message_id is not None and not await run_in_threadpool(store.message_visible, message_id, owner(user)):
            return error(404, "no such message")
        if recipient is None:
            items = await run_in_threadpool(store.feed, where, before, limit + 1)
        else:
            items = await run_in_threadpool(store.contact_feed, owner(user), recipient, where, before, limit + 1)
        return JSONResponse(page_json("items", items, limit, user))

    return [api_reader("/api/v1/feed", store, activity)]


def page_json(key: str, items: list[FeedItem], limit: int, viewer: UserRow) -> dict[str, object]:
    """`limit` of the items (fetched limit + 1) and `next`: the `before` of the following page, if any."""
    shown = items[:limit]
    return {key: [feed_item_json(i, viewer) for i in shown], "next": shown[-1].id if len(items) > limit else None}
