"""MIME handling: encodings and charsets survive, and bad input comes back unchanged with a reason."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy

from mailbeacon.instrument import Plan, SkipReason, instrument_message
from tests.support.fidelity import PIXEL, check_html_fidelity, html_parts
from tests.support.trackers import NumberedTracker

HTML = b'<html><body><p>Hello</p><a href="https://example.com/?a=1&amp;b=2">Read more</a></body></html>\n'


def message(body: bytes, headers: str, eol: bytes = b"\r\n") -> bytes:
    head = "From: a@example.com\nTo: b@example.com\nSubject: t\nMIME-Version: 1.0\n" + headers
    return head.replace("\n", eol.decode()).encode() + eol + eol + body


def test_quoted_printable_stays_quoted_printable() -> None:
    html = b'<html><body><p style="x">' + "caf\u00e9 ".encode() * 40 + b'</p><a href="https://example.com/">Go</a></body></html>'
    raw = message(binascii.b2a_qp(html).replace(b"\n", b"\r\n"), "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable")
    out = instrument_message(raw, Plan(), NumberedTracker()).message
    head, body = out.split(b"\r\n\r\n", 1)
    assert head == raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert b"\n" not in body.replace(b"\r\n", b"")
    check_html_fidelity(html, binascii.a2b_qp(body))


def test_base64_stays_base64_with_its_line_length() -> None:
    encoded = base64.encodebytes(HTML * 20).replace(b"\n", b"\r\n")  # 76-char lines
    short = b"\r\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
    for body in (encoded, short):
        raw = message(body, "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64")
        out = instrument_message(raw, Plan(), NumberedTracker()).message
        new_body = out.split(b"\r\n\r\n", 1)[1]
        width = len(body.split(b"\r\n")[0])
        assert {len(line) for line in new_body.split(b"\r\n")[:-2]} == {width}
        check_html_fidelity(HTML * 20, base64.b64decode(new_body))


def test_charset_of_query_is_the_documents_as_browsers_do() -> None:
    html = '<a href="https://example.com/s?q=d\u00e9j\u00e0">Search</a>'.encode("windows-1252")
    raw = message(html, "Content-Type: text/html; charset=windows-1252\nContent-Transfer-Encoding: 8bit")
    report = instrument_message(raw, Plan(), NumberedTracker()).report
    assert report.links[0].target == "https://example.com/s?q=d%E9j%E0"


def test_iso_2022_jp_double_byte_runs_are_not_markup() -> None:
    # "\u5c11" is 0x3E 0x2F inside a JIS run: the bytes of '>/' that must not end a tag.
    text = '<html><body><a href="https://example.com/">\u5c11\u3057</a></body></html>'
    html = text.encode("iso-2022-jp")
    assert b">/" in html.split(b"\x1b$B", 1)[1]
    raw = message(html, "Content-Type: text/html; charset=iso-2022-jp\nContent-Transfer-Encoding: 7bit")
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.report.links[0].tracked and result.report.links[0].text == "\u5c11\u3057"
    check_html_fidelity(html, result.message.split(b"\r\n\r\n", 1)[1])


def test_lf_message_keeps_lf_line_endings() -> None:
    raw = message(binascii.b2a_qp(HTML * 30), "Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable", b"\n")
    out = instrument_message(raw, Plan(), NumberedTracker()).message
    assert b"\r" not in out


def test_long_8bit_lines_become_quoted_printable_and_the_header_says_so() -> None:
    html = b"<html><body><p>" + b"x" * 990 + b'</p><a href="https://e.test/">Go</a></body></html>'
    raw = message(html, "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit")
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert max(len(line) for line in result.message.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(result.message, policy=email.policy.compat32)
    assert parsed["Content-Transfer-Encoding"].strip() == "quoted-printable"
    check_html_fidelity(html, parsed.get_payload(decode=True))
    assert any("quoted-printable" in w for w in result.report.warnings)


def test_missing_transfer_encoding_header_is_added_when_reencoding() -> None:
    html = b"<html><body>" + b"y" * 1200 + b"</body></html>"
    raw = message(html, "Content-Type: text/html; charset=us-ascii")
    parsed = email.message_from_bytes(instrument_message(raw, Plan(), NumberedTracker()).message)
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    check_html_fidelity(html, parsed.get_payload(decode=True))


def _multipart(*parts: bytes, kind: str = "mixed", boundary: str = "b1") -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts) + b"--" + boundary.encode() + b"--\r\n"
    return message(body, f'Content-Type: multipart/{kind}; boundary="{boundary}"')


def test_attachments_attached_messages_and_text_parts_are_untouched() -> None:
    text = b"Content-Type: text/plain\r\n\r\nSee https://example.com/"
    html = b"Content-Type: text/html\r\n\r\n" + HTML
    attached_html = b"Content-Type: text/html\r\nContent-Disposition: attachment; filename=a.html\r\n\r\n" + HTML
    forwarded = b"Content-Type: message/rfc822\r\n\r\nContent-Type: text/html\r\n\r\n" + HTML
    raw = _multipart(text, html, attached_html, forwarded)
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.message.count(b"t.test/o/") == 1
    assert result.message.count(b"t.test/c/") == 1
    assert attached_html in result.message and forwarded in result.message and text in result.message
    assert [p.reason for p in result.report.parts] == [None, SkipReason.ATTACHMENT]


def test_every_html_body_part_gets_exactly_one_pixel() -> None:
    html = b"Content-Type: text/html\r\n\r\n" + HTML
    inner = b'Content-Type: multipart/related; boundary="b2"\r\n\r\n--b2\r\n' + html + b"\r\n--b2--"
    raw = _multipart(html, inner)
    out = instrument_message(raw, Plan(), NumberedTracker()).message
    decoded = html_parts(out)
    assert [len(PIXEL.findall(part.decode())) for part in decoded] == [1, 1]


def test_signed_and_encrypted_messages_are_not_touched() -> None:
    html = b"Content-Type: text/html\r\n\r\n" + HTML
    for kind in ("signed", "encrypted"):
        raw = _multipart(html, b"Content-Type: application/pkcs7-signature\r\n\r\nMIIB", kind=kind)
        result = instrument_message(raw, Plan(), NumberedTracker())
        assert result.message == raw
        assert result.report.opens_reason is SkipReason.SIGNED
    raw = message(b"MIIBdata", "Content-Type: application/pkcs7-mime; smime-type=enveloped-data")
    assert instrument_message(raw, Plan(), NumberedTracker()).report.opens_reason is SkipReason.SIGNED


def test_plain_text_message_is_unchanged_and_says_why() -> None:
    raw = message(b"Hello https://example.com/", "Content-Type: text/plain")
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.message == raw
    assert not result.report.opens_tracked and result.report.opens_reason is SkipReason.PLAIN_TEXT
    assert result.report.opens_reason.value == "opens not trackable: plain text"


def test_bad_input_comes_back_unchanged_with_a_reason() -> None:
    cases = {
        "unknown charset": message(HTML, "Content-Type: text/html; charset=fakescii-7"),
        "not ASCII-compatible": message(HTML.decode().encode("utf-16"), "Content-Type: text/html; charset=utf-16"),
        "no boundary": message(HTML, "Content-Type: multipart/mixed"),
        "bad transfer encoding": message(HTML, "Content-Type: text/html\nContent-Transfer-Encoding: x-uuencode"),
        "garbage": b"\x00\xff<<<>>>--\r\n\r\n\r\n",
        "empty": b"",
    }
    for name, raw in cases.items():
        result = instrument_message(raw, Plan(), NumberedTracker())
        assert result.message == raw, name
        assert not result.report.opens_tracked, name
        assert result.report.opens_reason is not None, name


def test_a_50_mb_part_is_passed_on_unchanged() -> None:
    raw = message(b"<html><body>" + b"a" * (50 * 1024 * 1024) + b"</body></html>", "Content-Type: text/html")
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.message is raw
    assert result.report.parts[0].reason is SkipReason.TOO_LARGE


def test_garbage_html_never_crashes() -> None:
    for html in (b"<a href=", b"<a href='x", b"<!--", b"<!--[if mso]>", b"<a", b"</body", b"<style>", b"<a href=\"https://e.test/\">"):
        raw = message(html, "Content-Type: text/html")
        result = instrument_message(raw, Plan(), NumberedTracker())
        assert result.report.error is None, html
