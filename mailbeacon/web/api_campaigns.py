"""GET /api/v1/campaigns (the list), /api/v1/campaigns/{id} (the report) and /api/v1/campaigns/{id}/recipients.csv.

A campaign of another user does not exist for the caller: 404, the same answer as for an id
nobody has (an admin sees every campaign). The CSV is streamed a thousand contacts at a
time (`Store.campaign_recipients`), so its size never sits in the server's memory.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from mailbeacon.store import UserRow
from mailbeacon.web.api_messages import MAX_PAGE, path_id
from mailbeacon.web.auth import error
from mailbeacon.web.campaign_csv import csv_chunks
from mailbeacon.web.campaign_reports import BUCKETS, report_json, summary_json
from mailbeacon.web.context import Web
from mailbeacon.web.params import MAX_ID, BadParameter, Params, api_reader, make_cursor, owner


def routes(web: Web) -> list[BaseRoute]:
    store = web.store

    async def list_campaigns(request: Request, user: UserRow) -> Response:
        params = Params(request, ("limit", "cursor"))
        limit = params.limit(50, MAX_PAGE)
        before = None
        cursor = params.cursor("campaigns")
        if cursor is not None:
            if len(cursor) != 1 or isinstance(cursor[0], bool) or not isinstance(cursor[0], int) \
                    or not 1 <= cursor[0] <= MAX_ID:
                raise BadParameter("cursor: not a cursor of this list; pass the `next` of the previous page")
            before = cursor[0]
        found, more = await run_in_threadpool(store.campaign_summaries, owner(user), before, limit)
        following = make_cursor("campaigns", found[-1].id) if more and found else None
        return JSONResponse({"campaigns": [summary_json(s) for s in found], "next": following})

    async def campaign_report(request: Request, user: UserRow) -> Response:
        params = Params(request, ("bucket",))
        bucket = BUCKETS[params.choice("bucket", BUCKETS, "hour") or "hour"]
        campaign_id = await visible(request, user)
        report = await run_in_threadpool(store.campaign_report, campaign_id, bucket) if campaign_id else None
        if report is None:
            return error(404, "no such campaign")
        return JSONResponse(report_json(report))

    async def recipients_csv(request: Request, user: UserRow) -> Response:
        Params(request, ())
        campaign_id = await visible(request, user)
        if campaign_id is None:
            return error(404, "no such campaign")
        field_names = await run_in_threadpool(store.campaign_field_names, campaign_id)
        return StreamingResponse(
            # A sync iterator: Starlette reads it in the thread pool, a chunk of contacts at a time.
            csv_chunks(store.campaign_recipients(campaign_id), field_names),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def visible(request: Request, user: UserRow) -> int | None:
        """The campaign id of the path if the user may see it (another user's: None, as for no campaign)."""
        campaign_id = path_id(request.path_params["campaign_id"])
        if campaign_id is None or not await run_in_threadpool(store.campaign_visible, campaign_id, owner(user)):
            return None
        return campaign_id

    return [
        api_reader("/api/v1/campaigns", store, list_campaigns),
        api_reader("/api/v1/campaigns/{campaign_id}", store, campaign_report),
        api_reader("/api/v1/campaigns/{campaign_id}/recipients.csv", store, recipients_csv),
    ]
