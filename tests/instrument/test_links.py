"""Each link rule on its own: which links are tracked, why not, and where they lead."""

from __future__ import annotations

import re

import pytest

from mailbeacon.instrument import Plan, Report, SkipReason, instrument_message
from tests.support.corpus import as_message
from tests.support.fidelity import PIXEL
from tests.support.trackers import NumberedTracker


def instrument_html(html: str, plan: Plan = Plan()) -> tuple[str, Report]:
    result = instrument_message(as_message(html.encode()), plan, NumberedTracker())
    return result.message.split(b"\r\n\r\n", 1)[1].decode(), result.report


def only_link(html: str) -> tuple[str, Report]:
    out, report = instrument_html(html)
    assert len(report.links) == 1, report.links
    return out, report


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ('<a href="https://example.com/">Read more</a>', None),
        ('<A HREF="https://example.com/">Read more</A>', None),
        ("<a href='https://example.com/'>Read more</a>", None),
        ("<a href=https://example.com/>Read more</a>", None),
        ('<a class="b"\n   href="https://example.com/"\n   style="x">Read\n more</a>', None),
        ('<a href="https://example.com/"><img src="cid:logo" alt="Logo"></a>', None),
        ('<a href="https://example.com/">www.example.com</a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="https://example.com/">WWW.EXAMPLE.COM</a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="https://example.com/">https://example.com/</a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="https://example.com/">example.co.uk/path</a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="https://example.com/"><span><b>www.</b>example.com</span></a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="https://example.com/">sales@example.com</a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="https://example.com/">www&#8203;.example.com</a>', SkipReason.VISIBLE_TEXT_IS_URL),
        ('<a href="mailto:sales@example.com">Write to us</a>', SkipReason.NOT_HTTP),
        ('<a href="tel:+15555550100">Call us</a>', SkipReason.NOT_HTTP),
        ('<a href="sms:+15555550100">Text us</a>', SkipReason.NOT_HTTP),
        ('<a href="javascript:alert(1)">Run</a>', SkipReason.NOT_HTTP),
        ('<a href="data:text/html,hi">Data</a>', SkipReason.NOT_HTTP),
        ('<a href="ftp://example.com/f">File</a>', SkipReason.NOT_HTTP),
        ('<a href="#top">Back to top</a>', SkipReason.FRAGMENT_ONLY),
        ('<a href="">Nothing</a>', SkipReason.RELATIVE),
        ('<a href="/account">Account</a>', SkipReason.RELATIVE),
        ('<a href="http://">Broken</a>', SkipReason.INVALID_URL),
        ('<a href="{{action_url}}">Confirm</a>', SkipReason.TEMPLATE_PLACEHOLDER),
        ('<a href="https://example.com/u/{{ subscriber.uuid }}">Mine</a>', SkipReason.TEMPLATE_PLACEHOLDER),
        ('<a href="https://example.com/?e=*|EMAIL|*">Mine</a>', SkipReason.TEMPLATE_PLACEHOLDER),
        ('<a data-notrack href="https://example.com/">Read more</a>', SkipReason.NOTRACK_ATTRIBUTE),
    ],
)
def test_link_rule(markup: str, reason: SkipReason | None) -> None:
    out, report = only_link(f"<html><body><p>{markup}</p></body></html>")
    link = report.links[0]
    assert link.reason is reason
    assert link.tracked is (reason is None)
    assert ("https://t.test/c/" in out) is (reason is None)
    if reason is not None:
        assert markup in out, "an untracked link must stay byte-identical"


@pytest.mark.parametrize(
    ("href", "target"),
    [
        ("https://x.test/?a=1&amp;b=2", "https://x.test/?a=1&b=2"),
        ("https://x.test/?a=1&amp;amp;b=2", "https://x.test/?a=1&amp;b=2"),
        ("https://x.test/?a=1&#38;b=2", "https://x.test/?a=1&b=2"),
        ("https://x.test/?a=1&#x26;b=2", "https://x.test/?a=1&b=2"),
        ("https://x.test/?a=1&b=2", "https://x.test/?a=1&b=2"),
        ("https://x.test/?a=1&copy=2", "https://x.test/?a=1&copy=2"),
        ("  https://x.test/p  ", "https://x.test/p"),
        ("https://x.test/f?x[0]=1&y=%2F%25@z", "https://x.test/f?x[0]=1&y=%2F%25@z"),
        ("https://x.test/p?b=2&a=1#frag", "https://x.test/p?b=2&a=1#frag"),
        ("https://x.test/#/route", "https://x.test/#/route"),
        ("https://x.test/ü p", "https://x.test/%C3%BC%20p"),
        ("https://tübingen.de/", "https://xn--tbingen-n2a.de/"),
        ("//x.test/p", "https://x.test/p"),
        ("HTTPS://X.test/Path", "HTTPS://X.test/Path"),
    ],
)
def test_target_is_the_url_a_browser_follows(href: str, target: str) -> None:
    _, report = only_link(f'<a href="{href}">Go</a>')
    assert report.links[0].target == target
    assert report.links[0].tracked


