"""Instrument one decoded HTML part: wrap eligible links, add one pixel, drop our old ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbeacon.instrument import links as L
from mailbeacon.instrument.charsets import TextView, decode_span
from mailbeacon.instrument.html import Tag, scan_html, strip_tags
from mailbeacon.instrument.mime import Edit
from mailbeacon.instrument.pixel import CLIP_LIMIT, is_xhtml, pixel_tag, place_pixel
from mailbeacon.instrument.report import LinkReport, PartReport, Report, SkipReason, Warning
from mailbeacon.instrument.tracker import Tracker


@dataclass(slots=True)
class Options:
    opens: bool = True
    clicks: bool = True
    pixel_at_top: bool = False


@dataclass(slots=True)
class LinkIndex:
    """One index per distinct target in a message, shared by all its parts."""

    by_target: dict[str, int] = field(default_factory=dict)

    def of(self, target: str) -> int:
        return self.by_target.setdefault(target, len(self.by_target))


def rewrite_part(
    decoded: bytes,
    view: TextView,
    encoded_size: int,
    options: Options,
    tracker: Tracker,
    index: LinkIndex,
    report: Report,
    part: PartReport,
) -> list[Edit]:
    """Edits to the decoded body: sorted, non-overlapping (start, end, replacement)."""
    original = decoded.decode("latin-1")
    scan = scan_html(view.scan)
    edits: list[tuple[int, int, str]] = []

    for img in scan.images:
        src = img.attrs.get("src")
        if src is not None and src.value:
            recognised = tracker.recognise(_target_of(view, original, src.start, src.end))
            if recognised is not None and recognised.kind == "open":
                edits.append((img.start, img.end, ""))

    decided: dict[str, LinkReport] = {}
    found: list[tuple[int, LinkReport]] = []
    # <a> first, so a VML button inside an MSO comment can follow its <a> twin.
    for tag in sorted(scan.links, key=lambda t: t.name != "a"):
        href = tag.attrs.get("href")
        if href is None:
            continue  # <a name=...>: an anchor, not a link
        target = _target_of(view, original, href.start, href.end)
        recognised = tracker.recognise(target)
        was_ours = recognised is not None and recognised.kind == "click"
        if recognised is not None and was_ours:
            target = recognised.target
        inner = decode_span(view, strip_tags(tag.inner(original)))
        link = LinkReport(part.path, tag.name, target, L.visible_text(inner), tracked=False)
        link.reason = _decide(tag, target, inner, link.text, options, decided, report)
        value = None
        if link.reason is None:
            link.tracked = True
            link.link = index.of(target)
            value = tracker.click_url(link.link, target)
        elif was_ours:
            value = target  # unwrap our old link to where it pointed
        if value is not None:
            edits.append((href.start, href.end, L.attribute_value(value, href.quote)))
        if tag.name == "a":
            decided.setdefault(target, link)
        found.append((tag.start, link))
    report.links.extend(link for _, link in sorted(found, key=lambda item: item[0]))

    if options.opens:
        growth = sum(len(r) - (e - s) for s, e, r in edits)
        at_top = options.pixel_at_top or encoded_size + growth > CLIP_LIMIT
        if at_top and not options.pixel_at_top:
            report.warn(Warning.GMAIL_CLIPPING, part.path or "body")
        offset, where = place_pixel(original, scan, at_top)
        edits.append((offset, offset, pixel_tag(tracker.pixel_url(), is_xhtml(original))))
        part.pixel = where

    edits.sort(key=lambda edit: (edit[0], edit[1]))
    return [(start, end, replacement.encode("latin-1")) for start, end, replacement in edits]


def _target_of(view: TextView, original: str, start: int, end: int) -> str:
    raw = decode_span(view, original[start:end])
    return L.browser_url(L.unescape_attribute(raw), view.codec)


def _decide(
    tag: Tag,
    target: str,
    text: str,
    shown: str,
    options: Options,
    decided: dict[str, LinkReport],
    report: Report,
) -> SkipReason | None:
    reason = L.why_not_trackable(target)
    if reason is not None:
        return reason
    if "data-notrack" in tag.attrs:
        return SkipReason.NOTRACK_ATTRIBUTE
    twin = decided.get(target) if tag.name != "a" else None
    if twin is not None:
        # A VML button follows the decision for its <a> twin (same target).
        return twin.reason
    if L.text_is_url(text, shown):
        if not _same_address(shown, target):
            report.warn(Warning.VISIBLE_URL_DIFFERS, f"{shown!r} -> {target}")
        return SkipReason.VISIBLE_TEXT_IS_URL
    if not options.clicks:
        return SkipReason.CLICKS_DISABLED
    return None


def _same_address(text: str, target: str) -> bool:
    def host(value: str) -> str:
        value = value.lower().split("://", 1)[-1].removeprefix("www.")
        return value.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]

    return host(text) == host(target) or "@" in text
