"""The pixel: one per HTML part, invisible but never display:none, where Gmail will load it."""

from __future__ import annotations

from mailbeacon.instrument import Plan, instrument_message
from tests.support.corpus import as_message
from tests.support.fidelity import PIXEL
from tests.support.trackers import NumberedTracker


def body_of(html: str, plan: Plan = Plan(), delivery: int = 1) -> str:
    out = instrument_message(as_message(html.encode()), plan, NumberedTracker(delivery)).message
    return out.split(b"\r\n\r\n", 1)[1].decode()


def test_pixel_markup_is_invisible_but_fetched() -> None:
    out = body_of("<html><body>Hi</body></html>")
    (tag,) = PIXEL.findall(out)
    assert 'width="1" height="1"' in tag and 'alt=""' in tag
    assert "display:none" not in tag.replace(" ", "")
    assert "https://t.test/o/1.gif" in tag


def test_pixel_goes_just_before_the_closing_body_tag() -> None:
    out = body_of("<html><body>Hi</body>\n</html>\n")
    assert out.startswith("<html><body>Hi<img ") and out.endswith("></body>\n</html>\n")


def test_without_body_end_the_pixel_goes_before_html_end_then_at_the_end() -> None:
    out = body_of("<html><p>Hi</p></html>")
    assert out.startswith("<html><p>Hi</p><img ") and out.endswith("></html>")
    out = body_of("<p>Hi</p>\n\n")
    assert out.startswith("<p>Hi</p><img ") and out.endswith(">\n\n")


def test_a_pixel_inside_a_comment_body_end_is_not_used() -> None:
    out = body_of("<html><body>Hi<!-- </body> --></body></html>")
    assert out.index("<img ") > out.index("-->")


def test_large_message_gets_the_pixel_at_the_top_and_a_warning() -> None:
    html = "<html><head><title>t</title></head><body class=\"x\"><p>" + "word\n" * 25_000 + "</p></body></html>"
    result = instrument_message(as_message(html.encode()), Plan(), NumberedTracker())
    out = result.message.split(b"\r\n\r\n", 1)[1].decode()
    assert out.index("<img ") == out.index('<body class="x">') + len('<body class="x">')
    assert result.report.parts[0].pixel == "top"
    assert any("clip" in w.lower() for w in result.report.warnings)


def test_xhtml_documents_get_a_self_closing_pixel() -> None:
    doc = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "x"><html><body>Hi</body></html>'
    assert PIXEL.findall(body_of(doc))[0].endswith(" />")


def test_forwarded_copy_is_cleaned_then_tracked_for_the_new_recipient() -> None:
    original = '<html><body><a href="https://example.com/?a=1&amp;b=2">Pricing</a></body></html>'
    first = body_of(original, delivery=1)
    second = body_of(first, delivery=2)
    assert second == body_of(original, delivery=2), "old pixel and links must be replaced, not stacked"
    assert "/o/1.gif" not in second and "/c/1/" not in second


def test_copy_pasted_tracked_links_are_unwrapped_when_clicks_are_off() -> None:
    first = body_of('<html><body><a href="https://example.com/?a=1&amp;b=2">Pricing</a></body></html>')
    out = body_of(first, Plan(opens=False, clicks=False))
    assert out == '<html><body><a href="https://example.com/?a=1&amp;b=2">Pricing</a></body></html>'


def test_foreign_tracking_pixels_are_left_alone() -> None:
    html = '<html><body><img src="https://list-manage.example/track/open.php?u=1" width="1" height="1"></body></html>'
    out = body_of(html)
    assert 'src="https://list-manage.example/track/open.php?u=1"' in out
    assert len(PIXEL.findall(out)) == 1


# The pixel as earlier versions wrote it (issue #18 changed its style): still ours, still replaced.
EARLIER_PIXELS = [
    '<img src="https://t.test/o/1.gif" width="1" height="1" alt="" border="0" '
    'style="display:block;height:1px;width:1px;border:0;margin:0;padding:0">',
    '<img src="https://t.test/o/1.gif" width="1" height="1" alt="" border="0" '
    'style="display:block;height:1px;width:1px;border:0;margin:0;padding:0" />',
]


def test_the_pixel_takes_no_room_and_opens_no_line() -> None:
    (tag,) = PIXEL.findall(body_of("<html><body>Hi</body></html>"))
    style = tag.split('style="', 1)[1].split('"', 1)[0]
    assert "float:left" in style and "clear:both" in style and "margin:-1px -1px 0 0" in style
    for hiding in ("display:none", "position:", "width:0", "height:0", "visibility"):
        assert hiding not in style


def test_pixels_of_earlier_versions_are_replaced_by_todays() -> None:
    original = '<html><body><a href="https://example.com/">Pricing</a></body></html>'
    today = body_of(original, delivery=2)
    (current,) = PIXEL.findall(body_of(original, delivery=1))
    for earlier in EARLIER_PIXELS:
        for where in ("end", "top"):
            once = body_of(original, delivery=1).replace(current, "")
            old = once.replace("</body>", earlier + "</body>") if where == "end" else once.replace("<body>", "<body>" + earlier)
            assert body_of(old, delivery=2) == today, (earlier, where)
    assert body_of(today, delivery=2) == today, "instrumenting twice differs from once"


def test_at_the_top_without_body_or_head_the_pixel_goes_after_the_doctype() -> None:
    # Anything before <!DOCTYPE> puts the page in quirks mode (HTML §13.2.6.4.1).
    out = body_of("<!DOCTYPE html>\n<!-- x --><p>Hi</p>", Plan(pixel_at_top=True))
    assert out.startswith("<!DOCTYPE html>\n<!-- x --><img ")
    out = body_of('<!DOCTYPE html><html lang="en"><p>Hi</p></html>', Plan(pixel_at_top=True))
    assert out.startswith('<!DOCTYPE html><html lang="en"><img ')
    out = body_of("<p>Hi</p>", Plan(pixel_at_top=True))
    assert out.startswith("<img ")
