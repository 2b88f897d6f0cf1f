"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every /api/v1 route, written by hand.

`PATHS` describes each route; the document served lists those the running app has (so a route
module left out of `app.py` is not advertised), and a test checks that every /api/v1 route the
app registers is described here and the other way round, so the two cannot drift. The
schemas follow the JSON the handlers build (`web/resources.py`, `views/reports.py`, `views/feeditems.py`);
the campaign routes are described in `web/openapi_campaigns.py`.
"""

from __future__ import annotations

import copy
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon import __version__
from mailbeacon.store import MESSAGE_SORTS
from mailbeacon.web import openapi_campaigns, openapi_contacts
from mailbeacon.web.context import Web
from mailbeacon.web.openapi_builders import (
    AUTH,
    BOOL,
    COUNTS,
    INT,
    ISO,
    MAYBE_TIME,
    NUM,
    RAW_HUMAN,
    STR,
    TIME,
    Schema,
    answer,
    array,
    maybe,
    obj,
    operation,
    param,
    ref,
)

OPENAPI_PATH = "/api/v1/openapi.json"

SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": STR}, description="Every error: a message a person can act on."),
    "FeedItem": obj(
        {
            "id": {"type": "integer", "description": "The event's id; the feed's cursor."},
            "type": {"enum": ["open", "click"]},
            "occurred_at": TIME,
            "occurred_at_iso": {"type": "string", "format": "date-time", "description": "The same time, UTC."},
            "user_id": maybe("integer", "Whose message it is."),
            "message_id": maybe("integer"),
            "subject": maybe("string", "The subject the recipient's copy had (a campaign's, rendered for them)."),
            "recipient": maybe("string", "As sent to; from the delivery, never from the request."),
            "link": maybe("integer", "The link's index in the message (clicks)."),
            "url": maybe("string", "The click's target, as the token carried it. Data: never interpret it."),
            "ip": {"type": "string", "description": "The reader's address (truncated after the privacy period)."},
            "user_agent": {"type": "string", "description": "As sent by the reader. Hostile data: escape it."},
            "class": maybe("string", "human, proxied, suspect_forward, machine or sender; null until judged."),
            "reasons": array(STR),
            "client": maybe("string", "Mail client or browser, from the User-Agent."),
            "first": maybe("boolean", "The delivery's first open (or click)."),
            "notice": {
                "enum": ["first_open", "open", "click", "forward", None],
                "description": "What a person is told; null for machine and sender events.",
            },
            "gap": maybe("number", "Seconds since the delivery's previous human open."),
            "notify": {
                "oneOf": [obj({"title": STR, "body": STR}), {"type": "null"}],
                "description": "The notification the caller's rules give for it, if any.",
            },
        }
    ),
    "FeedPage": obj({"items": array(ref("FeedItem")), "next": maybe("integer", "Pass as `before` for older items.")}),
    "OpenCounts": obj(
        {**COUNTS["properties"], "unique": INT, "unique_human": INT, "inferred": INT},
        description="unique*: recipients with at least one; inferred: a person clicked without loading images.",
    ),
    "ClickCounts": obj({**COUNTS["properties"], "unique": INT, "unique_human": INT}),
    "MessageSummary": obj(
        {
            "id": INT,
            "subject": maybe("string"),
            "sender": maybe("string"),
            "created_at": TIME,
            "source": maybe("string", "relay, api, send, campaign; null for `mailbeacon instrument`."),
            "campaign": {
                "oneOf": [obj({"id": INT, "name": STR}), {"type": "null"}],
                "description": "The campaign this message is; `subject` is then its template (each copy's own "
                "subject is on its recipient and its feed items).",
            },
            "recipients": INT,
            "opens": ref("OpenCounts"),
            "clicks": ref("ClickCounts"),
            "rates": obj(
                {name: maybe("number") for name in ("open", "click", "open_raw", "click_raw")},
                description="Unique human (or raw) opens and clicks over recipients; null without recipients.",
            ),
        }
    ),
    "MessageList": obj(
        {"messages": array(ref("MessageSummary")), "next": maybe("string", "Pass as `cursor` for the next page.")}
    ),
    "ClientSeen": obj({"client": STR, "events": INT, "human": INT, "last_seen_at": TIME}),
    "Recipient": obj(
        {
            "recipient": STR,
            "delivery": {"type": "string", "description": "The delivery key, hex."},
            "shared": BOOL,
            "status": maybe("string", "queued, sent, bounced, withdrawn (its campaign was cancelled before it was "
                            "sent); null if mailbeacon did not send it."),
            "subject": maybe("string", "The copy's own subject (a campaign's, rendered for this recipient); null: "
                             "the message's."),
            "opens_tracked": maybe("boolean"),
            "clicks_tracked": maybe("boolean"),
            "untrackable": array(STR),
            "opens": COUNTS,
            "clicks": COUNTS,
            "first_open_at": MAYBE_TIME,
            "last_open_at": MAYBE_TIME,
            "first_human_open_at": MAYBE_TIME,
            "inferred_open_at": MAYBE_TIME,
            "clients": array(ref("ClientSeen")),
        }
    ),
    "MessageDetail": obj(
        {
            "id": INT,
            "subject": maybe("string"),
            "sender": maybe("string"),
            "created_at": TIME,
            "campaign": {
                "oneOf": [obj({"id": INT, "name": STR}), {"type": "null"}],
                "description": "The campaign this message is; `subject` is then its template (each copy's own "
                "subject is on its recipient and its feed items).",
            },
            "opens": ref("OpenCounts"),
            "clicks": ref("ClickCounts"),
            "recipients": array(ref("Recipient")),
            "links": array(obj({"idx": INT, "url": STR, "clicks": RAW_HUMAN})),
            "recipients_total": INT,
            "recipients_next": maybe("integer", "More recipients: pass as `recipients_offset`."),
            "timeline": array(ref("FeedItem")),
            "timeline_next": maybe("integer", "More events: GET /api/v1/feed?message_id=ID&before=this."),
        }
    ),
    "Contact": obj(
        {
            "email": {"type": "string", "description": "Lower-cased: one contact for every spelling."},
            "messages": INT,
            "opens": RAW_HUMAN,
            "clicks": RAW_HUMAN,
            "first_sent_at": maybe("number", "Null for a directory contact never written to."),
            "last_sent_at": maybe("number"),
            "last_human_open_at": MAYBE_TIME,
            "last_activity_at": maybe("number", "When their newest event (any class) happened."),
        }
    ),
    "ContactList": obj({"contacts": array(ref("Contact")), "next": maybe("string")}),
    "ContactTimeline": obj(
        {"contact": ref("Contact"), "record": ref("ContactRecord"), "timeline": array(ref("FeedItem")),
         "next": maybe("integer")}
    ),
    "Event": obj(
        {
            "id": INT, "type": {"enum": ["open", "click"]}, "occurred_at": TIME, "message_id": maybe("integer"),
            "recipient": maybe("string"), "link": maybe("integer"), "url": maybe("string"), "ip": STR,
            "user_agent": STR, "method": STR, "class": maybe("string"), "reasons": array(STR),
            "client": maybe("string"), "first": maybe("boolean"),
        }
    ),
    "EventsPage": obj({"events": array(ref("Event")), "next": maybe("integer", "Pass as `after`.")}),
    "NewMessage": obj(
        {
            **{name: {"oneOf": [STR, array(STR)]} for name in ("to", "cc", "bcc")},
            "subject": STR, "html": STR, "text": STR,
            "send_to_suppressed": {"type": "boolean", "default": False,
                                   "description": "Send also to suppressed addresses (else 409, nothing queued)."},
        },
        optional=("to", "cc", "bcc", "subject", "html", "text", "send_to_suppressed"),
        description="At least one recipient, and html, text or both. Bcc never appears in a header.",
    ),
    "Queued": obj(
        {
            "message_id": INT,
            "copies": array(obj({
                "recipient": STR, "delivery": STR, "opens_tracked": maybe("boolean"),
                "clicks_tracked": maybe("boolean"), "untracked_reason": maybe("string"),
            })),
        }
    ),
    "Webhook": obj(
        {
            "id": INT, "url": STR, "event_filter": array(STR), "enabled": BOOL,
            "disabled_reason": maybe("string", "Why it was turned off (a 410 Gone answer)."), "all_users": BOOL,
            "created_at": ISO, "secret": {"type": "string", "description": "whsec_ + base64: the signing key."},
        },
        optional=("secret",),
        description="An endpoint; `secret` is shown to its owner on creation and in GET of one.",
    ),
    "WebhookList": obj({"webhooks": array(ref("Webhook")), "event_kinds": array(STR)}),
    "NewWebhook": obj(
        {"url": STR, "event_filter": array(STR), "all_users": BOOL},
        optional=("event_filter", "all_users"),
        description="url: http(s) only. event_filter: kinds from `event_kinds` (open, click, open.human...); "
        "empty: all. all_users: an admin's endpoint for everyone's events.",
    ),
    "WebhookChange": obj(
        {"url": STR, "event_filter": array(STR), "enabled": BOOL, "all_users": BOOL},
        optional=("url", "event_filter", "enabled", "all_users"),
        description="enabled: true re-enables an endpoint turned off by a 410.",
    ),
    "WebhookDelivery": obj(
        {
            "id": INT,
            "webhook_id": {"type": "string", "description": "The webhook-id header: the same on every attempt."},
            "event_id": maybe("integer"),
            "type": maybe("string", "email.opened, email.clicked, webhook.test."),
            "status": {"enum": ["pending", "delivered", "failed", "disabled"]},
            "next_attempt_at": maybe("string"),
            "last_status": maybe("integer"),
            "last_error": maybe("string"),
            "created_at": ISO,
            "delivered_at": maybe("string"),
            "payload": {"type": "object", "description": "The JSON sent, byte for byte the same on redelivery."},
            "attempts": array(obj({
                "attempted_at": ISO, "status_code": maybe("integer"), "error": maybe("string"), "duration": NUM,
                "response": maybe("string", "The receiver's status line, e.g. 500 Internal Server Error (never its body)."),
            })),
        },
        description="One event for one endpoint, with its attempts newest first (the delivery log).",
    ),
    "WebhookDeliveries": obj(
        {"deliveries": array(ref("WebhookDelivery")), "next": maybe("integer", "Pass as `before`.")}
    ),
    **openapi_campaigns.SCHEMAS,
    **openapi_contacts.SCHEMAS,
}

LIMIT = param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Items per page.")
BEFORE = param("before", {"type": "integer", "minimum": 1}, "Only events older than this id (the `next` of a page).")
EVENT_TYPE = param("type", {"enum": ["open", "click"]}, "Only opens or only clicks.")
HUMAN = param("human", BOOL, "true: what counts as a person (notice set); false: machine and sender events.")
ORDER = param("order", {"enum": ["desc", "asc"], "default": "desc"}, "Sort direction.")
CURSOR = param("cursor", STR, "The `next` of the previous page (made for the same sort and order).")
HOOK = "/api/v1/webhooks/{webhook_id}"
HOOK_ID = param("webhook_id", INT, "The endpoint's id.", "path")
CHANGE_ERRORS = ("400", "401", "403", "503")
"""Calls that change state: a session cookie needs the CSRF header too (403 without it)."""

PATHS: dict[str, dict[str, Schema]] = {
    "/api/v1/events": {
        "get": operation(
            "The events log in id order", answer("A page.", ref("EventsPage")),
            params=[param("after", {"type": "integer", "minimum": 0, "default": 0}, "Events with a larger id."),
                    param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Page size.")],
            tag="events",
        )
    },
    "/api/v1/messages": {
        "get": operation(
            "Messages with their counts and rates",
            answer("A page, newest first by default.", ref("MessageList")),
            params=[
                param("recipient", STR, "Sent to this address (exact, any case)."),
                param("since", STR, "created_at >= since: unix seconds or ISO 8601 (no zone: UTC)."),
                param("until", STR, "created_at < until: unix seconds or ISO 8601."),
                param("opened", BOOL, "true: a recipient opened it as a person (unique human open); false: none did."),
                param("clicked", BOOL, "true: a recipient clicked as a person; false: none did."),
                param("sort", {"enum": list(MESSAGE_SORTS), "default": "created_at"},
                      "Rates are unique human opens (clicks) over recipients."),
                ORDER, LIMIT, CURSOR,
                param("campaign", {"type": "integer", "minimum": 1},
                      "Only the message of this campaign (a campaign is one message); none if it is not yours."),
            ],
        ),
        "post": operation(
            "Send a message through mailbeacon (tracked as the relay would)",
            answer("Queued: one copy per recipient.", ref("Queued")), body=ref("NewMessage"), status="202",
            errors=(*CHANGE_ERRORS, "409"), tag="sending",
        ),
    },
    "/api/v1/messages/{message_id}": {
        "get": operation(
            "One message: per recipient counts, clients and times; per link clicks; its newest events",
            answer("The message.", ref("MessageDetail")),
            params=[param("message_id", INT, "The message's id.", "path"),
                    param("timeline", {"type": "integer", "minimum": 0, "maximum": 500, "default": 50},
                          "How many of its newest events to include."),
                    param("recipients_offset", {"type": "integer", "minimum": 0, "default": 0},
                          "The first recipient to include (in the order they were sent to)."),
                    param("recipients_limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                          "How many recipients to include.")],
            errors=("400", "401", "404", "503"),
        )
    },
    "/api/v1/feed": {
        "get": operation(
            "The activity feed, newest first", answer("A page.", ref("FeedPage")),
            params=[BEFORE, LIMIT, param("message_id", INT, "Only this message's events (404 if not yours)."),
                    param("recipient", STR, "Only events of this address (any case)."), EVENT_TYPE, HUMAN],
            errors=("400", "401", "404", "503"),
        )
    },
    "/api/v1/stream": {
        "get": {
            **operation(
                "Live activity as server-sent events",
                answer(
                    "text/event-stream: frames `id: <event id>`, `event: activity`, `data: <FeedItem JSON>`; "
                    "`event: reconnect` last when the server stops or the client is too slow.",
                    STR, "text/event-stream",
                ),
                params=[param("after", {"type": "integer", "minimum": 0}, "Resume after this event id."),
                        param("Last-Event-ID", STR, "Resume after this id (EventSource sends it).", "header")],
                errors=("400", "401", "503"), tag="live",
            ),
        }
    },
    "/api/v1/webhooks": {
        "get": operation("Your webhook endpoints", answer("The endpoints.", ref("WebhookList")),
                         errors=("401", "503"), tag="webhooks"),
        "post": operation(
            "Add an endpoint", answer("Created, with its secret.", ref("Webhook")), body=ref("NewWebhook"),
            status="201", errors=CHANGE_ERRORS, tag="webhooks",
        ),
    },
    HOOK: {
        "get": operation("One endpoint, with its secret", answer("The endpoint.", ref("Webhook")), params=[HOOK_ID],
                         errors=("401", "404", "503"), tag="webhooks"),
        "patch": operation(
            "Change url, event_filter, all_users or enabled", answer("The endpoint.", ref("Webhook")),
            params=[HOOK_ID], body=ref("WebhookChange"), errors=(*CHANGE_ERRORS, "404", "409"), tag="webhooks",
        ),
        "delete": operation("Remove an endpoint", answer("Removed."), params=[HOOK_ID], status="204",
                            errors=("401", "403", "404", "503"), tag="webhooks"),
    },
    HOOK + "/deliveries": {
        "get": operation(
            "The delivery log, newest first, with attempts", answer("A page.", ref("WebhookDeliveries")),
            params=[HOOK_ID, param("before", INT, "Deliveries older than this id (`next`)."),
                    param("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size.")],
            errors=("400", "401", "404", "503"), tag="webhooks",
        )
    },
    HOOK + "/deliveries/{delivery_id}/redeliver": {
        "post": operation(
            "Queue a delivery again now (same webhook-id and body)",
            answer("Queued.", ref("WebhookDelivery")), status="202",
            params=[HOOK_ID, param("delivery_id", INT, "The delivery's id.", "path")],
            errors=("401", "403", "404", "409", "503"), tag="webhooks",
        )
    },
    HOOK + "/test": {
        "post": operation(
            "Send a webhook.test event to the endpoint", answer("Queued.", ref("WebhookDelivery")), status="202",
            params=[HOOK_ID], errors=("401", "403", "404", "409", "503"), tag="webhooks",
        )
    },
    **openapi_campaigns.PATHS,
    **openapi_contacts.PATHS,
    **openapi_campaigns.USER_PATHS,
    OPENAPI_PATH: {
        "get": {
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": answer("OpenAPI 3.1.", {"type": "object"})},
        }
    },
}
"""Every /api/v1 route: path -> method -> operation."""


def document(registered: set[tuple[str, str]] | None = None) -> Schema:
    """The OpenAPI document; with `registered` (path, METHOD) pairs, only the operations among them."""
    paths: dict[str, dict[str, Schema]] = {}
    for path, operations in PATHS.items():
        kept = {m: op for m, op in operations.items() if registered is None or (path, m.upper()) in registered}
        if kept:
            paths[path] = copy.deepcopy(kept)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailbeacon",
            "version": __version__,
            "description": "Email open and click tracking that tells human from machine. A user sees what they "
            "sent; an admin sees everything. Every error is JSON {\"error\": \"...\"}.",
        },
        "servers": [{"url": "/"}],
        "security": AUTH,
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key (mailbeacon user add)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "mb_session",
                            "description": "The dashboard's session (state changes also need x-csrf-token)."},
            },
        },
    }


def registered_operations(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(path, METHOD) of the app's /api/v1 routes (HEAD, which Starlette adds to GET, left out)."""
    found = set()
    for route in routes:
        if isinstance(route, Route) and route.path.startswith("/api/v1/"):
            for method in route.methods or {"GET"}:
                if method != "HEAD":
                    found.add((re.sub(r":\w+}", "}", route.path), method))  # {email:path} is {email}
    return found


def routes(web: Web) -> list[BaseRoute]:
    async def openapi(request: Request) -> Response:
        return JSONResponse(document(registered_operations(list(request.app.routes))))

    return [Route(OPENAPI_PATH, openapi, methods=["GET"])]
