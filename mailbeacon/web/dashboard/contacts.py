"""Contacts: everyone a user wrote to and everyone in the contact directory, one record each (issue #14, item 5).

A contact's page shows their fields, lists, subscription and bounces beside the timeline;
contacts are searched, imported from a CSV file (the importer of `mailbeacon contacts import`),
edited, and erased with their events by an admin.
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.campaigns.contacts import ContactFileError
from mailbeacon.campaigns.imports import describe_import, import_contacts
from mailbeacon.store import CONTACT_SORTS, ContactQuery, MessageQuery, UserRow
from mailbeacon.web.contact_edits import MAX_CSV, MAX_SEARCH, ContactEditError, erase_summary, field_changes
from mailbeacon.web.dashboard.formats import path_part
from mailbeacon.web.dashboard.pages import Pages, cursor, field, flash, owner, redirect

PAGE = 50
MAX_PAGES = 100_000


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def contact_list(request: Request, user: UserRow) -> Response:
        sort = request.query_params.get("sort", "last_sent")
        search = request.query_params.get("q", "").strip()[:MAX_SEARCH]
        query = ContactQuery(
            user_id=owner(user), sort=sort if sort in CONTACT_SORTS else "last_sent",
            descending=request.query_params.get("dir") != "asc", search=search or None,
        )
        number = min(cursor(request.query_params.get("page")) or 1, MAX_PAGES)
        contacts, more = await pages.call(store.contacts, query, (number - 1) * PAGE, PAGE)
        return pages.render(request, "contacts.html", user, contacts=contacts, where=query, number=number, params=dict(request.query_params),
                            more=more, search=search)

    async def import_form(request: Request, user: UserRow) -> Response:
        lists = await pages.call(store.lists)
        return pages.render(request, "contacts_import.html", user, lists=lists, error=None, summary=None, list_name="")

    async def import_file(request: Request, user: UserRow, form: FormData) -> Response:
        list_name = field(form, "list")
        upload = form.get("file")
        error, summary = None, None
        if not isinstance(upload, UploadFile) or not upload.filename:
            error = "choose a CSV file to import"
        else:
            data = await upload.read(MAX_CSV + 1)
            if len(data) > MAX_CSV:
                error = f"{upload.filename}: larger than {MAX_CSV // (1024 * 1024)} MiB; nothing was imported"
            else:
                try:
                    result = await pages.call(import_contacts, store, data, list_name)
                    summary = describe_import(result)
                except ContactFileError as exc:
                    error = f"{upload.filename}: {exc}\nNothing was imported."
        lists = await pages.call(store.lists)
        return pages.render(request, "contacts_import.html", user, status=400 if error else 200, lists=lists,
                            error=error, summary=summary, list_name=list_name)

    async def contact(request: Request, user: UserRow) -> Response:
        address = request.path_params["email"]
        found = await pages.call(store.contact, owner(user), address)
        if found is None:
            return pages.not_found(request, user)  # nobody this user wrote to, nor in the directory
        before = cursor(request.query_params.get("before"))
        items = await pages.call(store.contact_feed, owner(user), address, None, before, PAGE)
        sent = await pages.call(store.messages, MessageQuery(user_id=owner(user), recipient=address), None, 20)
        record = await pages.call(store.contact_record, owner(user), address)
        return pages.render(request, "contact.html", user, contact=found, items=items, messages=sent.items,
                            older=items[-1].id if len(items) == PAGE else None, record=record)

    async def edit(request: Request, user: UserRow, form: FormData) -> Response:
        """POST /contacts/{email}/fields: the fields as edited on the page, and one new field."""
        address = request.path_params["email"]
        found = await pages.call(store.contact, owner(user), address)
        if found is None:
            return pages.not_found(request, user)
        given: dict[str, object] = {}
        for key in form.keys():
            if key.startswith("field:"):
                given[key.removeprefix("field:")] = field(form, key)
        if field(form, "new_name"):
            given[field(form, "new_name")] = field(form, "new_value")
        try:
            await pages.call(store.change_contact_fields, found.email, field_changes(given))
        except ContactEditError as exc:
            flash(request, f"Nothing was changed: {exc}", "error")
        else:
            flash(request, f"Saved the fields of {found.email}.")
        return redirect(f"/contacts/{path_part(found.email)}")

    async def erase(request: Request, user: UserRow, form: FormData) -> Response:
        """POST /contacts/{email}/erase (admins): the person and every event of theirs, in one transaction."""
        address = request.path_params["email"]
        found = await pages.call(store.contact, None, address)
        if found is None:
            return pages.not_found(request, user)
        if field(form, "confirm") != "yes":
            flash(request, "Nothing was erased: tick the box that says what is erased first.", "error")
            return redirect(f"/contacts/{path_part(found.email)}")
        counts, kept = await pages.call(store.erase_contact, found.email)
        flash(request, erase_summary(found.email, counts, kept))
        return redirect("/contacts")

    return [
        Route("/contacts", pages.view(contact_list)),
        Route("/contacts/import", pages.view(import_form)),
        Route("/contacts/import", pages.action(import_file), methods=["POST"]),
        Route("/contacts/{email:path}/fields", pages.action(edit), methods=["POST"]),
        Route("/contacts/{email:path}/erase", pages.action(erase, admin=True), methods=["POST"]),
        Route("/contacts/{email:path}", pages.view(contact)),
    ]
