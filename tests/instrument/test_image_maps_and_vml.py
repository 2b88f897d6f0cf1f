"""Image-map <area href> and VML button hrefs follow the rules of <a> (issue #18, item 2).

An <area>'s visible text is its alt text (HTML §4.8.14: the alt of an area with href is
its link text). A VML button inside `<!--[if mso]>` usually duplicates an <a> for the
other clients: both must get the same decision and the same tracked link.
"""

from __future__ import annotations

import pytest

from mailbeacon.instrument import Plan, SkipReason, instrument_message
from tests.support.corpus import as_message
from tests.support.fidelity import check_html_fidelity
from tests.support.trackers import NumberedTracker

Row = tuple[str, str, bool, SkipReason | None, int | None]
"""(tag, visible text, tracked, reason, link index) of each reported link, in document order."""

MAP = '<img src="https://img.test/map.png" usemap="#m" width="600" height="200"><map name="m">{}</map>'


def button(href: str, vml_text: str, a_text: str, a_first: bool = False, a_attrs: str = "") -> str:
    vml = (
        '<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="' + href + '" '
        'style="height:40px;v-text-anchor:middle;width:200px" arcsize="10%" fill="t"><w:anchorlock/>'
        '<center style="color:#ffffff">' + vml_text + "</center></v:roundrect><![endif]-->"
    )
    anchor = f'<a href="{href}"{a_attrs} style="mso-hide:all">{a_text}</a>'
    return anchor + vml if a_first else vml + anchor


CASES: dict[str, tuple[str, list[Row]]] = {
    "area with alt text": (
        MAP.format('<area shape="rect" coords="0,0,300,200" href="https://shop.test/shoes" alt="Shop shoes">'),
        [("area", "Shop shoes", True, None, 0)],
    ),
    "area whose alt is a URL": (
        MAP.format('<area href="https://shop.test/" alt="www.shop.test">'),
        [("area", "www.shop.test", False, SkipReason.VISIBLE_TEXT_IS_URL, None)],
    ),
    "area without alt, like a link around an image": (
        MAP.format('<area shape="circle" coords="50,50,10" href="https://shop.test/dot">'),
        [("area", "", True, None, 0)],
    ),
    "area alt with entities": (
        MAP.format('<area href="https://shop.test/?a=1&amp;b=2" alt="Shoes &amp; bags">'),
        [("area", "Shoes & bags", True, None, 0)],
    ),
    "area quoting: single, bare, upper case": (
        MAP.format("<AREA HREF='https://shop.test/a' ALT='A'><area href=https://shop.test/b alt=B>"),
        [("area", "A", True, None, 0), ("area", "B", True, None, 1)],
    ),
    "area mailto, anchor, placeholder, data-notrack": (
        MAP.format(
            '<area href="mailto:a@shop.test" alt="Mail"><area href="#top" alt="Top">'
            '<area href="{{shop_url}}" alt="Shop"><area data-notrack href="https://shop.test/u" alt="Leave">'
        ),
        [
            ("area", "Mail", False, SkipReason.NOT_HTTP, None),
            ("area", "Top", False, SkipReason.FRAGMENT_ONLY, None),
            ("area", "Shop", False, SkipReason.TEMPLATE_PLACEHOLDER, None),
            ("area", "Leave", False, SkipReason.NOTRACK_ATTRIBUTE, None),
        ],
    ),
    "area without href, and one in a comment": (
        MAP.format('<area nohref alt="Nothing"><!-- <area href="https://shop.test/c" alt="C"> -->'),
        [],
    ),
    "area and a link to the same target share one index": (
        '<a href="https://shop.test/sale">Sale</a>' + MAP.format('<area href="https://shop.test/sale" alt="Sale">'),
        [("a", "Sale", True, None, 0), ("area", "Sale", True, None, 0)],
    ),
    "VML button, then its <a> twin": (
        button("https://shop.test/buy", "Buy now", "Buy now"),
        [("v:roundrect", "Buy now", True, None, 0), ("a", "Buy now", True, None, 0)],
    ),
    "VML button after its <a> twin": (
        button("https://shop.test/buy", "Buy now", "Buy now", a_first=True),
        [("a", "Buy now", True, None, 0), ("v:roundrect", "Buy now", True, None, 0)],
    ),
    "VML follows its twin whose text is a URL": (
        button("https://shop.test/", "Visit", "www.shop.test"),
        [
            ("v:roundrect", "Visit", False, SkipReason.VISIBLE_TEXT_IS_URL, None),
            ("a", "www.shop.test", False, SkipReason.VISIBLE_TEXT_IS_URL, None),
        ],
    ),
    "VML follows its data-notrack twin": (
        button("https://shop.test/u", "Leave", "Leave", a_attrs=" data-notrack"),
        [
            ("v:roundrect", "Leave", False, SkipReason.NOTRACK_ATTRIBUTE, None),
            ("a", "Leave", False, SkipReason.NOTRACK_ATTRIBUTE, None),
        ],
    ),
    "two buttons to one target: each VML follows the <a> right after it": (
        button("https://shop.test/x", "One", "One", a_attrs=" data-notrack") + button("https://shop.test/x", "Two", "Two"),
        [
            ("v:roundrect", "One", False, SkipReason.NOTRACK_ATTRIBUTE, None),
            ("a", "One", False, SkipReason.NOTRACK_ATTRIBUTE, None),
            ("v:roundrect", "Two", True, None, 0),
            ("a", "Two", True, None, 0),
        ],
    ),
    "VML without a twin is judged by its own text": (
        '<!--[if mso]><v:rect href="https://shop.test/r" style="width:200px"><v:fill type="tile"/>'
        '<v:textbox inset="0,0,0,0"><center>Read more</center></v:textbox></v:rect><![endif]-->',
        [("v:rect", "Read more", True, None, 0)],
    ),
    "VML without a twin whose text is a URL": (
        '<!--[if mso]><v:oval href="https://shop.test/o"><center>shop.test/o</center></v:oval><![endif]-->',
        [("v:oval", "shop.test/o", False, SkipReason.VISIBLE_TEXT_IS_URL, None)],
    ),
    "VML mailto": (
        '<!--[if mso]><v:roundrect href="mailto:a@shop.test"><center>Write</center></v:roundrect><![endif]-->',
        [("v:roundrect", "Write", False, SkipReason.NOT_HTTP, None)],
    ),
    "self-closing VML has no text, and takes none from what follows": (
        '<!--[if mso]><v:image href="https://shop.test/i" src="https://img.test/i.png" style="width:60px" />'
        "<![endif]--><p>Visit https://shop.test/ today</p><a href=\"https://shop.test/p\">Products</a>",
        [("v:image", "", True, None, 1), ("a", "Products", True, None, 0)],
    ),
    "unclosed VML ends with its conditional comment": (
        '<!--[if mso]><v:roundrect href="https://shop.test/b"><center>Go</center><![endif]-->'
        '<p>www.shop.test</p><a href="https://shop.test/p">Products</a>',
        [("v:roundrect", "Go", True, None, 1), ("a", "Products", True, None, 0)],
    ),
}


