"""GET /api/v1/messages (the list: filters, sorts, keyset pages) and GET /api/v1/messages/{id} (the detail).

POST /api/v1/messages (sending) is in `api`. A message of another user does not exist for the
caller: 404, the same answer as for an id nobody has.
"""

from __future__ import annotations

import dataclasses

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from mailbeacon.store import MESSAGE_SORTS, MessageQuery, UserRow
from mailbeacon.web.auth import error
from mailbeacon.web.context import Web
from mailbeacon.web.params import MAX_ID, BadParameter, Params, api_reader, make_cursor, owner
from mailbeacon.web.resources import detail_json, summary_json

MAX_PAGE = 500
MAX_ADDRESS = 320
"""RFC 3696 errata: 64 + 1 + 255 octets at most."""
RECIPIENTS = 100
"""Recipients in one message detail by default: a campaign's thousands come in pages."""
MAX_RECIPIENTS = 1000
MAX_RECIPIENTS_OFFSET = 10_000_000
LIST_PARAMETERS = ("recipient", "since", "until", "opened", "clicked", "sort", "order", "limit", "cursor", "campaign")
ORDERS = ("desc", "asc")


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def list_messages(request: Request, user: UserRow) -> Response:
        params = Params(request, LIST_PARAMETERS)
        sort = params.choice("sort", MESSAGE_SORTS, "created_at") or "created_at"
        order = params.choice("order", ORDERS, "desc")
        where = MessageQuery(
            user_id=owner(user), recipient=address(params), since=params.time("since"), until=params.time("until"),
            opened=params.boolean("opened"), clicked=params.boolean("clicked"), campaign_id=params.integer("campaign"),
            sort=sort, descending=order == "desc",
        )
        limit = params.limit(50, MAX_PAGE)
        after = list_position(params.cursor("messages"), sort, order)
        page = await run_in_threadpool(store.messages, where, after, limit)
        last = page.items[-1] if page.items else None
        following = make_cursor("messages", sort, order, last.sort_value, last.id) if page.more and last else None
        return JSONResponse({"messages": [summary_json(m) for m in page.items], "next": following})

    async def message_detail(request: Request, user: UserRow) -> Response:
        params = Params(request, ("timeline", "recipients_offset", "recipients_limit"))
        message_id = path_id(request.path_params["message_id"])
        timeline = params.integer("timeline", 0, MAX_PAGE)
        timeline = 50 if timeline is None else timeline
        offset = params.integer("recipients_offset", 0, MAX_RECIPIENTS_OFFSET) or 0
        recipients = params.integer("recipients_limit", 1, MAX_RECIPIENTS) or RECIPIENTS
        if message_id is None or not await run_in_threadpool(store.message_visible, message_id, owner(user)):
            return error(404, "no such message")  # another user's message does not exist either
        detail = await run_in_threadpool(store.message_detail, message_id, timeline + 1, offset, recipients)
        if detail is None:
            return error(404, "no such message")
        more = len(detail.timeline) > timeline
        detail = dataclasses.replace(detail, timeline=detail.timeline[:timeline])
        return JSONResponse(detail_json(detail, detail.timeline[-1].id if more and detail.timeline else None, user))

    return [
        api_reader("/api/v1/messages", store, list_messages),
        api_reader("/api/v1/messages/{message_id}", store, message_detail),
    ]


def address(params: Params, name: str = "recipient") -> str | None:
    value = params.text(name)
    if value is not None and (len(value) > MAX_ADDRESS or "@" not in value):
        raise BadParameter(f"{name}: must be an email address (at most {MAX_ADDRESS} characters)")
    return value


def path_id(text: str) -> int | None:
    """An id from the path, or None when it cannot be one (then the resource does not exist)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def list_position(cursor: list[object] | None, sort: str, order: str | None) -> tuple[float, int] | None:
    """(sort value, id) from a messages cursor made for the same sort and order."""
    if cursor is None:
        return None
    if len(cursor) != 4 or cursor[:2] != [sort, order]:
        raise BadParameter("cursor: made for another sort or order; start again without it")
    value, last_id = cursor[2], cursor[3]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(last_id, int):
        raise BadParameter("cursor: not a cursor of this list; pass the `next` of the previous page")
    if isinstance(last_id, bool) or not 0 <= last_id <= MAX_ID or abs(value) > 1e300:
        raise BadParameter("cursor: not a cursor of this list; pass the `next` of the previous page")
    return float(value), last_id
