"""Plan one decoded HTML part: which links to wrap, where the pixel goes, which old tracking to drop."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mailbeacon.instrument import links as L
from mailbeacon.instrument.charsets import TextView, decode_span
from mailbeacon.instrument.html import Tag, attribute, scan_html, strip_tags
from mailbeacon.instrument.plan import Plan
from mailbeacon.events import HONEYPOT_LINK, HONEYPOT_TARGET
from mailbeacon.instrument.pixel import CLIP_LIMIT, honeypot_tag, is_xhtml, pixel_tag, place_pixel
from mailbeacon.instrument.report import LinkReport, PartReport, Report, SkipReason, Notice
from mailbeacon.instrument.tracker import Tracker


@dataclass(slots=True)
class LinkIndex:
    """One index per distinct target in a message, shared by all its parts."""

    by_target: dict[str, int] = field(default_factory=dict)

    def of(self, target: str) -> int:
        return self.by_target.setdefault(target, len(self.by_target))


@dataclass(frozen=True, slots=True)
class Slot:
    """A span of a decoded HTML part that each recipient's copy fills in.

    Everything about a slot is decided once per message; only the URL inside
    it differs per recipient, so a campaign scans each message once.
    """

    start: int
    end: int
    kind: str
    """"click" (a wrapped href value), "pixel" or "honeypot" (insertions), or "fixed" (same text for everyone)."""
    link: int = -1
    target: str = ""
    quote: str = '"'
    text: str = ""
    """For "fixed": the replacement; for "pixel": "/" when the document is XHTML."""

    def fill(self, tracker: Tracker) -> bytes:
        if self.kind == "click":
            value = L.attribute_value(tracker.click_url(self.link, self.target), self.quote)
        elif self.kind == "pixel":
            value = pixel_tag(tracker.pixel_url(), xhtml=self.text == "/")
        elif self.kind == "honeypot":
            value = honeypot_tag(tracker.click_url(HONEYPOT_LINK, HONEYPOT_TARGET))
        else:
            value = self.text
        return value.encode("latin-1")


def plan_part(
    decoded: bytes,
    view: TextView,
    encoded_size: int,
    plan: Plan,
    recogniser: Tracker,
    index: LinkIndex,
    report: Report,
    part: PartReport,
) -> list[Slot]:
    """The slots of one decoded HTML part, sorted and non-overlapping."""
    original = decoded.decode("latin-1")
    scan = scan_html(view.scan)
    slots: list[Slot] = []

    for img in scan.images:
        src = img.attrs.get("src")
        if src is not None and src.value:
            recognised = recogniser.recognise(_target_of(view, original, src.start, src.end))
            if recognised is not None and recognised.kind == "open":
                slots.append(Slot(img.start, img.end, "fixed"))  # our old pixel: removed

    found: list[tuple[int, LinkReport]] = []
    # <a> first, so a VML button inside an MSO comment can follow its <a> twin.
    for tag in sorted(scan.links, key=lambda t: t.name != "a"):
        href = tag.attrs.get("href")
        if href is None:
            continue  # <a name=...>: an anchor, not a link
        target = _target_of(view, original, href.start, href.end)
        recognised = recogniser.recognise(target)
        was_ours = recognised is not None and recognised.kind == "click"
        if recognised is not None and was_ours:
            target = recognised.target
        if tag.name == "area":
            inner = _alt_text(view.scan, original, tag)
        else:
            inner = tag.inner(original)
            if "<" in inner:
                inner = strip_tags(inner)
        if not (view.ascii_is_text and inner.isascii()):
            inner = decode_span(view, inner)
        link = LinkReport(part.path, tag.name, target, L.visible_text(inner), tracked=False)
        twin = _twin(found, target, tag.start) if tag.name.startswith("v:") else None
        link.reason = _decide(tag, target, inner, link.text, plan, twin, report)
        if link.reason is None:
            link.tracked = True
            link.link = index.of(target)
            destination = L.with_query(target, plan.utm) if plan.utm else target
            slots.append(Slot(href.start, href.end, "click", link.link, destination, href.quote))
        elif was_ours:
            # Unwrap our old link to where it pointed.
            slots.append(Slot(href.start, href.end, "fixed", text=L.attribute_value(target, href.quote)))
        found.append((tag.start, link))
    report.links.extend(link for _, link in sorted(found, key=lambda item: item[0]))

    if plan.opens and scan.unterminated and scan.body_close is None and scan.html_close is None:
        part.reason = SkipReason.UNTERMINATED
    elif plan.opens:
        # Tracking URLs are about the target's length plus a fixed part; near enough for a threshold.
        growth = sum(len(s.target) * 4 // 3 + 80 - (s.end - s.start) for s in slots if s.kind == "click")
        at_top = plan.pixel_at_top or encoded_size + growth > CLIP_LIMIT
        if at_top and not plan.pixel_at_top:
            report.warn(Notice.GMAIL_CLIPPING, part.path or "body")
        offset, where = place_pixel(original, scan, at_top)
        slots.append(Slot(offset, offset, "pixel", text="/" if is_xhtml(original) else ""))
        part.pixel = where
    if plan.honeypot and plan.clicks and part.reason is None:
        offset, _ = place_pixel(original, scan, at_top=False)
        slots.append(Slot(offset, offset, "honeypot"))

    slots.sort(key=lambda slot: (slot.start, slot.end))
    return slots


def _target_of(view: TextView, original: str, start: int, end: int) -> str:
    raw = original[start:end]
    if not (view.ascii_is_text and raw.isascii()):
        raw = decode_span(view, raw)
    return L.browser_url(L.unescape_attribute(raw), view.codec)


def _alt_text(scan: str, original: str, tag: Tag) -> str:
    """The source of an <area>'s alt text: what it shows as a link (HTML §4.8.14)."""
    alt = attribute(scan, tag, "alt")
    return original[alt.start : alt.end] if alt is not None else ""


def _twin(decided: Iterable[tuple[int, LinkReport]], target: str, start: int) -> LinkReport | None:
    """The <a> a VML button at `start` duplicates: the first after it with its target, else the last before.

    Bulletproof buttons put the VML in `<!--[if mso]>` and the <a> for everyone else
    right after it (or, less often, right before). Every <a> is decided before any VML.
    """
    before = None
    for offset, link in decided:
        if link.target == target and link.tag == "a":
            if offset > start:
                return link
            before = link
    return before


def _decide(
    tag: Tag,
    target: str,
    text: str,
    shown: str,
    plan: Plan,
    twin: LinkReport | None,
    report: Report,
) -> SkipReason | None:
    reason = L.why_not_trackable(target)
    if reason is not None:
        return reason
    if "data-notrack" in tag.attrs:
        return SkipReason.NOTRACK_ATTRIBUTE
    if target == HONEYPOT_TARGET:
        return SkipReason.HONEYPOT  # an earlier message's trap, quoted: inert now
    if twin is not None:
        # A VML button follows the decision for its <a> twin (same target).
        return twin.reason
    if L.text_is_url(text, shown):
        if not _same_address(shown, target):
            report.warn(Notice.VISIBLE_URL_DIFFERS, f"{shown!r} -> {target}")
        return SkipReason.VISIBLE_TEXT_IS_URL
    if not plan.clicks:
        return SkipReason.CLICKS_DISABLED
    return None


def _same_address(text: str, target: str) -> bool:
    def host(value: str) -> str:
        value = value.lower().split("://", 1)[-1].removeprefix("www.")
        return value.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]

    return host(text) == host(target) or "@" in text
