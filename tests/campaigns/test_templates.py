"""Campaign templates: personalised per contact, escaped, sandboxed, checked at load, always with an unsubscribe link."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default
from pathlib import Path

import pytest

from mailbeacon.campaigns.templates import CampaignTemplate, Recipient, TemplateError
from mailbeacon.instrument import Plan, instrument_message
from tests.support.trackers import NumberedTracker

UNSUBSCRIBE = "https://t.example/u/AwBJWCglgAMDKZa1ympV1m9ToWHW"
PAGE = """<!doctype html>
<html><head><title>News</title></head>
<body>
<p>Hi {{ contact.first_name | default("there") }},</p>
<p><a href="https://shop.example/sale?c={{ contact.city | urlencode }}">Sale in {{ contact.city }}</a></p>
</body>
</html>
"""


def render(html: str, text: str | None = None, subject: str = "News", **fields: str) -> tuple[str, str, str | None]:
    template = CampaignTemplate.from_strings(html, text, subject=subject)
    rendered = template.render(Recipient("ann@example.com", fields), UNSUBSCRIBE)
    return rendered.subject, rendered.html, rendered.text


def test_fields_personalise_and_default_covers_a_missing_one() -> None:
    _, html, _ = render(PAGE, first_name="Ann", city="Oslo")
    assert "<p>Hi Ann,</p>" in html and 'href="https://shop.example/sale?c=Oslo">Sale in Oslo</a>' in html
    _, html, _ = render(PAGE)
    assert "<p>Hi there,</p>" in html and "Sale in </a>" in html  # an undefined field renders empty


def test_contact_fields_are_escaped_in_html_and_kept_plain_in_text() -> None:
    hostile = '<script>alert("x")</script> & Co'
    subject, html, text = render(
        "<p>{{ contact.first_name }}</p>", "Hi {{ contact.first_name }}", subject="For {{ contact.first_name }}",
        first_name=hostile,
    )
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    assert text is not None and text.startswith(f"Hi {hostile}")
    assert subject == f"For {hostile}"


def test_a_field_cannot_add_a_header_through_the_subject() -> None:
    subject, _, _ = render("<p>x</p>", subject="Hello {{ contact.name }}", name="Ann\r\nBcc: everyone@example.com")
    assert subject == "Hello Ann Bcc: everyone@example.com"  # one line: no header was added


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ ''.__class__.__mro__ }}", "line 2: '__mro__' is not allowed"),
        ("{{ contact.__class__.__init__.__globals__ }}", "line 2: '__globals__' is not allowed"),
        ("{{ contact['_values'] }}", "line 2: '_values' is not allowed"),
        ("{{ cycler.__init__.__globals__.os }}", "is not allowed"),
        ("{% include 'other.html' %}", "line 2: templates cannot include or import"),
        ("{{ conatct.first_name }}", "line 2: unknown name 'conatct'"),
        ("{% if contact.vip %}VIP", "line 2: Unexpected end of template"),
    ],
    ids=["mro", "globals", "private-item", "cycler-globals", "include", "typo", "unclosed-if"],
)
def test_templates_that_reach_internals_or_are_broken_fail_at_load_with_the_line(source: str, error: str) -> None:
    with pytest.raises(TemplateError) as caught:
        CampaignTemplate.from_strings(f"<p>\n{source}</p>", subject="News")
    assert error in str(caught.value) and str(caught.value).startswith("the HTML template, line")


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ ('' | attr('__class__')) }}", "access to attribute '__class__' of a 'str' object is not allowed"),
        ("{{ 'x' * 10000000 }}", "makes more than 100000 items"),
        ("{{ 1 // 0 }}", "ZeroDivisionError"),
    ],
    ids=["attr-filter", "huge-repeat", "zero-division"],
)
def test_what_only_shows_when_rendering_fails_safely_with_a_clear_error(source: str, error: str) -> None:
    template = CampaignTemplate.from_strings(f"<p>\n{source}</p>", subject="News")
    with pytest.raises(TemplateError) as caught:
        template.render(Recipient("ann@example.com"), UNSUBSCRIBE)
    message = str(caught.value)
    assert message.startswith("the HTML template, line 2: cannot render for ann@example.com") and error in message


def test_a_syntax_error_in_a_file_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "mail.html").write_text("<p>one</p>\n<p>two</p>\n<p>{{ contact.first_name </p>\n")
    with pytest.raises(TemplateError, match=r"mail\.html, line 3: "):
        CampaignTemplate.load(tmp_path / "mail.html", subject="News")
    with pytest.raises(TemplateError, match="no such file"):
        CampaignTemplate.load(tmp_path / "missing.html", subject="News")
    (tmp_path / "good.html").write_text("<p>fine</p>\n")
    with pytest.raises(TemplateError, match="the subject, line 1: "):
        CampaignTemplate.load(tmp_path / "good.html", subject="{{ contact.first_name")


def test_a_footer_with_the_unsubscribe_link_is_added_when_the_template_has_none() -> None:
    _, html, text = render(PAGE, "Hi {{ contact.first_name }}\n")
    footer = f'<a href="{UNSUBSCRIBE}" data-notrack style="color:#666666">Unsubscribe</a>'
    assert footer in html and html.index(footer) < html.index("</body>")
    assert text == f"Hi \n\n---\nUnsubscribe: {UNSUBSCRIBE}\n"
    _, html, _ = render("<p>no body tag</p>")
    assert html.startswith("<p>no body tag</p><p ") and footer in html


def test_the_templates_own_unsubscribe_link_is_kept_and_marked_not_to_track() -> None:
    own = '<body><a href="{{ unsubscribe_url }}">Leave</a> <a href="https://shop.example/">Shop</a></body>'
    _, html, text = render(own, "Leave: {{ unsubscribe_url }}")
    assert html == f'<body><a data-notrack href="{UNSUBSCRIBE}">Leave</a> <a href="https://shop.example/">Shop</a></body>'
    assert text == f"Leave: {UNSUBSCRIBE}"  # no second link in a footer


def test_click_tracking_leaves_the_unsubscribe_link_untouched() -> None:
    for source in (PAGE, '<body><p><a href="{{ unsubscribe_url }}">Leave</a></p>' + PAGE.split("<body>")[1]):
        _, html, _ = render(source, city="Oslo")
        message = EmailMessage(policy=SMTP)
        message["Subject"] = "News"
        message.set_content(html, subtype="html")
        raw = instrument_message(message.as_bytes(), Plan(), NumberedTracker()).message
        tracked = message_from_bytes(raw, policy=default).get_content()
        assert f'href="{UNSUBSCRIBE}"' in tracked  # as rendered, not wrapped in a click URL
        assert 'href="https://t.test/c/1/0?u=' in tracked  # the other link is tracked
        assert "https://shop.example/sale" not in tracked
