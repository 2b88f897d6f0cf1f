"""GET /api/v1/campaigns (the list), /api/v1/campaigns/{id} (the report) and /api/v1/campaigns/{id}/recipients.csv;
POST /api/v1/campaigns/{id}/pause, /resume and /cancel (issue #13).

A campaign of another user does not exist for the caller: 404, the same answer as for an id
nobody has (an admin sees every campaign). The CSV is streamed a thousand contacts at a
time (`Store.campaign_recipients`), so its size never sits in the server's memory. The POSTs
change state, so a call on the dashboard's session cookie needs its CSRF token, as every
other such call does; with an API key none is needed. Each answers the campaign's summary.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from mailbeacon.campaigns.control import CampaignStateError
from mailbeacon.store import StoreUnavailable, UserRow
from mailbeacon.web import campaign_control
from mailbeacon.web.api_messages import MAX_PAGE, path_id
from mailbeacon.web.auth import api_user, error, require_csrf
from mailbeacon.views.campaign_csv import csv_chunks
from mailbeacon.views.campaign_reports import BUCKETS, report_json, summary_json
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

    def control(action: str) -> Route:
        async def endpoint(request: Request) -> Response:
            user = await api_user(request, store)
            if isinstance(user, JSONResponse):
                return user
            if (refused := require_csrf(request)) is not None:
                return refused
            try:
                campaign_id = await visible(request, user)
                row = await run_in_threadpool(store.campaign, campaign_id) if campaign_id else None
                if row is None:
                    return error(404, "no such campaign")
                changed = await campaign_control.apply(web, row, action)
                summary = await run_in_threadpool(store.campaign_summary, changed.id)
            except CampaignStateError as exc:
                return error(409, str(exc))
            except StoreUnavailable:
                return error(503, "the database cannot answer now; retry")
            if summary is None:
                return error(404, "no such campaign")
            return JSONResponse(summary_json(summary))

        return Route(f"/api/v1/campaigns/{{campaign_id}}/{action}", endpoint, methods=["POST"])

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
        *(control(action) for action in campaign_control.ACTIONS),
    ]
