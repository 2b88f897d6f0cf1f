"""The campaign routes of the OpenAPI document: the list, the report and the per-recipient CSV.

The schemas follow `views/campaign_reports.py` (JSON) and `views/campaign_csv.py` (CSV columns);
`web/openapi.py` adds them to the document.
"""

from __future__ import annotations

from mailbeacon.views.campaign_csv import COLUMNS
from mailbeacon.web.openapi_builders import (
    INT,
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

MAYBE_TIME = maybe("number", "Unix seconds; null until it happens.")
RATE = maybe("number", "A fraction (0..1); null when there is nothing to divide by.")
TALLY = {"events": INT, "human": INT, "machine": INT}

CAMPAIGN_SUMMARY: dict[str, Schema] = {
    "id": INT,
    "name": STR,
    "subject": {"type": "string", "description": "The subject template, as given; each copy's subject as its "
                "contact saw it is in the feed, GET /api/v1/messages/{id} and the recipients CSV."},
    "from": STR,
    "list": obj({"id": INT, "name": maybe("string")}),
    "message_id": {"type": "integer", "description": "The campaign's one message: GET /api/v1/messages/{id}."},
    "status": {
        "enum": ["sending", "queued", "paused", "done", "cancelled"],
        "description": "sending: copies being queued; queued: all queued, some not delivered yet; paused: nothing "
        "more is queued or handed to the upstream until it is resumed; done: every copy sent or bounced; "
        "cancelled: stopped for good, the copies not sent then withdrawn.",
    },
    "paused_at": MAYBE_TIME,
    "rate_limit": maybe("number", "Copies a second the outbound queue hands on; null: as fast as it goes."),
    "created_at": TIME,
    "started_at": MAYBE_TIME,
    "queued_at": MAYBE_TIME,
    "finished_at": MAYBE_TIME,
    "progress": obj(
        {
            "total": {"type": "integer", "description": "List members when the send started."},
            "queued": {"type": "integer", "description": "Copies made."},
            "skipped": {"type": "integer", "description": "Members who got no copy (unsubscribed, or the template "
                        "failed for them)."},
            "sent": INT,
            "bounced": INT,
            "pending": {"type": "integer", "description": "Copies not sent or bounced yet (held while paused)."},
            "withdrawn": {"type": "integer", "description": "Copies a cancel took out of the queue before they "
                          "were sent: never delivered."},
            "done": {"type": "number", "description": "Members dealt with (sent, bounced, skipped or withdrawn) "
                     "over total."},
        }
    ),
    "opens": ref("OpenCounts"),
    "clicks": ref("ClickCounts"),
    "rates": obj(
        {name: RATE for name in ("open", "open_raw", "click", "click_raw", "click_to_open", "unsubscribe", "bounce")},
        description="open, click: unique human readers over delivered (sent) copies; *_raw: counting machines too; "
        "click_to_open: human clickers over human openers (pixel or inferred); unsubscribe: over delivered "
        "copies; bounce: over copies the upstream answered.",
    ),
    "unsubscribes": {"type": "integer", "description": "Contacts who unsubscribed through this campaign's mail."},
}

SCHEMAS: dict[str, Schema] = {
    "CampaignSummary": obj(CAMPAIGN_SUMMARY),
    "CampaignList": obj(
        {"campaigns": array(ref("CampaignSummary")), "next": maybe("string", "Pass as `cursor` for older ones.")}
    ),
    "CampaignReport": obj(
        {
            **CAMPAIGN_SUMMARY,
            "timeline": obj({
                "bucket": {"enum": ["hour", "day"]},
                "points": array(obj({
                    "start": TIME, "start_iso": {"type": "string", "format": "date-time"},
                    "opens": obj({"raw": INT, "human": INT, "machine": INT}),
                    "clicks": obj({"raw": INT, "human": INT, "machine": INT}),
                })),
            }, description="Buckets with at least one event, oldest first; raw counts the sender's own too."),
            "links": array(obj({"idx": INT, "url": STR, "clicks": RAW_HUMAN})),
            "clients": array(obj({"client": STR, **TALLY}, description="As the classifier named it.")),
            "devices": array(obj(
                {"device": STR, **TALLY},
                description="The reader's device, or what hid it (image proxy, Privacy Protection).",
            )),
            "untrackable": obj({
                "copies": {"type": "integer", "description": "Copies that track no opens or no clicks."},
                "share": RATE,
                "opens_untracked": INT,
                "reasons": array(obj({"reason": STR, "opens_tracked": {"type": "boolean"}, "copies": INT})),
                "images_blocked": {"type": "integer", "description": "Readers who clicked without loading the "
                                   "pixel: opened, inferred."},
            }),
            "unsubscribed": array(obj({"email": STR, "source": maybe("string", "link or one-click."), "at": TIME})),
            "bounces": array(obj({"recipient": STR, "reply": maybe("string", "What the upstream answered.")})),
            "recipients_csv": {"type": "string", "description": "Where the per-recipient CSV is."},
        },
        description="The newest 20 unsubscribes and the first 20 bounces are named; their counts are complete.",
    ),
}

CAMPAIGN_ID = param("campaign_id", INT, "The campaign's id.", "path")
def _control(action: str, summary: str, description: str) -> Schema:
    op = operation(
        summary, answer("The campaign after the change.", ref("CampaignSummary")), params=[CAMPAIGN_ID],
        errors=("401", "403", "404", "409", "503"), tag="campaigns",
        description=description + " A call on the dashboard's session cookie sends its CSRF token in x-csrf-token.",
    )
    op["responses"]["409"] = answer(f"The campaign's state does not allow {action} (the message says why).",
                                    ref("Error"))
    return op


PATHS: dict[str, dict[str, Schema]] = {
    "/api/v1/campaigns": {
        "get": operation(
            "Campaigns, newest first, with progress, counts and rates", answer("A page.", ref("CampaignList")),
            params=[param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size."),
                    param("cursor", STR, "The `next` of the previous page.")],
            tag="campaigns",
        )
    },
    "/api/v1/campaigns/{campaign_id}": {
        "get": operation(
            "One campaign's report: progress, opens and clicks over time, rates, links, clients, untracked copies, "
            "unsubscribes, bounces",
            answer("The report.", ref("CampaignReport")),
            params=[CAMPAIGN_ID, param("bucket", {"enum": ["hour", "day"], "default": "hour"},
                                       "The timeline's bucket (UTC).")],
            errors=("400", "401", "404", "503"), tag="campaigns",
        )
    },
    "/api/v1/campaigns/{campaign_id}/recipients.csv": {
        "get": operation(
            "Every list member the campaign reached, one CSV row each, streamed",
            answer(
                f"text/csv, header row: {','.join(COLUMNS)}, then the contacts' fields (first_name, ...). Times "
                "are ISO 8601 with offset (UTC); a cell that a spreadsheet would run as a formula (= + - @ tab CR) "
                "starts with a '.",
                STR, "text/csv",
            ),
            params=[CAMPAIGN_ID], errors=("400", "401", "404", "503"), tag="campaigns",
        )
    },
    **{f"/api/v1/campaigns/{{campaign_id}}/{action}": {"post": _control(action, *text)} for action, text in (
        ("pause", ("Pause a campaign", "Nothing more is queued (from the next batch on), and the copies queued but "
                   "not sent yet are held until it is resumed; pausing a paused campaign changes nothing. 409 if it is "
                   "done or cancelled.")),
        ("resume", ("Resume a paused (or stopped) campaign", "The held copies go out, spaced by its rate, and this "
                    "server queues the members not queued yet; nobody gets a second copy. 409 if it is done or "
                    "cancelled.")),
        ("cancel", ("Cancel a campaign for good", "Nothing more is queued, and the copies queued but not sent yet are "
                    "withdrawn: never delivered, counted in progress.withdrawn, `withdrawn` in the recipients CSV. "
                    "409 if it is done.")),
    )},
}


USER_ID = param("user_id", INT, "The user's id.", "path")
USER = obj({"id": INT, "email": STR, "seat": STR, "admin": {"type": "boolean"}, "disabled": {"type": "boolean"}})
_ADMIN = " Only an admin may (403 for anyone else); 409 for the caller's own id (another admin must)."


def _user_op(summary: str, ok: Schema, description: str) -> Schema:
    op = operation(summary, answer("Done.", ok), params=[USER_ID], errors=("401", "403", "404", "409", "503"),
                   tag="users", description=description + _ADMIN)
    op["responses"]["409"] = answer("The caller's own id.", ref("Error"))
    return op


USER_PATHS: dict[str, dict[str, Schema]] = {
    "/api/v1/users/{user_id}/disable": {"post": _user_op(
        "Disable a user", USER, "They can no longer log in (their sessions end at once), use their API key or AUTH "
        "to the relay; their messages, events and campaigns stay.")},
    "/api/v1/users/{user_id}/enable": {"post": _user_op(
        "Enable a disabled user", USER, "Their credentials work again.")},
    "/api/v1/users/{user_id}": {"delete": _user_op(
        "Delete a user", obj({"deleted": STR, "messages_kept": INT, "campaigns_kept": INT, "webhooks_deleted": INT,
                              "mailbox_disconnected": {"type": "boolean"}}),
        "Their sessions end at once, their webhooks and connected mailbox go, their address is free again; their "
        "messages, events and campaigns stay under \"deleted user\" (admins see them, reports do not change).")},
}
