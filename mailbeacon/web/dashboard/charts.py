"""A message's opens and clicks over time as a server-side SVG bar chart, readable at a glance.

Buckets are hours, days or weeks, whichever keeps the chart between a handful and
about sixty bars; each bucket has an opens bar and a clicks bar, people at the
foot in a strong colour and machines stacked above in a pale one. Colours come
from classes in the stylesheet (the CSP allows no inline styles); the only text
is numbers and dates this module writes, escaped all the same.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from mailbeacon.classify import COUNTED_AS_HUMAN
from mailbeacon.store import ActivityTime

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
MAX_BARS = 60
WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 40
SERIES = (
    ("open", "human", "human opens"),
    ("open", "machine", "machine opens"),
    ("click", "human", "human clicks"),
    ("click", "machine", "machine clicks"),
)


@dataclass(frozen=True, slots=True)
class Bucket:
    start: float
    counts: dict[tuple[str, str], int]


def bucket_size(span: float) -> int:
    """The smallest of hour, day, week that draws the span in at most MAX_BARS bars."""
    for size in (HOUR, DAY, WEEK):
        if span / size <= MAX_BARS:
            return size
    return int(math.ceil(span / MAX_BARS / WEEK)) * WEEK


def buckets(times: Sequence[ActivityTime], since: float) -> list[Bucket]:
    """Counts per bucket from the message's sending (`since`) to its last event; sender events left out."""
    last = max((t.occurred_at for t in times), default=since)
    size = bucket_size(max(last - since, HOUR))
    start = since - since % size
    count = max(int((last - start) // size) + 1, 6)  # a few empty bars give a lone burst its scale
    found = [Bucket(start + i * size, {}) for i in range(count)]
    for t in times:
        whose = "human" if t.cls in COUNTED_AS_HUMAN else "machine" if t.cls == "machine" else None
        index = int((t.occurred_at - start) // size)
        if whose is None or not 0 <= index < count:
            continue
        key = (t.type, whose)
        found[index].counts[key] = found[index].counts.get(key, 0) + t.count
    return found


def scale(tallest: int) -> tuple[int, int]:
    """(step, top) of the value axis: at most four gridlines on round numbers (1, 2, 5 x 10^k) above the tallest bar."""
    rough = max(tallest, 1) / 4
    magnitude = 10 ** max(0, math.floor(math.log10(rough))) if rough >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return step, step * max(1, math.ceil(tallest / step))


def timeline_svg(times: Sequence[ActivityTime], since: float) -> Markup | None:
    """The chart, or None when nothing happened yet (the page says so in words)."""
    if not any(t.cls in COUNTED_AS_HUMAN or t.cls == "machine" for t in times):
        return None
    rows = buckets(times, since)
    size = rows[1].start - rows[0].start
    tallest = max(max(b.counts.get((kind, "human"), 0) + b.counts.get((kind, "machine"), 0)
                      for kind in ("open", "click")) for b in rows)
    step, top = scale(tallest)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(rows)
    bar = max(1.0, min(18.0, slot * 0.36))

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        f'<svg class="chart" id="timeline-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(_summary(rows))}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for value in range(0, top + 1, step):  # gridlines with their values
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{int(value)}</text>')
    for i, b in enumerate(rows):
        x0 = LEFT + i * slot + slot / 2 - bar - 1
        for offset, kind in ((0.0, "open"), (bar + 2, "click")):
            base = 0
            for whose in ("human", "machine"):
                n = b.counts.get((kind, whose), 0)
                if not n:
                    continue
                label = f"{_when(b.start, size)}: {n} {whose} {kind}{'s' if n != 1 else ''}"
                parts.append(
                    f'<rect class="bar {kind}-{whose}" x="{x0 + offset:.1f}" y="{y(base + n):.1f}" '
                    f'width="{bar:.1f}" height="{y(base) - y(base + n):.1f}"><title>{escape(label)}</title></rect>'
                )
                base += n
    every = max(1, math.ceil(len(rows) / 8))
    for i in range(0, len(rows), every):
        x = LEFT + i * slot + slot / 2
        parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}"/>')
        parts.append(f'<text class="axis" x="{x:.1f}" y="{TOP + plot_h + 17}" text-anchor="middle">'
                     f'{escape(_tick(rows[i].start, size))}</text>')
    unit = {HOUR: "hour", DAY: "day", WEEK: "week"}.get(int(size), f"{int(size // DAY)} days")
    parts.append(f'<text class="axis caption" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">'
                 f'per {unit}, UTC</text>')
    parts.append(f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def legend() -> list[tuple[str, str]]:
    """(css class, label) for the legend the template draws under the chart."""
    return [(f"{kind}-{whose}", label) for kind, whose, label in SERIES]


def _summary(rows: list[Bucket]) -> str:
    totals = {key: sum(b.counts.get(key, 0) for b in rows) for key in [(k, w) for k, w, _ in SERIES]}
    return "Opens and clicks over time: " + ", ".join(f"{totals[(k, w)]} {label}" for k, w, label in SERIES)


def _tick(start: float, size: float) -> str:
    moment = datetime.datetime.fromtimestamp(start, datetime.UTC)
    if size < DAY:
        return moment.strftime("%H:%M") if moment.hour else moment.strftime("%b %d")
    return moment.strftime("%b %d")


def _when(start: float, size: float) -> str:
    moment = datetime.datetime.fromtimestamp(start, datetime.UTC)
    if size < DAY:
        return moment.strftime("%Y-%m-%d %H:00 UTC")
    text = moment.strftime("%Y-%m-%d")
    return text if size == DAY else f"week of {text}"
