"""Settings, "Signed in" (issue #12, item 13): a user's live sessions, each with Sign out, and Sign out everywhere else.

A row names the browser by its User-Agent (the classifier's client rules), its address
and its times; a user sees and ends only their own sessions. API keys are not sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.classify import client_of
from mailbeacon.store import Store, UserRow
from mailbeacon.web import sessions
from mailbeacon.web.dashboard.pages import Pages, cursor, field, flash, redirect

ANCHOR = "/settings#sessions"


@dataclass(frozen=True, slots=True)
class Browser:
    """One live session as the Settings page shows it."""

    id: int
    created_at: float
    last_seen_at: float
    ip: str
    user_agent: str
    client: str
    """The User-Agent in words: "Chrome (Linux)", "Firefox (Windows)"."""
    current: bool
    """The session this page was asked for."""


async def current_id(request: Request, store: Store) -> int | None:
    """The id of this request's own session (None for an API key or no session)."""
    found = await sessions.current(request, store)
    return found[0].id if found is not None else None


async def listed(request: Request, store: Store, user: UserRow) -> list[Browser]:
    """The user's live sessions, this one first, then the most recently seen."""
    this = await current_id(request, store)
    rows = await run_in_threadpool(store.sessions_of, user.id, sessions.config(request).limits)
    browsers = [
        Browser(row.id, row.created_at, row.last_seen_at, row.ip, row.user_agent,
                client_of(row.user_agent).label if row.user_agent else "no User-Agent", row.id == this)
        for row in rows
    ]
    return sorted(browsers, key=lambda b: not b.current)


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def end_one(request: Request, user: UserRow, form: FormData) -> Response:
        session_id = cursor(field(form, "session"))
        if session_id is not None and session_id == await current_id(request, store):
            await sessions.end(request, store)  # signing out this browser is logging out
            return redirect("/login")
        if session_id is not None and await pages.call(store.end_session, user.id, session_id):
            flash(request, "That browser is signed out.")
        else:
            flash(request, "That session had ended already.")
        return redirect(ANCHOR)

    async def end_others(request: Request, user: UserRow, form: FormData) -> Response:
        ended = await pages.call(store.end_sessions, user.id, await current_id(request, store))
        flash(request, f"Signed out everywhere else ({ended} session{'' if ended == 1 else 's'}).")
        return redirect(ANCHOR)

    return [
        Route("/settings/sessions/end", pages.action(end_one), methods=["POST"]),
        Route("/settings/sessions/end-others", pages.action(end_others), methods=["POST"]),
    ]
