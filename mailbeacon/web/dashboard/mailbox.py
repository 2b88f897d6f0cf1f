"""Settings, "Your mailbox" (issue #14): connect one's own SMTP and IMAP account, test it, disconnect it.

Its own page (/settings/mailbox) and template, beside the Settings page. Connecting
tests both logins first and, when one fails, shows the form again with what failed
and none of the passwords typed. A user reaches only their own mailbox: another
user's mailbox id is 404, as a mailbox that does not exist.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.mailboxes import (
    Check,
    ConnectFailed,
    MailboxError,
    Mailboxes,
    MailboxSettings,
    SecretBox,
    Secrets,
    endpoint,
    sent_copy_mode,
)
from mailbeacon.store import UserRow
from mailbeacon.web.dashboard.pages import Pages, cursor, field, flash, redirect

PAGE = "/settings/mailbox"
FIELDS = ("smtp_host", "smtp_port", "smtp_security", "smtp_user", "imap_host", "imap_port", "imap_security",
          "imap_user", "sent_folder", "sent_copy", "trust_smtp_cert", "trust_imap_cert")
"""What the form sends back when connecting fails; the passwords are never among them."""


def settings_of(form: FormData, email: str) -> tuple[MailboxSettings, Secrets]:
    """MailboxError says which field is wrong."""

    def port(name: str) -> int | None:
        text = field(form, name)
        if not text:
            return None
        if not text.isdigit() or len(text) > 5:
            raise MailboxError(f"{name.split('_')[0].upper()} port must be a number, got {text!r}")
        return int(text)

    smtp = endpoint("smtp", field(form, "smtp_host"), port("smtp_port"), field(form, "smtp_security") or "starttls",
                    field(form, "smtp_user") or email, field(form, "trust_smtp_cert") or None)
    imap = endpoint("imap", field(form, "imap_host"), port("imap_port"), field(form, "imap_security") or "tls",
                    field(form, "imap_user") or smtp.username, field(form, "trust_imap_cert") or None)
    password = form.get("smtp_password")
    imap_password = form.get("imap_password")
    smtp_secret = password if isinstance(password, str) else ""
    imap_secret = imap_password if isinstance(imap_password, str) and imap_password else smtp_secret
    return (MailboxSettings(smtp, imap, field(form, "sent_folder") or None,
                            sent_copy_mode(field(form, "sent_copy") or "auto")),
            Secrets(smtp_secret, imap_secret))


def routes(pages: Pages) -> list[BaseRoute]:
    held: list[Mailboxes] = []

    def mailboxes() -> Mailboxes:
        if not held:  # the key file is made on first use, in the data directory
            if pages.web.data_dir is None:
                raise MailboxError("this server has no data directory for mailbox keys")
            held.append(Mailboxes(pages.store, SecretBox.load_or_create(pages.web.data_dir)))
        return held[0]

    def form_page(request: Request, user: UserRow, status: int = 200, checks: list[Check] | None = None,
                  values: dict[str, str] | None = None, error: str | None = None) -> Response:
        view = mailboxes().show(user.id)
        return pages.render(request, "mailbox.html", user, status=status, mailbox=view, checks=checks or [],
                            values=values or {}, error=error)

    async def page(request: Request, user: UserRow) -> Response:
        return await run_in_threadpool(form_page, request, user)

    async def connect(request: Request, user: UserRow, form: FormData) -> Response:
        values = {name: field(form, name) for name in FIELDS}
        try:
            settings, secrets = settings_of(form, user.email)
            await run_in_threadpool(mailboxes().connect, user.id, settings, secrets)
        except ConnectFailed as exc:
            return await run_in_threadpool(form_page, request, user, 422, exc.checks, values,
                                           "Not connected, nothing was saved.")
        except MailboxError as exc:
            return await run_in_threadpool(form_page, request, user, 422, None, values, f"Not connected: {exc}.")
        flash(request, "Mailbox connected: your mail now goes out through it.")
        return redirect(PAGE)

    async def own(request: Request, user: UserRow) -> bool:
        """Whether the mailbox in the path is this user's (anything else is 404)."""
        view = await run_in_threadpool(mailboxes().show, user.id)
        return view is not None and cursor(request.path_params["mailbox"]) == view.id

    async def test(request: Request, user: UserRow, form: FormData) -> Response:
        if not await own(request, user):
            return pages.not_found(request, user)
        try:
            checks = await run_in_threadpool(mailboxes().test, user.id)
        except MailboxError as exc:
            flash(request, f"Not tested: {exc}.", "error")
            return redirect(PAGE)
        for check in checks:
            flash(request, check.text(), "ok" if check.ok else "error")
        return redirect(PAGE)

    async def disconnect(request: Request, user: UserRow, form: FormData) -> Response:
        if not await own(request, user):
            return pages.not_found(request, user)
        gone = await run_in_threadpool(mailboxes().disconnect, user.id)
        if gone is not None:
            flash(request, f"Mailbox disconnected and its passwords forgotten; {gone.rerouted} queued copies go "
                           "through the server's mail server instead.")
        return redirect(PAGE)

    return [
        Route(PAGE, pages.view(page)),
        Route(f"{PAGE}/connect", pages.action(connect), methods=["POST"]),
        Route(PAGE + "/{mailbox}/test", pages.action(test), methods=["POST"]),
        Route(PAGE + "/{mailbox}/disconnect", pages.action(disconnect), methods=["POST"]),
    ]
