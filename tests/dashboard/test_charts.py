"""The message timeline chart: buckets chosen by the span, round gridlines, people apart from machines."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from mailbeacon.store import ActivityTime
from mailbeacon.web.dashboard.charts import DAY, HOUR, MAX_BARS, WEEK, bucket_size, buckets, scale, timeline_svg

SENT = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.mark.parametrize("span,size", [(60, HOUR), (2 * DAY, HOUR), (3 * DAY, DAY), (59 * DAY, DAY),
                                       (61 * DAY, WEEK), (400 * WEEK, 7 * WEEK)])
def test_the_bucket_is_the_smallest_that_keeps_the_chart_readable(span: float, size: int) -> None:
    assert bucket_size(span) == size
    assert span / size <= MAX_BARS


@pytest.mark.parametrize("tallest,expected", [(0, (1, 1)), (1, (1, 1)), (3, (1, 3)), (5, (2, 6)), (9, (5, 10)),
                                              (37, (10, 40)), (100, (50, 100)), (12345, (5000, 15000))])
def test_gridlines_fall_on_round_numbers_above_the_tallest_bar(tallest: int, expected: tuple[int, int]) -> None:
    step, top = scale(tallest)
    assert (step, top) == expected
    assert top >= tallest and top // step <= 4 and str(step).strip("0") in ("1", "2", "5")


def test_people_machines_and_the_sender_are_counted_apart() -> None:
    times = [
        ActivityTime(SENT + 60, "open", "human"),
        ActivityTime(SENT + 70, "open", "proxied"),
        ActivityTime(SENT + 80, "open", "machine"),
        ActivityTime(SENT + 90, "open", "sender"),
        ActivityTime(SENT + 3 * HOUR, "click", "suspect_forward"),
        ActivityTime(SENT + 3 * HOUR, "click", "machine"),
    ]
    found = buckets(times, SENT)
    assert len(found) == 6 and found[1].start - found[0].start == HOUR
    assert found[0].counts == {("open", "human"): 2, ("open", "machine"): 1}  # the sender's own open is left out
    assert found[3].counts == {("click", "human"): 1, ("click", "machine"): 1}


def test_the_chart_has_bars_with_tooltips_axes_and_a_summary() -> None:
    times = [ActivityTime(SENT + i * 1200, "open", "human") for i in range(9)]  # 22:13 to 00:53
    times += [ActivityTime(SENT + DAY * 3, "click", "machine")]
    svg = timeline_svg(times, SENT)
    assert svg is not None
    tree = HTMLParser(str(svg))
    chart = tree.css_first("svg#timeline-chart")
    assert chart.attributes["aria-label"] == ("Opens and clicks over time: 9 human opens, 0 machine opens, "
                                              "0 human clicks, 1 machine clicks")
    tips = [t.text() for t in tree.css("rect.bar title")]
    assert tips == ["2023-11-14: 6 human opens", "2023-11-15: 3 human opens", "2023-11-17: 1 machine click"]
    labels = [t.text() for t in tree.css("text.axis")]
    assert labels[:3] == ["0", "2", "4"] and "per day, UTC" in labels and "Nov 14" in labels


def test_nothing_to_draw_is_none() -> None:
    assert timeline_svg([], SENT) is None
    assert timeline_svg([ActivityTime(SENT + 5, "open", "sender")], SENT) is None
