"""Contacts: the people a user sent to, with counts and last activity, and one person's timeline across messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.store import CONTACT_SORTS, ContactQuery, MessageQuery, UserRow
from mailbeacon.web.dashboard.pages import Pages, cursor, owner

PAGE = 50
MAX_PAGES = 100_000


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def contact_list(request: Request, user: UserRow) -> Response:
        sort = request.query_params.get("sort", "last_sent")
        query = ContactQuery(
            user_id=owner(user), sort=sort if sort in CONTACT_SORTS else "last_sent",
            descending=request.query_params.get("dir") != "asc",
        )
        number = min(cursor(request.query_params.get("page")) or 1, MAX_PAGES)
        contacts, more = await pages.call(store.contacts, query, (number - 1) * PAGE, PAGE)
        return pages.render(request, "contacts.html", user, contacts=contacts, where=query, number=number, params=dict(request.query_params),
                            more=more)

    async def contact(request: Request, user: UserRow) -> Response:
        address = request.path_params["email"]
        found = await pages.call(store.contact, owner(user), address)
        if found is None:
            return pages.not_found(request, user)  # nobody this user sent to
        before = cursor(request.query_params.get("before"))
        items = await pages.call(store.contact_feed, owner(user), address, None, before, PAGE)
        sent = await pages.call(store.messages, MessageQuery(user_id=owner(user), recipient=address), None, 20)
        return pages.render(request, "contact.html", user, contact=found, items=items, messages=sent.items,
                            older=items[-1].id if len(items) == PAGE else None)

    return [
        Route("/contacts", pages.view(contact_list)),
        Route("/contacts/{email:path}", pages.view(contact)),
    ]
