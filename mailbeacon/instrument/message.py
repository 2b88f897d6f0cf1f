"""Instrument a whole RFC 5322 message: find its HTML body parts and splice new bodies in.

Headers, other parts and the bytes between parts are never rewritten. A part
keeps its charset and its transfer encoding; the one exception is a 7bit or
8bit HTML part whose lines would exceed the 998 octets RFC 5322 §2.1.1 allows:
it becomes quoted-printable (and its Content-Transfer-Encoding says so),
because a relay that folds such a line can cut a URL in half.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbeacon.instrument import mime
from mailbeacon.instrument.charsets import CharsetError, text_view
from mailbeacon.instrument.pixel import CLIP_WARNING
from mailbeacon.instrument.report import PartReport, Report, SkipReason, Warning
from mailbeacon.instrument.rewrite import LinkIndex, Options, rewrite_part
from mailbeacon.instrument.tracker import Tracker

MAX_HTML_BYTES = 16 * 1024 * 1024
MAX_LINE = 998


@dataclass(frozen=True, slots=True)
class Plan:
    """What to track in one delivery.

    >>> Plan(clicks=False).opens
    True
    """

    opens: bool = True
    clicks: bool = True
    pixel_at_top: bool = False
    """Put the pixel right after <body> even when the message is short."""


@dataclass(frozen=True, slots=True)
class Instrumented:
    message: bytes
    report: Report


def instrument_message(raw: bytes, plan: Plan, tracker: Tracker) -> Instrumented:
    """Add tracking to every HTML body part of `raw`; never raises on bad input.

    >>> from mailbeacon.instrument.tracker import Recognised
    >>> class Numbered:
    ...     def pixel_url(self): return "https://t.test/o/p.gif"
    ...     def click_url(self, link, target): return f"https://t.test/c/{link}"
    ...     def recognise(self, url): return None
    >>> raw = b'Content-Type: text/html\\r\\n\\r\\n<a href="https://example.com/">Hi</a>'
    >>> instrument_message(raw, Plan(), Numbered()).message.split(b"\\r\\n\\r\\n")[1]
    b'<a href="https://t.test/c/0">Hi</a><img src="https://t.test/o/p.gif" width="1" height="1" alt="" border="0" style="display:block;height:1px;width:1px;border:0;margin:0;padding:0">'
    """
    report = Report()
    try:
        message = _instrument(raw, plan, tracker, report)
    except mime.MimeError as exc:
        return _unchanged(raw, SkipReason.MALFORMED_MIME, str(exc))
    except Exception as exc:  # noqa: BLE001 - a tracker must never lose a message
        return _unchanged(raw, SkipReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
    return Instrumented(message, report)


def _unchanged(raw: bytes, reason: SkipReason, detail: str) -> Instrumented:
    report = Report(opens_tracked=False, opens_reason=reason, error=f"{reason.value}: {detail}")
    return Instrumented(raw, report)


def _instrument(raw: bytes, plan: Plan, tracker: Tracker, report: Report) -> bytes:
    root = mime.parse_message(raw)
    options = Options(opens=plan.opens, clicks=plan.clicks, pixel_at_top=plan.pixel_at_top)
    index = LinkIndex()
    edits: list[mime.Edit] = []
    signed = html_found = False
    for part in mime.walk(root):
        if part.content_type in mime.SIGNED_TYPES:
            signed = True
            report.parts.append(_part_report(part, False, SkipReason.SIGNED))
        elif part.content_type == "text/html":
            if part.disposition == "attachment":
                report.parts.append(_part_report(part, False, SkipReason.ATTACHMENT))
                continue
            html_found = True
            edits.extend(_instrument_part(raw, part, options, tracker, index, report))
    opened = [p for p in report.parts if p.pixel is not None]
    report.opens_tracked = bool(opened)
    if not html_found:
        report.opens_reason = SkipReason.SIGNED if signed else SkipReason.PLAIN_TEXT
        report.warn(Warning.NO_HTML_PART)
    elif not opened:
        instrumented = [p for p in report.parts if p.instrumented]
        report.opens_reason = (
            SkipReason.OPENS_DISABLED
            if instrumented
            else next((p.reason for p in report.parts if p.reason), SkipReason.PLAIN_TEXT)
        )
    if not edits:
        return raw
    report.changed = True
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    return mime.splice(raw, edits)


def _part_report(part: mime.Part, instrumented: bool, reason: SkipReason | None, detail: str = "") -> PartReport:
    return PartReport(
        path=part.path,
        content_type=part.content_type,
        charset=part.params.get("charset"),
        transfer_encoding=part.transfer_encoding or "7bit",
        instrumented=instrumented,
        reason=reason,
        detail=detail,
    )


def _instrument_part(
    raw: bytes, part: mime.Part, options: Options, tracker: Tracker, index: LinkIndex, report: Report
) -> list[mime.Edit]:
    body = raw[part.body_start : part.body_end]
    try:
        decoded = mime.decode_body(body, part.transfer_encoding)
    except mime.MimeError as exc:
        report.parts.append(_part_report(part, False, SkipReason.UNKNOWN_TRANSFER_ENCODING, str(exc)))
        return []
    if len(decoded) > MAX_HTML_BYTES:
        report.parts.append(_part_report(part, False, SkipReason.TOO_LARGE, f"{len(decoded)} bytes"))
        return []
    try:
        view = text_view(decoded, part.params.get("charset"))
    except CharsetError as exc:
        reason = SkipReason.UNSUPPORTED_CHARSET if exc.supported else SkipReason.UNKNOWN_CHARSET
        report.parts.append(_part_report(part, False, reason, exc.charset))
        return []
    part_report = _part_report(part, True, None)
    report.parts.append(part_report)
    changes = rewrite_part(decoded, view, len(body), options, tracker, index, report, part_report)
    if not changes:
        return []
    edits: list[mime.Edit] = []
    cte = part.transfer_encoding
    if cte in mime.IDENTITY:
        encoded = mime.splice(body, changes)
        if mime.max_line_length(encoded) > MAX_LINE:
            cte = part_report.transfer_encoding = "quoted-printable"
            report.warn(Warning.REENCODED_QP, part.path or "body")
            edits.append(_set_transfer_encoding(raw, part, cte))
            encoded = mime.encode_qp(encoded, mime.line_ending(body))
    elif cte == "quoted-printable":
        encoded = mime.splice_qp(body, decoded, changes)
    else:
        encoded = mime.encode_base64(mime.splice(decoded, changes), body)
    if len(encoded) > CLIP_WARNING:
        report.warn(Warning.MAY_BE_CLIPPED, part.path or "body")
    edits.append((part.body_start, part.body_end, encoded))
    return edits


def _set_transfer_encoding(raw: bytes, part: mime.Part, cte: str) -> mime.Edit:
    if part.cte_value is not None:
        start, end = part.cte_value
        return start, end, b" " + cte.encode("ascii")
    eol = mime.line_ending(raw[part.header_start : part.body_start])
    return part.header_end, part.header_end, eol + b"Content-Transfer-Encoding: " + cte.encode("ascii")
