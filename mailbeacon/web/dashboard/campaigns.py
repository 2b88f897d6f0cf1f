"""Campaigns: the list with progress and human vs raw rates, and one campaign's report with its chart.

The report page is drawn from the API's JSON (`views/campaign_reports.report_json`), so the
page, `GET /api/v1/campaigns/{id}` and `mailbeacon campaign report --json` cannot disagree.
While a campaign is being sent, /static/campaigns.js polls that JSON and moves the progress.
Starting a campaign (the form, its preview) is in `campaign_form`.
"""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.campaigns.control import CampaignStateError
from mailbeacon.campaigns.runner import CampaignRunner
from mailbeacon.store import CampaignRow, UserRow
from mailbeacon.web import campaign_control
from mailbeacon.views.campaign_reports import csv_path, report_json, summary_json
from mailbeacon.web.dashboard import charts
from mailbeacon.web.dashboard.pages import Action, Pages, cursor, flash, owner, redirect

log = logging.getLogger(__name__)
PAGE = 50
LISTED = 10
"""Links, clients and devices on the page (the JSON and the CSV have them all)."""
LIVE = ("sending", "queued")
"""Statuses whose numbers still move: the page polls while the campaign is in one."""


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store
    runner: CampaignRunner | None = pages.web.campaigns

    async def campaign_list(request: Request, user: UserRow) -> Response:
        before = cursor(request.query_params.get("before"))
        found, more = await pages.call(store.campaign_summaries, owner(user), before, PAGE)
        return pages.render(request, "campaigns.html", user, campaigns=[summary_json(s) for s in found],
                            older=found[-1].id if more and found else None, can_start=runner is not None)

    async def visible(request: Request, user: UserRow) -> int | None:
        """The campaign id of the path if the user may see it; another user's campaign does not exist."""
        campaign_id = cursor(request.path_params["campaign_id"])
        if campaign_id is None or not await pages.call(store.campaign_visible, campaign_id, owner(user)):
            return None
        return campaign_id

    async def campaign(request: Request, user: UserRow) -> Response:
        campaign_id = await visible(request, user)
        if campaign_id is None:
            return pages.not_found(request, user)
        report = await pages.call(store.campaign_report, campaign_id)
        if report is None:
            return pages.not_found(request, user)
        body = report_json(report)
        s = report.summary
        running = runner is not None and runner.is_running(campaign_id)
        return pages.render(
            request, "campaign.html", user, c=body, listed=LISTED, running=running,
            outcome=runner.outcome(campaign_id) if runner is not None and not running else None,
            can_resume=s.status in LIVE and (s.paused_at is not None or (s.status == "sending" and not running)),
            can_pause=s.status in LIVE and s.paused_at is None, can_cancel=s.status in LIVE,
            live=s.status in LIVE, poll=f"/api/v1/campaigns/{campaign_id}", csv=csv_path(campaign_id),
            chart=charts.timeline_svg(report.times, s.started_at or s.created_at), legend=charts.legend(),
        )

    def control(action: str) -> Action:
        """POST /campaigns/{id}/pause|resume|cancel: the buttons of the campaign's page (issue #13)."""

        async def act(request: Request, user: UserRow, form: FormData) -> Response:
            campaign_id = await visible(request, user)
            row = await pages.call(store.campaign, campaign_id) if campaign_id is not None else None
            if campaign_id is None or row is None:
                return pages.not_found(request, user)
            was_running = runner is not None and runner.is_running(campaign_id)
            try:
                changed = await campaign_control.apply(pages.web, row, action)
            except CampaignStateError as exc:
                flash(request, str(exc), "error")
                return redirect(f"/campaigns/{campaign_id}")
            flash(request, _said(action, row, changed, was_running))
            return redirect(f"/campaigns/{campaign_id}")

        return act

    return [
        Route("/campaigns", pages.view(campaign_list)),
        Route("/campaigns/{campaign_id}", pages.view(campaign)),
        *(Route(f"/campaigns/{{campaign_id}}/{action}", pages.action(control(action)), methods=["POST"])
          for action in campaign_control.ACTIONS),
    ]


def _said(action: str, before: CampaignRow, after: CampaignRow, was_running: bool) -> str:
    """What the flash after a button says happened."""
    name = after.name
    if action == "pause":
        return (f"Campaign {name} is paused: nothing more is queued or sent until you resume it."
                if before.paused_at is None else f"Campaign {name} was paused already.")
    if action == "cancel":
        return f"Campaign {name} is cancelled: the copies not sent yet are withdrawn."
    if before.paused_at is not None:
        return f"Campaign {name} goes on: the held copies are sent, the rest queued."
    if after.status == "sending":
        return f"Campaign {name} is being queued already." if was_running else f"Campaign {name} goes on where it stopped."
    return f"Nothing to resume: every copy of campaign {name} is queued."
