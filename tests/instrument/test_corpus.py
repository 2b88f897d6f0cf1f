"""Every real email in ../shared/corpus survives instrumentation.

One test per file: bytes identical outside the rewritten hrefs and the one
pixel per HTML part, headers and other parts untouched, transfer encodings
kept, no line over 998 octets that was not already there, and instrumenting
twice gives the same bytes as once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailbeacon.instrument import Instrumented, Plan, Report, SkipReason, instrument_message
from tests.support import corpus
from tests.support.fidelity import check_html_fidelity, html_parts, leaves, long_lines
from tests.support.trackers import NumberedTracker


def _link(report: Report, text: str) -> object:
    return next(link for link in report.links if link.text == text)


def _reasons(report: Report) -> set[SkipReason | None]:
    return {link.reason for link in report.links}


# What the corpus README says each file is there to check, beyond the invariants.
EXPECT: dict[str, Callable[[Report], object]] = {
    "antwort-two-cols-simple.html": lambda r: _link(r, "www.acme-inc.com").reason is SkipReason.VISIBLE_TEXT_IS_URL,
    "sendwithus-goldstar-welcome.html": lambda r: (
        _link(r, "www.YourSiteName.com").reason is SkipReason.VISIBLE_TEXT_IS_URL
        and {SkipReason.NOT_HTTP, SkipReason.FRAGMENT_ONLY} <= _reasons(r)
        and not r.tracked_links
    ),
    "sendwithus-oxygen-welcome.html": lambda r: (
        {link.tag for link in r.links} == {"a", "v:roundrect"}
        and {link.reason for link in r.links if link.tag == "v:roundrect"} == {SkipReason.INVALID_URL}
    ),
    "sendwithus-narrative-survey.html": lambda r: any(link.tag == "v:rect" for link in r.links),
    "postmark-basic-full-receipt.html": lambda r: SkipReason.TEMPLATE_PLACEHOLDER in _reasons(r),
    "colorlib-28.html": lambda r: all("fonts.googleapis" not in link.target for link in r.links),
    "konsav-general.html": lambda r: r.opens_tracked and len(r.tracked_links) == 9,
    "mail-smime-signed-nested.eml": lambda r: not r.changed and r.opens_reason is SkipReason.SIGNED,
    "mail-dsn-multiple-status.eml": lambda r: not r.changed and r.opens_reason is SkipReason.PLAIN_TEXT,
    "mail-plain-basic.eml": lambda r: not r.changed and r.opens_reason is SkipReason.PLAIN_TEXT,
    "mail-japanese-iso-2022-jp.eml": lambda r: not r.changed and r.opens_reason is SkipReason.PLAIN_TEXT,
    "cpython-msg_15-same-boundary.eml": lambda r: not r.changed and r.opens_reason is SkipReason.MALFORMED_MIME,
    "enmime-multipart-wo-boundary.eml": lambda r: not r.changed and r.opens_reason is SkipReason.MALFORMED_MIME,
    "enmime-bad-final-boundary.eml": lambda r: not r.changed and r.opens_reason is SkipReason.PLAIN_TEXT,
    "enmime-unk-charset-html-only.eml": lambda r: r.opens_tracked,
    # A line of spaces before the first field (FirstHeaderLineIsContinuationDefect) is safe: issue #18.
    "flanker-mailgun-pic.eml": lambda r: r.opens_tracked,
    # QP declared on a multipart (InvalidMultipartContentTransferEncodingDefect): split at its boundary all the same.
    "spamscope-russian-related-qp-multipart.eml": lambda r: r.opens_tracked,
    "flanker-long-links.eml": lambda r: [(link.text[:7], link.tracked) for link in r.links]
    == [("http://", False), ("Very lo", True)],
    "django-mailbox-koi8r-attachments.eml": lambda r: _link(r, "http://career.hse.ru").reason is SkipReason.VISIBLE_TEXT_IS_URL
    and all("&amp;" not in link.target for link in r.links),
    "mail-newsletter-8bits-cte.eml": lambda r: _link(r, "www.PROVANTAGE.com").reason is SkipReason.VISIBLE_TEXT_IS_URL
    and len(r.tracked_links) > 60
    and [(link.tag, link.tracked) for link in r.links if link.tag == "area"] == [("area", True)],  # issue #18
    "spamscope-mailchimp-newsletter.eml": lambda r: r.opens_tracked and len(r.tracked_links) >= 11,
    "php-x-mac-cyrillic-html.eml": lambda r: r.opens_tracked and len(r.tracked_links) == 11,
    "php-iso-2022-jp-html.eml": lambda r: r.opens_tracked,
    "nodemailer-watch-html-related.eml": lambda r: [p.content_type for p in r.parts if p.pixel] == ["text/html"],
}


def _header_block(raw: bytes) -> bytes:
    return raw.split(b"\n\n", 1)[0] if b"\r\n\r\n" not in raw else raw.split(b"\r\n\r\n", 1)[0]


def assert_survives(name: str, raw: bytes) -> Instrumented:
    result = instrument_message(raw, Plan(), NumberedTracker())
    report = result.report
    if not report.changed:
        assert result.message == raw
    else:
        assert report.error is None
        reencoded = any("quoted-printable" in w for w in report.warnings)
        before, after = leaves(raw), leaves(result.message)
        assert [p.get_content_type() for p in before] == [p.get_content_type() for p in after]
        for old, new in zip(before, after, strict=True):
            old_headers = [(k, v) for k, v in old.items() if not (reencoded and k.lower() == "content-transfer-encoding")]
            new_headers = [(k, v) for k, v in new.items() if not (reencoded and k.lower() == "content-transfer-encoding")]
            assert old_headers == new_headers
            if old.get_content_type() != "text/html":
                assert old.get_payload() == new.get_payload()
        if not reencoded:
            assert _header_block(raw) == _header_block(result.message)
        with_pixel = [p for p in report.parts if p.pixel]
        targets: list[str] = []
        for old_html, new_html in zip(html_parts(raw), html_parts(result.message), strict=True):
            if old_html != new_html:
                targets += check_html_fidelity(old_html, new_html, pixels=1)
        assert len(with_pixel) == len(report.parts) - sum(1 for p in report.parts if not p.instrumented)
        assert targets == [link.target for link in report.tracked_links]
    assert long_lines(result.message) <= long_lines(raw), "a line over 998 octets was created"
    again = instrument_message(result.message, Plan(), NumberedTracker())
    assert again.message == result.message, "instrumenting twice differs from once"
    if name in EXPECT:
        assert EXPECT[name](report), report.to_json()
    return result


@pytest.mark.parametrize("path", corpus.params("html"))
def test_template_survives_instrumentation(path: Path) -> None:
    assert_survives(path.name, corpus.as_message(path.read_bytes()))


@pytest.mark.parametrize("path", corpus.params("mime"))
def test_message_survives_instrumentation(path: Path) -> None:
    assert_survives(path.name, path.read_bytes())
