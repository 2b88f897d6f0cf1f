"""One contact's copy of a campaign: rendered, composed, tracked and DKIM-signed.

Most of a copy's cost is scanning its HTML for links and planning where the
tracking goes (about 1 ms for a 21 KB newsletter). Copies whose HTML comes out
the same (no personalisation in the body, or a greeting by first name) share
that work: the unsubscribe URL, the one part that always differs, is rendered
as a placeholder of the same length and put in after tracking, and the
prepared message is kept for the next copy with the same HTML.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from mailbeacon.campaigns.compose import compose, header_text, html_part, new_boundary, parse_from
from mailbeacon.campaigns.links import CampaignLinks, CampaignTracker
from mailbeacon.campaigns.templates import CampaignTemplate, TemplateError
from mailbeacon.campaigns.unsubscribe import PATH, unsubscribe_headers, unsubscribe_url
from mailbeacon.instrument import Plan, Prepared, TokenTracker, prepare_message
from mailbeacon.outbound.transports import ascii_address
from mailbeacon.store import CampaignRow, ContactRow
from mailbeacon.submission.dkim import DkimSigner
from mailbeacon.submission.policy import Untracked
from mailbeacon.tokens import Keyring

PLAN = Plan(opens=True, clicks=True, honeypot=True)
"""Campaign copies always track opens and clicks, with the honeypot link for scanners."""
PREPARED_KEPT = 128
"""Distinct HTML bodies whose prepared form is kept (a few MB)."""


@dataclass(frozen=True, slots=True)
class MadeCopy:
    delivery_key: bytes
    body: bytes
    opens_tracked: bool
    clicks_tracked: bool
    untracked_reason: str | None


class CopyMaker:
    """Makes the copies of one campaign; `links` gives their link indexes campaign-wide."""

    def __init__(self, campaign: CampaignRow, keyring: Keyring, links: CampaignLinks,
                 dkim: DkimSigner | None = None) -> None:
        self._campaign = campaign
        self._keyring = keyring
        self._links = links
        self._dkim = dkim
        self._template = CampaignTemplate.from_strings(campaign.html, campaign.text, subject=campaign.subject)
        self._sender = parse_from(campaign.from_address)
        self._boundary = new_boundary()
        self._recogniser = TokenTracker(campaign.base_url, keyring, bytes(12))
        token = keyring.sign_unsubscribe(0, campaign.id)  # every token of the campaign is this long
        self._placeholder = f"{campaign.base_url.rstrip('/')}{PATH}{'X' * len(token)}"
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()
        self._subjects: dict[str, str] = {}

    def make(self, member: ContactRow, date: str, do_not_track: bool) -> MadeCopy:
        """TemplateError if the template cannot be rendered for this member (the send skips them)."""
        campaign = self._campaign
        if "\r" in member.email or "\n" in member.email:
            raise TemplateError(f"the address {member.email!r} cannot be written in a header")
        delivery = secrets.token_bytes(12)
        rendered = self._template.render(member, self._placeholder)
        unsubscribe = unsubscribe_url(campaign.base_url, self._keyring, member.id, campaign.id)
        headers = [
            ("From", self._sender.header),
            ("To", ascii_address(member.email) or member.email),  # an IDN domain as the envelope will have it
            ("Subject", self._subject(rendered.subject.replace(self._placeholder, unsubscribe))),
            ("Date", date),
            ("Message-ID", f"<{delivery.hex()}.c{campaign.id}@{self._sender.domain}>"),
            *unsubscribe_headers(unsubscribe),
        ]
        prepared = self._prepare(rendered.html)
        opens = clicks = False
        reason: str | None = Untracked.DO_NOT_TRACK.value
        if do_not_track:
            part = prepared.raw
        else:
            result = prepared.render(CampaignTracker(TokenTracker(campaign.base_url, self._keyring, delivery),
                                                     self._links))
            part, opens, clicks = result.message, result.report.opens_tracked, bool(result.report.tracked_links)
            reason = None if opens else (result.report.opens_reason.value if result.report.opens_reason else None)
        part = part.replace(self._placeholder.encode("ascii"), unsubscribe.encode("ascii"))
        text = None if rendered.text is None else rendered.text.replace(self._placeholder, unsubscribe)
        body = compose(headers=headers, html=part, text=text, boundary=self._boundary)
        if self._dkim is not None:
            body = self._dkim.sign(body)
        return MadeCopy(delivery, body, opens, clicks, reason)

    def _prepare(self, html: str) -> Prepared:
        prepared = self._prepared.get(html)
        if prepared is None:
            prepared = self._prepared[html] = prepare_message(html_part(html), PLAN, self._recogniser)
            if len(self._prepared) > PREPARED_KEPT:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(html)
        return prepared

    def _subject(self, subject: str) -> str:
        encoded = self._subjects.get(subject)
        if encoded is None:
            if len(self._subjects) > 1000:
                self._subjects.clear()
            encoded = self._subjects[subject] = header_text(subject)
        return encoded
