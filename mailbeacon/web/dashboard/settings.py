"""Settings: notification rules, one's own password, the do-not-track list and (admins) privacy.

Webhooks have their own module (`hooks.py`), and so have one's sessions (`signed_in.py`); this page lists them too.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.accounts import PasswordRejected, set_dashboard_password, verify_dashboard_password
from mailbeacon.errors import ConfigError
from mailbeacon.store import UserRow
from mailbeacon.store.settings import checked
from mailbeacon.webhooks import FILTER_KINDS
from mailbeacon.web.dashboard import signed_in
from mailbeacon.web.dashboard.pages import Pages, field, flash, redirect

PRIVACY = ("ip_truncate_after_days", "retention_days")
MAX_HOURS = 24 * 365


def hours_of(form: FormData) -> float | None:
    """The quiet period in seconds; None when re-opens are never told. ValueError for a bad number."""
    if field(form, "reopen") == "never":
        return None
    hours = float(field(form, "reopen_hours"))
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(hours)
    return hours * 3600


def days_of(text: str) -> int | None:
    """A whole number of days, or None for an empty field (never); ValueError otherwise."""
    return int(text) if text else None


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def settings(request: Request, user: UserRow) -> Response:
        hooks = await pages.call(store.webhooks_of, user.id)
        dnt = await pages.call(lambda: store.do_not_track_list(user_id=user.id))
        dnt_global = await pages.call(lambda: store.do_not_track_list(user_id=None)) if user.is_admin else []
        privacy = await pages.call(store.get_settings) if user.is_admin else None
        browsers = await signed_in.listed(request, store, user)
        return pages.render(request, "settings.html", user, webhooks=hooks, dnt=dnt, dnt_global=dnt_global,
                            privacy=privacy, kinds=FILTER_KINDS, sessions=browsers)

    async def notifications(request: Request, user: UserRow, form: FormData) -> Response:
        try:
            reopen = hours_of(form)
        except ValueError:
            flash(request, f"The quiet period must be a number of hours from 0 to {MAX_HOURS}.", "error")
            return redirect("/settings#notifications")
        await pages.call(
            store.update_user, user.id, notify_first_open=form.get("first_open") == "on",
            notify_reopen_after=reopen, notify_clicks=form.get("clicks") == "on",
        )
        flash(request, "Notification rules saved.")
        return redirect("/settings#notifications")

    async def password(request: Request, user: UserRow, form: FormData) -> Response:
        if not await pages.call(verify_dashboard_password, user, field(form, "current")):
            flash(request, "The current password is wrong; nothing changed.", "error")
            return redirect("/settings#password")
        if field(form, "new") != field(form, "confirm"):
            flash(request, "The new passwords differ; nothing changed.", "error")
            return redirect("/settings#password")
        this = await signed_in.current_id(request, store)
        try:
            await pages.call(set_dashboard_password, store, user.id, field(form, "new"), keep_session=this)
        except PasswordRejected as exc:
            flash(request, f"Not changed: {exc}.", "error")
            return redirect("/settings#password")
        flash(request, "Password changed; your other sessions are logged out.")
        return redirect("/settings#password")

    def dnt_list_of(request: Request, user: UserRow, form: FormData) -> tuple[int | None, str] | None:
        """(user id, or None for the admin-wide list; its name) the form's `scope` names; None if not the user's."""
        if field(form, "scope") != "global":
            return user.id, "your list"
        if not user.is_admin:  # issue #12: only an admin changes what applies to everyone's mail
            flash(request, "Only an admin changes the admin-wide list.", "error")
            return None
        return None, "the admin-wide list"

    async def dnt_add(request: Request, user: UserRow, form: FormData) -> Response:
        address = field(form, "address")
        whose = dnt_list_of(request, user, form)
        if whose is None:
            pass
        elif "@" not in address or any(c.isspace() for c in address) or len(address) > 320:
            flash(request, "Give one email address.", "error")
        elif await pages.call(lambda: store.do_not_track_add(address, user_id=whose[0])):
            flash(request, f"{address} is no longer tracked in new mail ({whose[1]}).")
        else:
            flash(request, f"{address} was on {whose[1]} already.")
        return redirect("/settings#do-not-track")

    async def dnt_remove(request: Request, user: UserRow, form: FormData) -> Response:
        address = field(form, "address")
        whose = dnt_list_of(request, user, form)
        if whose is not None and await pages.call(lambda: store.do_not_track_remove(address, user_id=whose[0])):
            flash(request, f"{address} is tracked again in new mail ({whose[1]}).")
        return redirect("/settings#do-not-track")

    async def privacy(request: Request, user: UserRow, form: FormData) -> Response:
        try:
            values = {name: checked(name, days_of(field(form, name))) for name in PRIVACY}  # all or nothing
            for name, value in values.items():
                await pages.call(store.set_setting, name, value)
        except (ValueError, ConfigError) as exc:
            flash(request, f"Not saved: {exc if isinstance(exc, ConfigError) else 'days must be whole numbers'}.",
                  "error")
            return redirect("/settings#privacy")
        flash(request, "Privacy settings saved.")
        return redirect("/settings#privacy")

    return [
        Route("/settings", pages.view(settings)),
        Route("/settings/notifications", pages.action(notifications), methods=["POST"]),
        Route("/settings/password", pages.action(password), methods=["POST"]),
        Route("/settings/dnt/add", pages.action(dnt_add), methods=["POST"]),
        Route("/settings/dnt/remove", pages.action(dnt_remove), methods=["POST"]),
        Route("/settings/privacy", pages.action(privacy, admin=True), methods=["POST"]),
    ]
