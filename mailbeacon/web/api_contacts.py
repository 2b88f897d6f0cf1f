"""Contacts over the API (issue #14, item 5): list and search, one contact with their record and
timeline, PATCH their fields, DELETE (an admin's erase, with what it removed), POST a CSV import.

An address is a contact in any case (Bob@ and bob@ are one person). Contacts are everyone the
caller wrote to and everyone in the shared contact directory; any other address is a 404,
whoever else wrote to it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon.campaigns.contacts import ContactFileError
from mailbeacon.campaigns.imports import describe_import, import_contacts
from mailbeacon.store import CONTACT_SORTS, ContactActivity, ContactQuery, FeedFilter, StoreUnavailable, UserRow
from mailbeacon.web.api_guard import json_body
from mailbeacon.web.api_feed import EVENT_TYPES, page_json
from mailbeacon.web.api_messages import MAX_ADDRESS, MAX_PAGE, ORDERS
from mailbeacon.web.auth import api_user, error
from mailbeacon.web.contact_edits import MAX_CSV, MAX_SEARCH, ContactEditError, erase_summary, field_changes
from mailbeacon.web.context import Web
from mailbeacon.web.params import BadParameter, Params, api_reader, make_cursor, owner
from mailbeacon.web.resources import contact_json, record_json

MAX_OFFSET = 1_000_000


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def list_contacts(request: Request, user: UserRow) -> Response:
        params = Params(request, ("sort", "order", "limit", "cursor", "q"))
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
        search = (request.query_params.get("q") or "").strip()
        if len(search) > MAX_SEARCH:
            raise BadParameter(f"q: at most {MAX_SEARCH} characters")
        where = ContactQuery(user_id=owner(user), sort=sort, descending=order == "desc", search=search or None)
        contacts, more = await run_in_threadpool(store.contacts, where, offset, limit)
        following = make_cursor("contacts", sort, order, offset + len(contacts)) if more else None
        # A cursor is an offset: it is good for the same q only, which the caller passes again.
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
        record = await run_in_threadpool(store.contact_record, owner(user), email)
        return JSONResponse({"contact": contact_json(found), "record": record_json(record),
                             **page_json("timeline", items, limit, user)})

    async def visible(request: Request, user: UserRow, anyone: bool = False) -> ContactActivity | Response:
        email = request.path_params["email"]
        if len(email) > MAX_ADDRESS or "@" not in email:
            return error(404, "no such contact")
        found = await run_in_threadpool(store.contact, None if anyone else owner(user), email)
        return error(404, "no such contact") if found is None else found

    async def patch(request: Request) -> Response:
        """Body {"fields": {"name": "value" | null}}: set or remove fields; the contact's record after."""
        user = await api_user(request, store)
        if isinstance(user, Response):
            return user
        found = await visible(request, user)
        if isinstance(found, Response):
            return found
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict) or set(body) != {"fields"} or not isinstance(body["fields"], dict):
            return error(400, 'send {"fields": {"name": "value" or null}}')
        try:
            changes = field_changes(body["fields"])
            await run_in_threadpool(store.change_contact_fields, found.email, changes)
        except ContactEditError as exc:
            return error(400, f"nothing was changed: {exc}")
        except StoreUnavailable:
            return error(503, "the database cannot answer now; nothing was changed; retry")
        record = await run_in_threadpool(store.contact_record, owner(user), found.email)
        return JSONResponse({"contact": contact_json(found), "record": record_json(record)})

    async def erase(request: Request) -> Response:
        """Admins: erase the person from everyone's mail; what was removed, per kind."""
        user = await api_user(request, store)
        if isinstance(user, Response):
            return user
        if not user.is_admin:
            return error(403, "only an admin erases a contact: it removes them from everyone's mail")
        found = await visible(request, user, anyone=True)
        if isinstance(found, Response):
            return found
        try:
            counts, kept = await run_in_threadpool(store.erase_contact, found.email)
        except StoreUnavailable:
            return error(503, "the database cannot answer now; nothing was erased; retry")
        return JSONResponse({"email": found.email, "erased": counts, "kept": {"do_not_track": kept},
                             "summary": erase_summary(found.email, counts, kept)})

    async def import_csv(request: Request) -> Response:
        """?list=NAME with a CSV body (Content-Type text/csv): the importer of `mailbeacon contacts import`."""
        user = await api_user(request, store)
        if isinstance(user, Response):
            return user
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in ("text/csv", "text/plain"):
            return error(415, f"send the file as Content-Type: text/csv (got {media_type or 'none'})")
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_CSV:
                return error(413, f"larger than {MAX_CSV // (1024 * 1024)} MiB; nothing was imported")
        try:
            result = await run_in_threadpool(import_contacts, store, data, request.query_params.get("list", ""))
        except ContactFileError as exc:
            return error(400, f"nothing was imported: {exc}")
        except StoreUnavailable:
            return error(503, "the database cannot answer now; retry (importing again changes nothing twice)")
        c = result.counts
        return JSONResponse({
            "list": result.list_name, "rows": result.file.rows, "imported": result.imported,
            "created": c.created, "updated": c.updated, "unchanged": c.unchanged, "added": c.added,
            "unsubscribed": c.unsubscribed, "still_unsubscribed": c.still_unsubscribed,
            "skipped": [p.reason for p in result.file.skipped], "summary": describe_import(result),
        })

    one = "/api/v1/contacts/{email}"
    return [
        api_reader("/api/v1/contacts", store, list_contacts),
        Route("/api/v1/contacts/import", import_csv, methods=["POST"]),
        api_reader(one, store, contact),
        Route(one, patch, methods=["PATCH"]),
        Route(one, erase, methods=["DELETE"]),
    ]
