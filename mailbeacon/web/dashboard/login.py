"""Logging in and out: email and password, a fresh server-side session (web/sessions.py), back to the page asked for."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.accounts import verify_dashboard_password
from mailbeacon.accounts.throttle import Throttle, Throttled
from mailbeacon.store import StoreUnavailable
from mailbeacon.web import sessions
from mailbeacon.web.auth import current_user, has_csrf
from mailbeacon.web.dashboard.pages import Pages, field, redirect, safe_next

WRONG = "wrong email or password"


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store
    throttle = Throttle()

    async def login_form(request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        try:
            if await current_user(request, store) is not None:
                return redirect(target)
        except StoreUnavailable as exc:
            return pages.unavailable(request, exc)
        return pages.render(request, "login.html", None, next=target, email="", error=None)

    async def login(request: Request) -> Response:
        form = await request.form()
        target = safe_next(field(form, "next"))
        email = field(form, "email")
        if not has_csrf(request, field(form, "csrf")):
            # Login CSRF: a foreign page must not log the browser in as someone else.
            return pages.forbidden(request, None)
        client = request.client.host if request.client else ""
        try:
            # Counted before the password is checked, so concurrent guesses get no more checks (issue #12).
            attempt = throttle.attempt(email, client)
        except Throttled as refused:
            minutes = max(1, round(refused.wait / 60))
            error = f"too many failed logins: try again in {minutes} minute{'s' if minutes > 1 else ''}"
            return pages.render(request, "login.html", None, status=429, next=target, email=email, error=error)
        with attempt:  # ends as a failure unless it succeeded or was abandoned
            try:
                user = await pages.call(store.user_by_email, email) if email else None
                # Unknown emails cost the same argon2 work, so timing tells nobody who has an account.
                right = await pages.call(verify_dashboard_password, user, field(form, "password"))
            except StoreUnavailable as exc:
                attempt.abandon()
                return pages.unavailable(request, exc)
            if not right or user is None:
                return pages.render(request, "login.html", None, status=401, next=target, email=email, error=WRONG)
            attempt.succeeded()
        try:
            await sessions.start(request, store, user)  # nothing of the anonymous session survives (session fixation)
        except StoreUnavailable as exc:
            return pages.unavailable(request, exc)
        return redirect(target)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not has_csrf(request, field(form, "csrf")):
            return pages.forbidden(request, None)
        try:
            await sessions.end(request, store)
        except StoreUnavailable as exc:
            return pages.unavailable(request, exc)  # still logged in: say so rather than pretend
        return redirect("/login")

    async def home(request: Request) -> Response:
        return redirect("/activity")

    return [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
