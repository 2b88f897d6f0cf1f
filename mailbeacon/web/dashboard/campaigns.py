"""Campaigns: the list with progress and human vs raw rates, and one campaign's report with its chart.

The report page is drawn from the API's JSON (`web/campaign_reports.report_json`), so the
page, `GET /api/v1/campaigns/{id}` and `mailbeacon campaign report --json` cannot disagree.
While a campaign is being sent, /static/campaigns.js polls that JSON and moves the progress.
Starting a campaign (the form, its preview) is in `campaign_form`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.campaigns.runner import CampaignRunner
from mailbeacon.store import UserRow
from mailbeacon.web.campaign_reports import csv_path, report_json, summary_json
from mailbeacon.web.dashboard import charts
from mailbeacon.web.dashboard.pages import Pages, cursor, flash, owner, redirect

log = logging.getLogger(__name__)
PAGE = 50
LISTED = 10
"""Links, clients and devices on the page (the JSON and the CSV have them all)."""
LIVE = ("sending", "queued")
"""Statuses whose numbers still move: the page polls while the campaign is in one."""


def wake_from_thread(wake: Callable[[], None]) -> Callable[[], None]:
    """`wake` (the outbound worker's, an asyncio object) made callable from a campaign's thread."""
    loop = asyncio.get_running_loop()

    def woken() -> None:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the loop closed: the server is stopping, the worker polls anyway
            pass

    return woken


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store
    runner: CampaignRunner | None = pages.web.campaigns

    async def campaign_list(request: Request, user: UserRow) -> Response:
        before = cursor(request.query_params.get("before"))
        found, more = await pages.call(store.campaign_summaries, owner(user), before, PAGE)
        return pages.render(request, "campaigns.html", user, campaigns=[summary_json(s) for s in found],
                            older=found[-1].id if more and found else None, can_start=runner is not None)

    async def campaign(request: Request, user: UserRow) -> Response:
        campaign_id = cursor(request.path_params["campaign_id"])
        if campaign_id is None or not await pages.call(store.campaign_visible, campaign_id, owner(user)):
            return pages.not_found(request, user)  # another user's campaign does not exist
        report = await pages.call(store.campaign_report, campaign_id)
        if report is None:
            return pages.not_found(request, user)
        body = report_json(report)
        s = report.summary
        running = runner is not None and runner.is_running(campaign_id)
        return pages.render(
            request, "campaign.html", user, c=body, listed=LISTED, running=running,
            outcome=runner.outcome(campaign_id) if runner is not None and not running else None,
            can_resume=runner is not None and s.status == "sending" and not running,
            live=s.status in LIVE, poll=f"/api/v1/campaigns/{campaign_id}", csv=csv_path(campaign_id),
            chart=charts.timeline_svg(report.times, s.started_at or s.created_at), legend=charts.legend(),
        )

    async def resume(request: Request, user: UserRow, form: FormData) -> Response:
        campaign_id = cursor(request.path_params["campaign_id"])
        if campaign_id is None or not await pages.call(store.campaign_visible, campaign_id, owner(user)):
            return pages.not_found(request, user)
        row = await pages.call(store.campaign, campaign_id)
        if row is None:
            return pages.not_found(request, user)
        if runner is None or row.status != "sending":
            flash(request, "Nothing to resume: every copy of this campaign is queued.", "error")
        elif runner.start(row, wake_from_thread(pages.web.queued)):
            flash(request, f"Campaign {row.name} goes on where it stopped.")
        else:
            flash(request, f"Campaign {row.name} is being queued already.")
        return redirect(f"/campaigns/{campaign_id}")

    return [
        Route("/campaigns", pages.view(campaign_list)),
        Route("/campaigns/{campaign_id}", pages.view(campaign)),
        Route("/campaigns/{campaign_id}/resume", pages.action(resume), methods=["POST"]),
    ]
