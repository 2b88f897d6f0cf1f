"""One contact's copy of a campaign: rendered, composed, tracked and DKIM-signed.

Most of a copy's cost is scanning its HTML for links and planning where the
tracking goes (about 1 ms for a 21 KB newsletter). Copies whose HTML comes out
the same (no personalisation in the body, or a greeting by first name) share
that work: the unsubscribe URL, the one part that always differs, is rendered
as a placeholder of the same length and put in after tracking, and the
prepared message is kept for the next copy with the same HTML.

Copies personalised in their text (a name, an address in the footer) share it
too: the template is rendered with each output marked (`Marked`), the marked
skeleton is scanned once, and each copy's values replace the marks in the
tracked bytes. Only outputs in plain text qualify: one inside a tag, a link's
text, a comment, a style or a script could change what is tracked, so such a
skeleton, and any copy whose values could not be put in byte for byte (a line
past 998 octets, a newline, markup), takes the full scan instead.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from mailbeacon.campaigns.compose import (
    compose,
    header_text,
    html_part,
    new_boundary,
    parse_from,
    untracked_html_part,
)
from mailbeacon.campaigns.links import CampaignLinks, CampaignTracker
from mailbeacon.campaigns.plaintext import fill_marks, text_from_html
from mailbeacon.campaigns.templates import MARK_CLOSE, MARK_OPEN, CampaignTemplate, Marked, TemplateError
from mailbeacon.campaigns.unsubscribe import PATH, unsubscribe_headers, unsubscribe_url
from mailbeacon.instrument import Plan, Prepared, TokenTracker, prepare_message
from mailbeacon.instrument.html import scan_html
from mailbeacon.outbound.transports import ascii_address
from mailbeacon.store import CampaignRow, ContactRow
from mailbeacon.submission.dkim import DkimSigner
from mailbeacon.submission.policy import Untracked
from mailbeacon.tokens import Keyring

PLAN = Plan(opens=True, clicks=True, honeypot=True)
"""Campaign copies always track opens and clicks, with the honeypot link for scanners."""
PREPARED_KEPT = 128
"""Distinct HTML bodies whose prepared form is kept (a few MB)."""
_MARK = re.compile(f"{MARK_OPEN}(\\d+){MARK_CLOSE}".encode())
_MARK_TEXT = re.compile(f"{MARK_OPEN}\\d+{MARK_CLOSE}")
_UNSAFE_VALUE = re.compile(f"[<\r\n{MARK_OPEN}{MARK_CLOSE}]")


@dataclass(frozen=True, slots=True)
class MadeCopy:
    delivery_key: bytes
    body: bytes
    opens_tracked: bool
    clicks_tracked: bool
    untracked_reason: str | None
    subject: str = ""
    """The subject as this contact's copy carries it, unencoded: what their feed items show (issue #13)."""


