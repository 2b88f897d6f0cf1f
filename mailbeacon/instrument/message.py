"""Instrument a whole RFC 5322 message: find its HTML body parts and splice new bodies in.

Headers, other parts and the bytes between parts are never rewritten. A part
keeps its charset and its transfer encoding; the one exception is a 7bit or
8bit HTML part whose lines would exceed the 998 octets RFC 5322 §2.1.1 allows:
it becomes quoted-printable (and its Content-Transfer-Encoding says so),
because a relay that folds such a line can cut a URL in half.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mailbeacon.instrument import mime
from mailbeacon.instrument.charsets import CharsetError, text_view
from mailbeacon.instrument.pixel import CLIP_WARNING
from mailbeacon.instrument.report import PartReport, Report, SkipReason, Notice
from mailbeacon.instrument.plan import Plan
from mailbeacon.instrument.rewrite import LinkIndex, Slot, plan_part
from mailbeacon.instrument.tracker import Tracker

MAX_HTML_BYTES = 16 * 1024 * 1024
MAX_LINE = 998


@dataclass(frozen=True, slots=True)
class Instrumented:
    message: bytes
    report: Report


@dataclass(frozen=True, slots=True)
class _PreparedPart:
    part: mime.Part
    body: bytes
    decoded: bytes
    slots: list[Slot]
    groups: list[mime.QpGroup] | None
    """Quoted-printable only: the lines to encode again, located once per message."""
    eol: bytes
    """The part's line ending: its body's, else its headers' (an empty body has none)."""
    report: PartReport


