"""Users (admins only; to anyone else the pages do not exist): seats, admin flag, new users, passwords.

A new user's API key and SMTP password are shown once, on the page that answers
the form, and are never stored in a cookie or a flash message.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.accounts import NotAnAddress, PasswordRejected, create_user, delete_user, set_dashboard_password
from mailbeacon.store import DuplicateUser, UserRow
from mailbeacon.web.dashboard import signed_in
from mailbeacon.web.dashboard.pages import Pages, cursor, field, flash, redirect
from mailbeacon.wording import many

SEATS = ("basic", "sales")


def routes(pages: Pages) -> list[BaseRoute]:
    store = pages.store

    async def listing(request: Request, user: UserRow, created: dict[str, str] | None = None) -> Response:
        users = await pages.call(store.users)
        return pages.render(request, "users.html", user, users=users, seats=SEATS, created=created)

    async def user_list(request: Request, user: UserRow) -> Response:
        return await listing(request, user)

    async def add(request: Request, user: UserRow, form: FormData) -> Response:
        email, seat = field(form, "email"), field(form, "seat")
        local, at, domain = email.rpartition("@")
        if not (local and at and domain) or any(c.isspace() for c in email) or seat not in SEATS:
            flash(request, "Give an email address and a seat (basic or sales).", "error")
            return redirect("/users")
        try:
            made = await pages.call(create_user, store, email, form.get("admin") == "on", seat)
        except DuplicateUser:
            flash(request, f"A user {email} exists already.", "error")
            return redirect("/users")
        except NotAnAddress as exc:
            flash(request, f"Not added: {exc}.", "error")
            return redirect("/users")
        return await listing(request, user, {"email": email, "api_key": made.api_key,
                                             "smtp_password": made.smtp_password})

    async def target(request: Request) -> UserRow | None:
        user_id = cursor(request.path_params["user_id"])
        return await pages.call(store.user_by_id, user_id) if user_id else None

    async def change(request: Request, user: UserRow, form: FormData) -> Response:
        other = await target(request)
        if other is None:
            return pages.not_found(request, user)
        seat, admin = field(form, "seat"), form.get("admin") == "on"
        if seat not in SEATS:
            flash(request, "The seat is basic or sales.", "error")
        elif other.id == user.id and not admin:
            flash(request, "You cannot take away your own admin role; ask another admin.", "error")
        else:
            await pages.call(store.update_user, other.id, seat=seat, is_admin=admin)
            flash(request, f"{other.email}: {seat} seat{', admin' if admin else ''}.")
        return redirect("/users")

    async def password(request: Request, user: UserRow, form: FormData) -> Response:
        other = await target(request)
        if other is None:
            return pages.not_found(request, user)
        this = await signed_in.current_id(request, store) if other.id == user.id else None
        try:
            await pages.call(set_dashboard_password, store, other.id, field(form, "password"), keep_session=this)
        except PasswordRejected as exc:
            flash(request, f"Not set: {exc}.", "error")
            return redirect("/users")
        flash(request, f"Password of {other.email} set; their sessions are logged out.")
        return redirect("/users")

    def access(action: str) -> Route:
        """Disable, enable or delete another user (never oneself: another admin must)."""

        async def endpoint(request: Request, user: UserRow, form: FormData) -> Response:
            other = await target(request)
            if other is None or other.deleted_at is not None:
                return pages.not_found(request, user)
            if other.id == user.id:
                flash(request, "You cannot disable or delete yourself; ask another admin.", "error")
            elif action == "delete":
                gone = await pages.call(delete_user, store, other)
                flash(request, f"{other.email} deleted: their {many(gone.messages, 'message')} and "
                               f"{many(gone.campaigns, 'campaign')} stay, with their events, under \"deleted user\".")
            else:
                await pages.call(store.set_user_disabled, other.id, action == "disable")
                flash(request, f"{other.email} disabled: signed out everywhere, their key and SMTP password refused; "
                               "their data stays." if action == "disable" else f"{other.email} enabled.")
            return redirect("/users")

        return Route(f"/users/{{user_id}}/{action}", pages.action(endpoint, admin=True), methods=["POST"])

    return [
        *(access(action) for action in ("disable", "enable", "delete")),
        Route("/users", pages.view(user_list, admin=True)),
        Route("/users", pages.action(add, admin=True), methods=["POST"]),
        Route("/users/{user_id}", pages.action(change, admin=True), methods=["POST"]),
        Route("/users/{user_id}/password", pages.action(password, admin=True), methods=["POST"]),
    ]
