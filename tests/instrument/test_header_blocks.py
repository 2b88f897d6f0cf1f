"""Header blocks readers split differently pass through unchanged, with the reason (issue #18, item 3).

Python's email package is the reference: where it reports a defect in how a header block
is built (MissingHeaderBodySeparatorDefect, FirstHeaderLineIsContinuationDefect,
MisplacedEnvelopeHeaderDefect, a field with no name) or starts the body elsewhere than
we would, the message comes back byte for byte. The shapes shown safe are instrumented:
lines of spaces before the first field, defects in field values (which never decide
where a part's body is), and a transfer encoding declared on a multipart.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
from email.message import Message

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from mailbeacon.instrument import Plan, SkipReason, header_end, instrument_message
from tests.support.fidelity import check_html_fidelity, html_parts
from tests.support.trackers import NumberedTracker

HTML = b'<html><body><p>Hi</p>\r\n\r\n<a href="https://shop.test/">Shop</a></body></html>\r\n'
CT = b"Content-Type: text/html; charset=utf-8"
STRUCTURAL = (
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
    email.errors.MisplacedEnvelopeHeaderDefect,
)


def block_defects(raw: bytes) -> list[email.errors.MessageDefect]:
    """Defects Python's parser reports in how the header blocks of `raw` (and of its parts) are built."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    found: list[email.errors.MessageDefect] = []
    for part in message.walk():
        for defect in part.defects:
            nameless = isinstance(defect, email.errors.InvalidHeaderDefect) and "header name" in str(defect)
            if isinstance(defect, STRUCTURAL) or nameless:
                found.append(defect)
    return found


def single(*lines: bytes, separator: bytes = b"\r\n", body: bytes = HTML) -> bytes:
    return b"".join(line + b"\r\n" for line in lines) + separator + body


MULTIPART_HEAD = (b"From: a@shop.test", b"MIME-Version: 1.0", b'Content-Type: multipart/alternative; boundary="b"')
BROKEN: dict[str, bytes] = {
    # The case: the body follows the fields with no blank line; a blank line comes later, in the HTML.
    "no blank line before the body": single(b"From: a@shop.test", CT, separator=b""),
    "no blank line anywhere": single(b"From: a@shop.test", CT, separator=b"", body=b"<p>Hi <a href='https://shop.test/'>x</a>"),
    "a line that is not a field": single(b"From: a@shop.test", b"Thanks for your order", CT),
    "a space before the colon": single(b"From: a@shop.test", b"Subject : spaced", CT),
    "a field hidden by a leading space": single(b" Content-Type: text/plain", CT),
    "an envelope line among the fields": single(b"From: a@shop.test", b"From someone@shop.test Mon Jan  1 00:00:00 2024", CT),
    "an envelope line last, read as the body's first": single(CT, b"From someone@shop.test"),
    "a field without a name": single(b"From: a@shop.test", b": no name", CT),
    "a bare CR inside a field": single(b"From: a@shop.test", b"Subject: one\rtwo", CT),
    "8-bit in a field name": single(b"From: a@shop.test", b"Subj\xe9ct: caf\xe9", CT),
    "a part whose fields run into its body": b"\r\n".join(
        [*MULTIPART_HEAD, b"", b"--b", b"Content-Type: text/plain", b"", b"Hi", b"--b", CT, HTML, b"--b--", b""]
    ),
}


