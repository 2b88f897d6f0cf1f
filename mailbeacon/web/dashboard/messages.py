"""Messages: the sortable, filterable list with raw and human rates, and one message's report with its chart."""

from __future__ import annotations

import math
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.store import MESSAGE_SORTS, FeedFilter, MessageQuery, UserRow
from mailbeacon.web.dashboard import charts
from mailbeacon.web.dashboard.pages import Pages, cursor, owner
from mailbeacon.views.reports import message_json, recipient_json

PAGE = 50
TIMELINE = 100
RECIPIENTS = 100
PERIODS = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400}
CHOICES = {"yes": True, "no": False}


def query_of(request: Request, user: UserRow) -> MessageQuery:
    """The list's filters and order from the query string; unknown values fall back to the defaults."""
    params = request.query_params
    period = PERIODS.get(params.get("period", ""))
    sort = params.get("sort", "created_at")
    return MessageQuery(
        user_id=owner(user),
        recipient=params.get("recipient", "").strip() or None,
        since=time.time() - period if period else None,
        opened=CHOICES.get(params.get("opened", "")),
        clicked=CHOICES.get(params.get("clicked", "")),
        sort=sort if sort in MESSAGE_SORTS else "created_at",
        descending=params.get("dir") != "asc",
    )


def after_of(value: str | None) -> tuple[float, int] | None:
    """The cursor `SORT_VALUE:ID` of the previous page's last row."""
    number, _, ident = (value or "").partition(":")
    try:
        sort_value, last_id = float(number), int(ident)
    except ValueError:
        return None
    return (sort_value, last_id) if math.isfinite(sort_value) and 0 < last_id < 2**63 else None


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def message_list(request: Request, user: UserRow) -> Response:
        query = query_of(request, user)
        page = await pages.call(store.messages, query, after_of(request.query_params.get("after")), PAGE)
        last = page.items[-1] if page.items else None
        more = f"{last.sort_value!r}:{last.id}" if page.more and last else None
        filters = {k: v for k, v in request.query_params.items() if k not in ("after", "sort", "dir") and v}
        return pages.render(request, "messages.html", user, page=page, where=query, more=more, filters=filters,
                            params=dict(request.query_params), periods=list(PERIODS))

    async def message(request: Request, user: UserRow) -> Response:
        message_id = cursor(request.path_params["message_id"])
        offset = min(cursor(request.query_params.get("recipients")) or 0, 2**62)
        detail = await pages.call(store.message_detail, message_id, 0, offset, RECIPIENTS) if message_id else None
        if detail is None or not (user.is_admin or detail.report.user_id == user.id):
            return pages.not_found(request, user)  # another user's message does not exist
        before = cursor(request.query_params.get("before"))
        timeline = await pages.call(store.feed, FeedFilter(message_id=message_id), before, TIMELINE)
        times = await pages.call(store.message_times, message_id)
        report = detail.report
        recipients = [
            {**recipient_json(r), "clients": detail.clients.get(r.delivery_key, [])} for r in report.recipients
        ]
        return pages.render(
            request, "message.html", user,
            message=message_json(report), report=report, recipients=recipients, items=timeline,
            total=report.recipients_total if report.recipients_total is not None else len(recipients),
            offset=offset, page_size=RECIPIENTS, params=dict(request.query_params),
            older=timeline[-1].id if len(timeline) == TIMELINE else None,
            chart=charts.timeline_svg(times, report.created_at), legend=charts.legend(),
        )

    return [
        Route("/messages", pages.view(message_list)),
        Route("/messages/{message_id}", pages.view(message)),
    ]
