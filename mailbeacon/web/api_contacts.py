"""GET /api/v1/contacts (the people a user sent to, with counts) and GET /api/v1/contacts/{email} (a timeline).

An address is a contact in any case (Bob@ and bob@ are one person). An address the caller never
sent to is a 404, whoever else did.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from mailbeacon.store import CONTACT_SORTS, ContactQuery, FeedFilter, UserRow
from mailbeacon.web.api_feed import EVENT_TYPES, page_json
from mailbeacon.web.api_messages import MAX_ADDRESS, MAX_PAGE, ORDERS
from mailbeacon.web.auth import error
from mailbeacon.web.context import Web
from mailbeacon.web.params import BadParameter, Params, api_reader, make_cursor, owner
from mailbeacon.web.resources import contact_json

MAX_OFFSET = 1_000_000


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def list_contacts(request: Request, user: UserRow) -> Response:
        params = Params(request, ("sort", "order", "limit", "cursor"))
        sort = params.choice("sort", CONTACT_SORTS, "last_sent") or "last_sent"
        order = params.choice("order", ORDERS, "desc")
        limit = params.limit(50, MAX_PAGE)
        offset = 0
        cursor = params.cursor("contacts")
        if cursor is not None:
            if len(cursor) != 3 or cursor[:2] != [sort, order]:
                raise BadParameter("cursor: made for another sort or order; start again without it")
            if isinstance(cursor[2], bool) or not isinstance(cursor[2], int) or not 0 <= cursor[2] <= MAX_OFFSET:
                raise BadParameter("cursor: not a cursor of this list; pass the `next` of the previous page")
            offset = cursor[2]
        where = ContactQuery(user_id=owner(user), sort=sort, descending=order == "desc")
        contacts, more = await run_in_threadpool(store.contacts, where, offset, limit)
        following = make_cursor("contacts", sort, order, offset + len(contacts)) if more else None
        return JSONResponse({"contacts": [contact_json(c) for c in contacts], "next": following})

    async def contact(request: Request, user: UserRow) -> Response:
        params = Params(request, ("before", "limit", "type", "human"))
        email = request.path_params["email"]
        before = params.integer("before")
        limit = params.limit(50, MAX_PAGE)
        where = FeedFilter(type=params.choice("type", EVENT_TYPES), human=params.boolean("human"))
        if len(email) > MAX_ADDRESS or "@" not in email:
            return error(404, "no such contact")
        found = await run_in_threadpool(store.contact, owner(user), email)
        if found is None:
            return error(404, "no such contact")  # never sent to by this user, whoever else did
        items = await run_in_threadpool(store.contact_feed, owner(user), email, where, before, limit + 1)
        return JSONResponse({"contact": contact_json(found), **page_json("timeline", items, limit, user)})

    return [
        api_reader("/api/v1/contacts", store, list_contacts),
        api_reader("/api/v1/contacts/{email}", store, contact),
    ]
