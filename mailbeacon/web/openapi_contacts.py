"""The contact routes of the OpenAPI document (issue #14, item 5): search, the record, edit, erase, import.

The shapes follow `web/api_contacts.py` and `web/resources.py`; `web/openapi.py` adds them.
"""

from __future__ import annotations

from mailbeacon.store import CONTACT_SORTS, ERASED_KINDS
from mailbeacon.web.openapi_builders import (
    BOOL,
    INT,
    STR,
    Schema,
    answer,
    array,
    maybe,
    obj,
    operation,
    param,
    ref,
)

EMAIL = param("email", STR, "The address, any case.", "path")
FIELDS = {"type": "object", "additionalProperties": {"type": "string"},
          "description": "The contact's fields (first_name, ...): what templates write as {{ contact.NAME }}."}

SCHEMAS: dict[str, Schema] = {
    "ContactRecord": obj({
        "fields": FIELDS,
        "lists": array(STR),
        "subscribed": BOOL,
        "unsubscribed_at": maybe("number"),
        "unsubscribe_source": maybe("string", "link, one-click, cli or import."),
        "bounces": obj({"count": INT, "last_at": maybe("number"), "last_reply": maybe("string")}),
    }, description="The contact directory's side of a contact; empty fields and lists for someone only written to."),
    "ContactChange": obj({"fields": {
        "type": "object", "additionalProperties": {"type": ["string", "null"]},
        "description": "Names as templates write them (lower-case letters, digits, _); null or \"\" removes one.",
    }}),
    "ContactWithRecord": obj({"contact": ref("Contact"), "record": ref("ContactRecord")}),
    "ContactErased": obj({
        "email": STR,
        "erased": obj({kind: INT for kind in ERASED_KINDS}),
        "kept": obj({"do_not_track": {"type": "integer", "description": "Entries kept so they stay untracked."}}),
        "summary": STR,
    }),
    "ContactImport": obj({
        "list": STR, "rows": INT, "imported": INT, "created": INT, "updated": INT, "unchanged": INT, "added": INT,
        "unsubscribed": INT, "still_unsubscribed": INT, "skipped": array(STR), "summary": array(STR),
    }),
}

CHANGES = ("400", "401", "403", "404", "503")

PATHS: dict[str, dict[str, Schema]] = {
    "/api/v1/contacts": {
        "get": operation(
            "Your contacts: everyone you wrote to and the contact directory, with counts",
            answer("A page.", ref("ContactList")),
            params=[param("sort", {"enum": list(CONTACT_SORTS), "default": "last_sent"}, "What to sort by."),
                    param("order", {"enum": ["desc", "asc"], "default": "desc"}, "Sort direction."),
                    param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Items per page."),
                    param("cursor", STR, "The `next` of the previous page (made for the same sort, order and q)."),
                    param("q", {"type": "string", "maxLength": 200}, "Only contacts whose address or a field value "
                          "holds this text, in any case.")],
        )
    },
    "/api/v1/contacts/import": {
        "post": {
            **operation("Import a CSV file into a list (the importer of `mailbeacon contacts import`)",
                        answer("What was imported, and every skipped line.", ref("ContactImport")),
                        params=[param("list", STR, "The list to put the contacts on (created if new).", required=True)],
                        errors=("400", "401", "403", "503")),
            "requestBody": {"required": True, "content": {"text/csv": {"schema": STR}}},
        }
    },
    "/api/v1/contacts/{email}": {
        "get": operation(
            "One person: counts, their record and their timeline across messages, newest first",
            answer("The contact, their record and a page of their events.", ref("ContactTimeline")),
            params=[EMAIL, param("before", {"type": "integer", "minimum": 1}, "Only events older than this id."),
                    param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Items per page."),
                    param("type", {"enum": ["open", "click"]}, "Only opens or only clicks."),
                    param("human", BOOL, "true: what counts as a person; false: machine and sender events.")],
            errors=("400", "401", "404", "503"),
        ),
        "patch": operation("Set or remove a contact's fields", answer("The contact after.", ref("ContactWithRecord")),
                           params=[EMAIL], errors=CHANGES, body=ref("ContactChange")),
        "delete": operation(
            "Erase a person from everyone's mail (admins): events, feed items, deliveries, list memberships, record",
            answer("What was removed, per kind.", ref("ContactErased")), params=[EMAIL], errors=CHANGES,
            description="A GDPR erasure in one transaction. Messages and their totals stay; do-not-track entries stay "
            "so the person remains untracked. 403 for a user who is not an admin.",
        ),
    },
}