@pytest.mark.parametrize("raw", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_header_block_passes_unchanged_with_the_reason(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    reads_otherwise = block_defects(raw) or python_body(message) != raw[header_end(raw) :]
    assert reads_otherwise, "Python's email package reads this block as we do: the case is not what it claims"
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.message == raw
    assert not result.report.changed and not result.report.opens_tracked
    assert result.report.opens_reason is SkipReason.MALFORMED_HEADERS
    assert result.report.error is not None and "header line" in result.report.error


SAFE: dict[str, bytes] = {
    # Corpus flanker-mailgun-pic opens with such a line: a reader skips it, or ends an empty header
    # block there and shows the whole message as text whether it is tracked or not.
    "lines of spaces before the first field": b" " * 255 + b"\n\t\r\n" + single(b"From: a@shop.test", CT),
    "an mbox envelope line first": single(b"From a@shop.test Mon Jan  1 00:00:00 2024", b"From: a@shop.test", CT),
    "folded fields and a line of spaces inside one": single(b"From: a@shop.test", b"Subject: one", b"  two", b"   ", CT),
    # Defects in values Python reports (policy.default), in fields that never say where a body is.
    "an obsolete date and a non-ASCII local part": single(
        b"From: j\xc3\xb6rg@shop.test", b"Date: Mon, 1 Jan 24 00:00 GMT", b"Message-ID: <no-right-side>", CT
    ),
    "an encoded word in a quoted parameter": single(
        b'Content-Type: text/html; charset=utf-8; name="=?utf-8?q?caf=C3=A9?=.html"'
    ),
}


@pytest.mark.parametrize("raw", SAFE.values(), ids=SAFE.keys())
def test_shapes_shown_safe_are_instrumented(raw: bytes) -> None:
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.report.opens_tracked and result.report.error is None
    assert raw[: header_end(raw)] == result.message[: header_end(result.message)], "the header block changed"
    (before,), (after,) = html_parts(raw), html_parts(result.message)
    assert check_html_fidelity(before, after) == ["https://shop.test/"]


def test_a_transfer_encoding_declared_on_a_multipart_is_read_past() -> None:
    # RFC 2045 §6.4 allows a multipart no encoding but 7bit, 8bit or binary; readers, Python's
    # included (InvalidMultipartContentTransferEncodingDefect), split it at its boundary all the
    # same, as corpus spamscope-russian-related-qp-multipart shows: the parts are ours to edit.
    raw = b"\r\n".join(
        [*MULTIPART_HEAD, b"Content-Transfer-Encoding: quoted-printable", b"", b"--b", CT, b"", HTML, b"--b--", b""]
    )
    defects = email.message_from_bytes(raw, policy=email.policy.compat32).defects
    assert any(isinstance(d, email.errors.InvalidMultipartContentTransferEncodingDefect) for d in defects)
    result = instrument_message(raw, Plan(), NumberedTracker())
    assert result.report.opens_tracked
    assert check_html_fidelity(html_parts(raw)[0], html_parts(result.message)[0]) == ["https://shop.test/"]


# --- generated header blocks: we skip exactly where Python's email package reads them otherwise --

LINES = st.sampled_from(
    [
        b"From: a@shop.test", b"Subject: hello", b"X-Tag: 1", b"Subject:", CT, CT,  # fields
        b"  folded", b"\tfolded", b"   ", b"\t",  # continuations, lines of spaces
        b"Thanks for your order", b"Subject : spaced", b": nameless", b"From someone",  # not fields
        b"Subj\xe9ct: x", b"<html>", b"Subject: one\rtwo", b"",  # 8-bit name, markup, bare CR, empty
    ]
)
EOLS = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r"])


def python_body(message: Message) -> bytes:
    payload = message.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


@settings(deadline=None, database=None, max_examples=400)
@given(lines=st.lists(st.tuples(LINES, EOLS), min_size=1, max_size=8), separator=st.sampled_from([b"\r\n", b"\n", b""]))
@example(lines=[(b"   ", b"\n"), (CT, b"\r\n")], separator=b"\r\n")
@example(lines=[(b"From: a@shop.test", b"\r\n"), (b"X-Tag: 1", b"\r")], separator=b"\r\n")
def test_we_skip_a_header_block_exactly_where_python_reads_it_otherwise(
    lines: list[tuple[bytes, bytes]], separator: bytes
) -> None:
    raw = b"".join(line + eol for line, eol in lines) + separator + HTML
    note(repr(raw[:300]))
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    defects = [d for d in block_defects(raw) if not (isinstance(d, email.errors.FirstHeaderLineIsContinuationDefect) and not d.line.strip())]
    agrees = not defects and python_body(message) == raw[header_end(raw) :]
    result = instrument_message(raw, Plan(), NumberedTracker())
    skipped = result.report.opens_reason is SkipReason.MALFORMED_HEADERS
    if skipped:
        assert result.message == raw
    assert skipped == (not agrees), (defects, python_body(message)[:60], result.report.to_json())