@pytest.mark.parametrize(("html", "expected"), CASES.values(), ids=CASES.keys())
def test_area_and_vml_links_follow_the_rules_of_a(html: str, expected: list[Row]) -> None:
    document = f"<html><body>{html}</body></html>"
    result = instrument_message(as_message(document.encode()), Plan(), NumberedTracker())
    rows = [(link.tag, link.text, link.tracked, link.reason, link.link) for link in result.report.links]
    assert rows == expected
    after = result.message.split(b"\r\n\r\n", 1)[1]
    # Only the tracked href values changed (and the pixel went in), each to its link's URL.
    targets = check_html_fidelity(document.encode(), after)
    assert targets == [link.target for link in result.report.tracked_links]
    for link in result.report.tracked_links:
        assert f"https://t.test/c/1/{link.link}?u={link.target.encode().hex()}".encode() in after


def test_instrumenting_image_maps_and_buttons_twice_is_once() -> None:
    html = "<html><body>" + MAP.format('<area href="https://shop.test/a" alt="A">') + button(
        "https://shop.test/buy", "Buy", "Buy"
    ) + "</body></html>"
    once = instrument_message(as_message(html.encode()), Plan(), NumberedTracker(1)).message
    again = instrument_message(once, Plan(), NumberedTracker(2)).message
    assert again == instrument_message(as_message(html.encode()), Plan(), NumberedTracker(2)).message


def test_area_alt_text_is_read_in_the_part_charset() -> None:
    html = MAP.format('<area href="https://shop.test/" alt="Caf\xe9 www">').encode("cp1252")
    raw = as_message(b"<html><body>" + html + b"</body></html>").replace(b"charset=utf-8", b"charset=windows-1252")
    (link,) = instrument_message(raw, Plan(), NumberedTracker()).report.links
    assert (link.tag, link.text, link.tracked) == ("area", "Café www", True)