def test_image_only_link_is_tracked_with_empty_text() -> None:
    _, report = only_link('<a href="https://example.com/"><img src="https://example.com/logo.png"></a>')
    assert report.links[0].tracked and report.links[0].text == ""


def test_links_in_comments_and_styles_are_not_links() -> None:
    html = (
        '<html><head><style>/* <a href="https://example.com/css">x</a> */</style></head><body>'
        '<!-- <a href="https://example.com/old">Old</a> -->'
        '<script>var s = \'<a href="https://example.com/js">x</a>\';</script>'
        '<a href="https://example.com/new">New</a></body></html>'
    )
    out, report = instrument_html(html)
    assert [link.target for link in report.links] == ["https://example.com/new"]
    assert '<a href="https://example.com/old">Old</a>' in out


def test_vml_button_is_tracked_like_its_a_twin() -> None:
    html = (
        '<div><!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="https://example.com/buy" '
        'arcsize="10%"><w:anchorlock/><center>Buy now</center></v:roundrect><![endif]-->'
        '<a href="https://example.com/buy" style="mso-hide:all">Buy now</a></div>'
    )
    out, report = instrument_html(html)
    assert [(link.tag, link.tracked, link.link) for link in report.links] == [("v:roundrect", True, 0), ("a", True, 0)]
    assert out.count("https://t.test/c/1/0?") == 2
    assert "<w:anchorlock/>" in out and "<![endif]-->" in out


def test_vml_button_follows_untracked_twin() -> None:
    html = (
        '<!--[if mso]><v:roundrect href="https://example.com/"><center>Go</center></v:roundrect><![endif]-->'
        '<a href="https://example.com/">www.example.com</a>'
    )
    _, report = instrument_html(html)
    assert {link.reason for link in report.links} == {SkipReason.VISIBLE_TEXT_IS_URL}


def test_same_target_shares_a_link_index() -> None:
    _, report = instrument_html(
        '<a href="https://a.test/">A</a><a href="https://b.test/">B</a><a href="https://a.test/">A again</a>'
    )
    assert [link.link for link in report.links] == [0, 1, 0]


def test_visible_url_that_differs_from_target_is_warned() -> None:
    _, report = only_link('<a href="https://evil.test/">www.bank.test</a>')
    assert any("differs" in w for w in report.warnings)


def test_clicks_disabled_keeps_every_link_and_adds_the_pixel() -> None:
    html = '<html><body><a href="https://example.com/">Read more</a></body></html>'
    out, report = instrument_html(html, Plan(clicks=False))
    assert report.links[0].reason is SkipReason.CLICKS_DISABLED
    assert PIXEL.sub("", out) == html


def test_opens_disabled_adds_no_pixel() -> None:
    out, report = instrument_html('<html><body><a href="https://example.com/">Go</a></body></html>', Plan(opens=False))
    assert "t.test/o/" not in out
    assert report.opens_tracked is False and report.opens_reason is SkipReason.OPENS_DISABLED


def test_utm_parameters_ride_in_the_token_and_existing_ones_win() -> None:
    html = '<a href="https://example.com/p?utm_source=mail#top">Go</a><a href="https://example.com/q">Q</a>'
    result = instrument_message(as_message(html.encode()), Plan(utm="utm_source=news&utm_medium=email"),
                                NumberedTracker())
    out = result.message.decode()
    destinations = [bytes.fromhex(h).decode() for h in re.findall(r"\?u=([0-9a-f]+)", out)]
    assert destinations == ["https://example.com/p?utm_source=mail&utm_medium=email#top",
                            "https://example.com/q?utm_source=news&utm_medium=email"]
    assert [link.target for link in result.report.links] == ["https://example.com/p?utm_source=mail#top",
                                                             "https://example.com/q"]