@dataclass(frozen=True, slots=True)
class Prepared:
    r"""A message scanned once, ready to be filled in for any number of recipients.

    Parsing, decoding and deciding which links to track do not depend on the
    recipient; only the URLs do. A campaign or a relay with many recipients
    prepares once and renders per recipient.

    >>> from mailbeacon.instrument.tracker import Recognised
    >>> class Numbered:
    ...     def __init__(self, n): self.n = n
    ...     def pixel_url(self): return f"https://t.test/o/{self.n}.gif"
    ...     def click_url(self, link, target): return f"https://t.test/c/{self.n}/{link}"
    ...     def recognise(self, url): return None
    >>> raw = b'Content-Type: text/html\r\n\r\n<a href="https://example.com/">Hi</a>'
    >>> prepared = prepare_message(raw, Plan(opens=False), Numbered(0))
    >>> [prepared.render(Numbered(n)).message[-28:] for n in (1, 2)]
    [b'https://t.test/c/1/0">Hi</a>', b'https://t.test/c/2/0">Hi</a>']
    """

    raw: bytes
    parts: tuple[_PreparedPart, ...]
    report: Report

    def render(self, tracker: Tracker) -> Instrumented:
        """This message with the tracking URLs of `tracker` (one recipient's delivery)."""
        if not self.parts:
            return Instrumented(self.raw, self.report)
        try:
            report = self.report
            edits: list[mime.Edit] = []
            for prepared in self.parts:
                part_edits, warnings = _render_part(self.raw, prepared, tracker)
                edits.extend(part_edits)
                if warnings:
                    report = _with_warnings(report, prepared.report.path, warnings)
            edits.sort(key=lambda edit: (edit[0], edit[1]))
            return Instrumented(mime.splice(self.raw, edits), report)
        except Exception as exc:  # noqa: BLE001 - a tracker must never lose a message
            return _unchanged(self.raw, SkipReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


def instrument_message(raw: bytes, plan: Plan, tracker: Tracker) -> Instrumented:
    r"""Add tracking to every HTML body part of `raw`; never raises on bad input.

    >>> from mailbeacon.instrument.tracker import Recognised
    >>> class Numbered:
    ...     def pixel_url(self): return "https://t.test/o/p.gif"
    ...     def click_url(self, link, target): return f"https://t.test/c/{link}"
    ...     def recognise(self, url): return None
    >>> raw = b'Content-Type: text/html\r\n\r\n<a href="https://example.com/">Hi</a>'
    >>> instrument_message(raw, Plan(), Numbered()).message.split(b"\r\n\r\n")[1]
    b'<a href="https://t.test/c/0">Hi</a><img src="https://t.test/o/p.gif" width="1" height="1" alt="" border="0" style="float:left;clear:both;width:1px;height:1px;margin:-1px -1px 0 0;border:0;padding:0">'
    """
    return prepare_message(raw, plan, tracker).render(tracker)


def prepare_message(raw: bytes, plan: Plan, recogniser: Tracker) -> Prepared:
    """Scan `raw` once; `recogniser` only recognises our earlier tracking URLs."""
    report = Report()
    try:
        parts = _prepare(raw, plan, recogniser, report)
    except mime.HeaderBlockError as exc:
        return Prepared(raw, (), _unchanged(raw, SkipReason.MALFORMED_HEADERS, str(exc)).report)
    except mime.MimeError as exc:
        return Prepared(raw, (), _unchanged(raw, SkipReason.MALFORMED_MIME, str(exc)).report)
    except Exception as exc:  # noqa: BLE001 - a tracker must never lose a message
        return Prepared(raw, (), _unchanged(raw, SkipReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}").report)
    report.changed = bool(parts)
    return Prepared(raw, tuple(parts), report)


def _unchanged(raw: bytes, reason: SkipReason, detail: str) -> Instrumented:
    report = Report(opens_tracked=False, opens_reason=reason, error=f"{reason.value}: {detail}")
    return Instrumented(raw, report)


def _with_warnings(report: Report, path: str, warnings: list[tuple[Notice, str]]) -> Report:
    report = replace(report, warnings=list(report.warnings), parts=[replace(p) for p in report.parts])
    for kind, detail in warnings:
        report.warn(kind, path or "body")
        if kind is Notice.REENCODED_QP:
            for part in report.parts:
                if part.path == path:
                    part.transfer_encoding = detail
    return report


def _prepare(raw: bytes, plan: Plan, recogniser: Tracker, report: Report) -> list[_PreparedPart]:
    root = mime.parse_message(raw)
    index = LinkIndex()
    prepared: list[_PreparedPart] = []
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
            one = _prepare_part(raw, part, plan, recogniser, index, report)
            if one is not None:
                prepared.append(one)
    opened = [p for p in report.parts if p.pixel is not None]
    report.opens_tracked = bool(opened)
    if not html_found:
        report.opens_reason = SkipReason.SIGNED if signed else SkipReason.PLAIN_TEXT
        report.warn(Notice.NO_HTML_PART)
    elif not opened:
        reasons = [p.reason for p in report.parts if p.reason]
        report.opens_reason = SkipReason.OPENS_DISABLED if not plan.opens else (reasons or [SkipReason.PLAIN_TEXT])[0]
    return prepared


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


def _prepare_part(
    raw: bytes, part: mime.Part, plan: Plan, recogniser: Tracker, index: LinkIndex, report: Report
) -> _PreparedPart | None:
    body = raw[part.body_start : part.body_end]
    if not part.has_body:
        report.parts.append(_part_report(part, False, SkipReason.EMPTY))
        return None
    try:
        decoded = mime.decode_body(body, part.transfer_encoding)
    except mime.MimeError as exc:
        report.parts.append(_part_report(part, False, SkipReason.UNKNOWN_TRANSFER_ENCODING, str(exc)))
        return None
    if len(decoded) > MAX_HTML_BYTES:
        report.parts.append(_part_report(part, False, SkipReason.TOO_LARGE, f"{len(decoded)} bytes"))
        return None
    try:
        view = text_view(decoded, part.params.get("charset"))
    except CharsetError as exc:
        reason = SkipReason.UNSUPPORTED_CHARSET if exc.supported else SkipReason.UNKNOWN_CHARSET
        report.parts.append(_part_report(part, False, reason, exc.charset))
        return None
    part_report = _part_report(part, True, None)
    report.parts.append(part_report)
    slots = plan_part(decoded, view, len(body), plan, recogniser, index, report, part_report)
    if not slots:
        return None
    eol = mime.line_ending(body, mime.line_ending(raw[part.header_start : part.body_start]))
    groups = None
    if part.transfer_encoding == "quoted-printable":
        groups = mime.qp_groups(body, decoded, [(slot.start, slot.end) for slot in slots], eol)
    return _PreparedPart(part, body, decoded, slots, groups, eol, part_report)


def _render_part(raw: bytes, prepared: _PreparedPart, tracker: Tracker) -> tuple[list[mime.Edit], list[tuple[Notice, str]]]:
    part, body, decoded = prepared.part, prepared.body, prepared.decoded
    changes = [(slot.start, slot.end, slot.fill(tracker)) for slot in prepared.slots]
    edits: list[mime.Edit] = []
    warnings: list[tuple[Notice, str]] = []
    cte = part.transfer_encoding
    if cte in mime.IDENTITY:
        encoded = mime.splice(body, changes)
        if mime.max_line_length(encoded) > MAX_LINE:
            cte = "quoted-printable"
            warnings.append((Notice.REENCODED_QP, cte))
            edits.append(_set_transfer_encoding(raw, part, cte))
            encoded = mime.encode_qp(encoded, prepared.eol)
    elif cte == "quoted-printable":
        groups = prepared.groups
        spliced = mime.splice_qp(body, decoded, groups, changes, prepared.eol) if groups is not None else None
        encoded = spliced if spliced is not None else mime.encode_qp(mime.splice(decoded, changes), prepared.eol)
    else:
        encoded = mime.encode_base64(mime.splice(decoded, changes), body, prepared.eol)
    if len(encoded) > CLIP_WARNING:
        warnings.append((Notice.MAY_BE_CLIPPED, ""))
    edits.append((part.body_start, part.body_end, encoded))
    return edits, warnings


def _set_transfer_encoding(raw: bytes, part: mime.Part, cte: str) -> mime.Edit:
    if part.cte_value is not None:
        start, end = part.cte_value
        return start, end, b" " + cte.encode("ascii")
    eol = mime.line_ending(raw[part.header_start : part.body_start])
    return part.header_end, part.header_end, eol + b"Content-Transfer-Encoding: " + cte.encode("ascii")
