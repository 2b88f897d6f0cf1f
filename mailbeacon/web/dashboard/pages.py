"""What every dashboard page shares: the login gate, CSRF on every form, flash messages, templates, headers.

A page handler receives the logged-in user and returns a response; `Pages.view`
and `Pages.action` wrap it so no page can forget the login check, the CSRF check
or the security headers. Templates autoescape everything: event data (User-Agent,
URL, recipient, subject) is hostile and is never marked safe (Mautic CVE-2022-25772).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailbeacon.store import Store, StoreUnavailable, UserRow
from mailbeacon.web.auth import csrf_token, current_user, has_csrf
from mailbeacon.web.context import Web
from mailbeacon.web.dashboard import formats

log = logging.getLogger(__name__)
T = TypeVar("T")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "frame-ancestors 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
SESSION_FLASH = "flash"

View = Callable[[Request, UserRow], Awaitable[Response]]
Action = Callable[[Request, UserRow, FormData], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def secured(response: Response, headers: dict[str, str] = SECURITY_HEADERS) -> Response:
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    return response


def redirect(url: str) -> Response:
    """303: after a POST the browser GETs the next page, so a reload never repeats the form."""
    return secured(RedirectResponse(url, status_code=303))


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message shown once, on the next page this session renders."""
    request.session[SESSION_FLASH] = [*request.session.get(SESSION_FLASH, []), [kind, text]]


def safe_next(target: str | None, default: str = "/activity") -> str:
    """Only a path of this site: `//evil.example`, `/\\evil.example` and `https://...` all go to `default`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 0x20 for c in target):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def login_url(request: Request) -> str:
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if asked in ("/", "/activity") else "/login?next=" + quote(asked, safe="")


class Pages:
    """Renders templates for one server: the store, the environment and the wrappers of every route."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.store: Store = web.store
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailbeacon.web", "templates"),
            autoescape=True,  # every template is HTML; nothing is ever marked safe
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        formats.install(self.env)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store method off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    def render(
        self, request: Request, template: str, user: UserRow | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        flashes = request.session.pop(SESSION_FLASH, []) if "session" in request.scope else []
        html = self.env.get_template(template).render(
            user=user,
            csrf=csrf_token(request),
            flashes=flashes,
            path=request.url.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"  # pages hold private data
        return secured(response)  # type: ignore[return-value]

    def not_found(self, request: Request, user: UserRow | None) -> HTMLResponse:
        """Another user's message, contact or mail looks exactly like one that does not exist."""
        return self.render(request, "not_found.html", user, status=404)

    def view(self, handler: View, admin: bool = False) -> Endpoint:
        """A GET page: logged-in users only (others go to the login page); an admin page tells others it is for
        admins (403): that the page exists is no secret, unlike another user's message or contact (404)."""

        async def endpoint(request: Request) -> Response:
            try:
                user = await current_user(request, self.store)
                if user is None:
                    return redirect(login_url(request))
                if admin and not user.is_admin:
                    return self.admins_only(request, user)
                return secured(await handler(request, user))
            except StoreUnavailable as exc:
                return self.unavailable(request, exc)

        return endpoint

    def action(self, handler: Action, admin: bool = False) -> Endpoint:
        """A POST form: logged-in users only, and only with this session's CSRF token (403 otherwise)."""

        async def endpoint(request: Request) -> Response:
            try:
                user = await current_user(request, self.store)
                if user is None:
                    return redirect("/login")
                form = await request.form()
                if not has_csrf(request, _text(form.get("csrf"))):
                    return self.forbidden(request, user)
                if admin and not user.is_admin:
                    return self.admins_only(request, user)
                return secured(await handler(request, user, form))
            except StoreUnavailable as exc:
                return self.unavailable(request, exc)

        return endpoint

    def admins_only(self, request: Request, user: UserRow) -> HTMLResponse:
        return self.render(request, "admins_only.html", user, status=403)

    def forbidden(self, request: Request, user: UserRow | None) -> HTMLResponse:
        return self.render(request, "forbidden.html", user, status=403)

    def unavailable(self, request: Request, exc: StoreUnavailable) -> HTMLResponse:
        log.warning("dashboard page %s: %s", request.url.path, exc)
        return self.render(request, "unavailable.html", None, status=503)


def field(form: FormData, name: str) -> str:
    """A form field as stripped text ('' when absent or a file)."""
    return _text(form.get(name)).strip()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def owner(user: UserRow) -> int | None:
    """Whose data a user may see: their own, or everyone's (None) for an admin."""
    return None if user.is_admin else user.id


def cursor(value: str | None) -> int | None:
    """A positive id from the query string; anything else reads as 'from the start'."""
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value) or None
