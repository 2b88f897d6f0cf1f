"""The activity feed, newest first, with "older" pages; the page's script prepends live items from the stream."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.store import FeedFilter, UserRow
from mailbeacon.web.dashboard.pages import Pages, cursor, owner

PAGE = 50


def routes(pages: Pages) -> list[BaseRoute]:
    async def activity(request: Request, user: UserRow) -> Response:
        before = cursor(request.query_params.get("before"))
        items = await pages.call(pages.store.feed, FeedFilter(user_id=owner(user)), before, PAGE)
        return pages.render(
            request, "activity.html", user, items=items, older=items[-1].id if len(items) == PAGE else None,
            live=before is None,
        )

    return [Route("/activity", pages.view(activity))]
