"""Starting a campaign from the dashboard: the form, a preview for one contact, and the start itself.

The form takes what `mailbeacon campaign send` takes (name, list, subject, From, the HTML
template typed or uploaded, an optional text template, a rate); the campaign is created
and queued by the same engine, in a thread of this server (`campaigns/runner.py`). The
preview button posts the same form into a sandboxed frame: the copy is rendered for one
contact and served under the captured-mail page's sandboxing CSP, so nothing in a template
runs with the dashboard's origin.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailbeacon.campaigns.preview import Preview, preview_contact, render_preview
from mailbeacon.campaigns.sending import CampaignSpec
from mailbeacon.campaigns.templates import CampaignTemplate
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import UserRow
from mailbeacon.web.campaign_control import wake_from_thread
from mailbeacon.web.dashboard.captured import MAIL_CSP, with_base
from mailbeacon.web.dashboard.pages import Pages, field, flash, redirect, secured
from mailbeacon.wording import many

MAX_TEMPLATE = 1024 * 1024
"""Bytes of an uploaded template: a mail larger than this would be clipped by most clients anyway."""
RATE_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
MAX_NAME = 200
PREVIEW_CSP = MAIL_CSP + "; frame-ancestors 'self'"


class FormError(MailbeaconError):
    """A field of the campaign form cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Entered:
    """The form as typed, to start from or to show again with an error."""

    name: str = ""
    list_name: str = ""
    subject: str = ""
    from_address: str = ""
    html: str = ""
    text: str = ""
    rate: str = ""
    rate_unit: str = "second"
    preview_contact: str = ""

    @property
    def rate_per_second(self) -> float | None:
        if not self.rate:
            return None
        try:
            number = float(self.rate)
        except ValueError:
            raise FormError(f"rate: a number of copies, got {self.rate[:20]!r}") from None
        if not number > 0 or not math.isfinite(number):
            raise FormError("rate: more than 0 copies, or leave it empty for as fast as the upstream takes them")
        return number / RATE_UNITS.get(self.rate_unit, 1.0)


async def read_form(form: FormData) -> Entered:
    """The fields, an uploaded template taking the place of the typed one; FormError for an unreadable upload."""
    return Entered(
        name=field(form, "name"), list_name=field(form, "list"), subject=field(form, "subject"),
        from_address=field(form, "from"), html=await _template(form, "html"), text=await _template(form, "text"),
        rate=field(form, "rate"), rate_unit=field(form, "rate_unit") or "second",
        preview_contact=field(form, "preview_contact"),
    )


async def _template(form: FormData, name: str) -> str:
    upload = form.get(f"{name}_file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_TEMPLATE + 1)
        if len(data) > MAX_TEMPLATE:
            raise FormError(f"{name} template: larger than {MAX_TEMPLATE // 1024} KiB")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FormError(f"{name} template: {upload.filename!r} is not UTF-8 text") from None
    typed = form.get(name)
    return typed.replace("\r\n", "\n") if isinstance(typed, str) else ""


def preview_page(shown: Preview) -> bytes:
    """The rendered HTML with a strip saying whose copy it is and its subject (escaped: both are data)."""
    strip = (
        '<div style="font:13px/1.5 system-ui,sans-serif;background:#eef0fe;color:#15181e;padding:8px 12px;'
        f'border-bottom:1px solid #c7ccfa">Preview for <b>{html.escape(shown.contact.email)}</b> · Subject: '
        f"<b>{html.escape(shown.rendered.subject)}</b></div>"
    )
    return with_base(strip + shown.rendered.html)


def message_page(text: str) -> bytes:
    return with_base(
        '<p style="font:14px/1.5 system-ui,sans-serif;color:#b42318;padding:12px">'
        f"{html.escape(text)}</p>"
    )


def routes(pages: Pages) -> list[BaseRoute]:
    store, runner = pages.store, pages.web.campaigns

    async def render_form(request: Request, user: UserRow, entered: Entered, error: str | None = None) -> Response:
        lists = await pages.call(store.lists)
        return pages.render(request, "campaign_new.html", user, status=400 if error else 200, form=entered,
                            error=error, lists=lists, units=list(RATE_UNITS), available=runner is not None)

    async def new(request: Request, user: UserRow) -> Response:
        return await render_form(request, user, Entered(from_address=user.email))

    async def start(request: Request, user: UserRow, form: FormData) -> Response:
        if runner is None:
            return pages.not_found(request, user)
        entered = Entered()
        try:
            entered = await read_form(form)
            missing = [label for label, value in (("name", entered.name), ("list", entered.list_name),
                                                  ("subject", entered.subject), ("From", entered.from_address),
                                                  ("HTML template", entered.html)) if not value]
            if missing:
                raise FormError(f"fill in: {', '.join(missing)}")
            if len(entered.name) > MAX_NAME:
                raise FormError(f"name: at most {MAX_NAME} characters")
            if await pages.call(store.campaign_named, entered.name) is not None:
                raise FormError(f"a campaign named {entered.name!r} exists already: give this one another name")
            spec = CampaignSpec(
                name=entered.name, list_name=entered.list_name, html=entered.html, text=entered.text or None,
                subject=entered.subject, from_address=entered.from_address, base_url=runner.base_url,
                rate=entered.rate_per_second, user_email=user.email,
            )
            row = await pages.call(runner.create, spec)
        except MailbeaconError as exc:  # the template's line, an unknown list, a bad From: the form says so
            return await render_form(request, user, entered, str(exc))
        runner.start(row, wake_from_thread(pages.web.queued))
        flash(request, f"Campaign {row.name}: queueing {many(row.total, 'member')}; the outbound worker sends as they come.")
        return redirect(f"/campaigns/{row.id}")

    async def preview(request: Request, user: UserRow, form: FormData) -> Response:
        try:
            entered = await read_form(form)
            if runner is None:
                raise FormError("this server does not start campaigns")
            template = await pages.call(
                CampaignTemplate.from_strings, entered.html, entered.text or None, subject=entered.subject
            )
            contact = await pages.call(
                preview_contact, store, entered.list_name or None, entered.preview_contact or None
            )
            shown = await pages.call(render_preview, template, contact, pages.web.tracking.keyring, runner.base_url)
            body = preview_page(shown)
        except MailbeaconError as exc:
            body = message_page(str(exc))
        response = Response(body, media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": PREVIEW_CSP, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
        })
        return secured(response)

    return [
        Route("/campaigns/new", pages.view(new)),
        Route("/campaigns/new", pages.action(start), methods=["POST"]),
        Route("/campaigns/preview", pages.action(preview), methods=["POST"]),
    ]