class CopyMaker:
    """Makes the copies of one campaign; `links` gives their link indexes campaign-wide."""

    def __init__(self, campaign: CampaignRow, keyring: Keyring, links: CampaignLinks,
                 dkim: DkimSigner | None = None, share_marked: bool = True) -> None:
        """`share_marked=False` scans every distinct HTML in full (the tests compare both ways)."""
        self._campaign = campaign
        self._keyring = keyring
        self._links = links
        self._dkim = dkim
        self._share_marked = share_marked
        self._template = CampaignTemplate.from_strings(campaign.html, campaign.text, subject=campaign.subject)
        self._sender = parse_from(campaign.from_address)
        self._boundary = new_boundary()
        self._recogniser = TokenTracker(campaign.base_url, keyring, bytes(12))
        token = keyring.sign_unsubscribe(0, campaign.id)  # every token of the campaign is this long
        self._placeholder = f"{campaign.base_url.rstrip('/')}{PATH}{'X' * len(token)}"
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()
        self._skeletons: OrderedDict[str, Prepared | None] = OrderedDict()
        """Marked skeleton -> its prepared scan, or None where marks sit outside plain text."""
        self._subjects: dict[str, str] = {}
        self._texts: OrderedDict[str, str] = OrderedDict()
        """Marked skeleton -> its text alternative, where the campaign has no text template (issue #15)."""

    def make(self, member: ContactRow, date: str, do_not_track: bool) -> MadeCopy:
        """TemplateError if the template cannot be rendered for this member (the send skips them)."""
        campaign = self._campaign
        if "\r" in member.email or "\n" in member.email:
            raise TemplateError(f"the address {member.email!r} cannot be written in a header")
        delivery = secrets.token_bytes(12)
        marked = self._template.render_marked(member, self._placeholder) if self._share_marked else None
        skeleton = self._skeleton(marked) if marked is not None else None
        rendered = self._template.render(member, self._placeholder, html=skeleton is None)
        unsubscribe = unsubscribe_url(campaign.base_url, self._keyring, member.id, campaign.id)
        subject = rendered.subject.replace(self._placeholder, unsubscribe)
        headers = [
            ("From", self._sender.header),
            ("To", ascii_address(member.email) or member.email),  # an IDN domain as the envelope will have it
            ("Subject", self._subject(subject)),
            ("Date", date),
            ("Message-ID", f"<{delivery.hex()}.c{campaign.id}@{self._sender.domain}>"),
            *unsubscribe_headers(unsubscribe),
        ]
        tracked = None
        shared = None
        if skeleton is not None and marked is not None:
            tracked = self._track(skeleton, delivery, do_not_track)
            part = _filled(tracked[0], marked.values)
            if part is None:  # the values do not fit byte for byte: this copy takes the full scan
                tracked = None
                rendered = self._template.render(member, self._placeholder)
            else:
                shared = marked
        if tracked is None:
            tracked = self._track(self._prepare(rendered.html), delivery, do_not_track)
            part = tracked[0]
        assert part is not None
        _, opens, clicks, reason = tracked
        part = part.replace(self._placeholder.encode("ascii"), unsubscribe.encode("ascii"))
        text = rendered.text
        if text is None and campaign.text is None:  # no text template: the HTML's text (spam filters want one)
            text = self._text_of(shared) if shared is not None else text_from_html(rendered.html)
        text = None if text is None else text.replace(self._placeholder, unsubscribe)
        body = compose(headers=headers, html=part, text=text, boundary=self._boundary)
        if self._dkim is not None:
            body = self._dkim.sign(body)
        return MadeCopy(delivery, body, opens, clicks, reason, subject)

    def _track(self, prepared: Prepared, delivery: bytes, do_not_track: bool) -> tuple[bytes, bool, bool, str | None]:
        if do_not_track:
            return untracked_html_part(prepared.raw), False, False, Untracked.DO_NOT_TRACK.value
        tracker = CampaignTracker(TokenTracker(self._campaign.base_url, self._keyring, delivery), self._links)
        result = prepared.render(tracker)
        opens, clicks = result.report.opens_tracked, bool(result.report.tracked_links)
        reason = None if opens else (result.report.opens_reason.value if result.report.opens_reason else None)
        return result.message, opens, clicks, reason

    def _skeleton(self, marked: Marked) -> Prepared | None:
        """The prepared scan shared by copies with this skeleton; None if they cannot share one."""
        if marked.skeleton in self._skeletons:
            self._skeletons.move_to_end(marked.skeleton)
            return self._skeletons[marked.skeleton]
        html = self._template.finish_html(marked.skeleton, self._placeholder)
        prepared = self._prepare(html) if _marks_in_text_only(html) else None
        self._skeletons[marked.skeleton] = prepared
        if len(self._skeletons) > PREPARED_KEPT:
            self._skeletons.popitem(last=False)
        return prepared

    def _prepare(self, html: str) -> Prepared:
        prepared = self._prepared.get(html)
        if prepared is None:
            prepared = self._prepared[html] = prepare_message(html_part(html), PLAN, self._recogniser)
            if len(self._prepared) > PREPARED_KEPT:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(html)
        return prepared

    def _text_of(self, marked: Marked) -> str:
        text = self._texts.get(marked.skeleton)
        if text is None:
            text = self._texts[marked.skeleton] = text_from_html(
                self._template.finish_html(marked.skeleton, self._placeholder))
            if len(self._texts) > PREPARED_KEPT:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(marked.skeleton)
        return fill_marks(text, marked.values)

    def _subject(self, subject: str) -> str:
        encoded = self._subjects.get(subject)
        if encoded is None:
            if len(self._subjects) > 1000:
                self._subjects.clear()
            encoded = self._subjects[subject] = header_text(subject)
        return encoded


def _marks_in_text_only(html: str) -> bool:
    """Every mark stands in plain text: not in a tag, a link's text, a comment, a style or a script,
    where a value could change a link, its tracking, or the pixel's place."""
    lower = html.lower()
    marks = [found.start() for found in _MARK_TEXT.finditer(html)]
    if not marks:
        return True
    scan = scan_html(html)
    spans = [(tag.start, max(tag.end, tag.inner_end)) for tag in scan.links]
    spans += [(tag.start, tag.end) for tag in scan.images]
    if scan.unterminated or any(start <= at < end for at in marks for start, end in spans):
        return False
    for at in marks:
        if lower.rfind("<", 0, at) > lower.rfind(">", 0, at):
            return False
        if lower.rfind("<!--", 0, at) > lower.rfind("-->", 0, at):
            return False
        for opened, closed in (("<a", "</a"), ("<style", "</style"), ("<script", "</script"), ("<title", "</title")):
            if _last_tag(lower, opened, at) > _last_tag(lower, closed, at):
                return False
    return True


def _last_tag(lower: str, name: str, before: int) -> int:
    """Where the last `<name` tag (not `<name...` of a longer name) starts before `before`; -1 if none."""
    at = before
    while (at := lower.rfind(name, 0, at)) >= 0:
        follows = lower[at + len(name): at + len(name) + 1]
        if follows in ("", ">", "/") or follows.isspace():
            return at
    return -1


def _filled(part: bytes, values: tuple[str, ...]) -> bytes | None:
    """The tracked skeleton part with each mark replaced by its value; None where that would not be the
    copy a full scan makes (a mark re-encoded or lost, a value with markup or a line break, a long line)."""
    if any(_UNSAFE_VALUE.search(value) for value in values):
        return None
    encoded = [value.encode("utf-8") for value in values]
    seen: list[int] = []

    def value_of(match: re.Match[bytes]) -> bytes:
        seen.append(int(match.group(1)))
        return encoded[seen[-1]]

    filled = _MARK.sub(value_of, part)
    if sorted(seen) != list(range(len(values))):
        return None
    if any(values) and max(map(len, filled.split(b"\r\n"))) > 998:  # RFC 5322 2.1.1
        return None
    return filled
