"""Independent checks of the promise "outside the hrefs and the pixel, nothing changed".

They use Python's email package (not our MIME walker) to decode parts, and
plain string matching (not our HTML scanner) to compare, so a bug in the
instrumenter cannot hide behind the same bug in its test.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from email.message import Message

from tests.support.trackers import BASE

PIXEL = re.compile(
    re.escape('<img src="' + BASE + "/o/")
    + r'\d+\.gif" width="1" height="1" alt="" border="0" style="[^"]*"(?: />|>)'
)
CLICK = re.compile(re.escape(BASE) + r"/c/\d+/\d+\?u=([0-9a-f]*)")


def leaves(raw: bytes) -> list[Message]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [part for part in msg.walk() if not part.is_multipart()]


def html_parts(raw: bytes) -> list[bytes]:
    return [
        part.get_payload(decode=True) or b""
        for part in leaves(raw)
        if part.get_content_type() == "text/html" and part.get_content_disposition() != "attachment"
    ]


def check_html_fidelity(before: bytes, after: bytes, pixels: int = 1) -> list[str]:
    """Assert `after` is `before` with href values replaced and `pixels` pixels added.

    Returns the targets carried by the tracked links, in order.
    """
    text = after.decode("latin-1")
    found = PIXEL.findall(text)
    assert len(found) == pixels, f"expected {pixels} pixel(s), found {len(found)}"
    text = PIXEL.sub("", text)
    targets = [bytes.fromhex(h).decode() for h in CLICK.findall(text)]
    segments = CLICK.split(text)[::2]
    # Each tracked URL replaced exactly one href value: match the original with a hole there.
    # An unquoted value gets quotes when it is wrapped, so those two quotes are optional.
    pattern = ""
    for i, seg in enumerate(segments):
        head, tail = seg, ""
        if i > 0 and head.startswith('"'):
            pattern += '"?'
            head = head[1:]
        if i < len(segments) - 1 and head.endswith('"'):
            head, tail = head[:-1], '"?'
        pattern += re.escape(head) + tail + ("(.*?)" if i < len(segments) - 1 else "")
    original = before.decode("latin-1")
    m = re.fullmatch(pattern, original, re.S)
    assert m is not None, "bytes changed outside href values and the pixel"
    for raw_value, target in zip(m.groups(), targets, strict=True):
        assert '"' not in raw_value and ">" not in raw_value, f"replaced more than an href: {raw_value!r}"
        assert html.unescape(raw_value).strip() != "", "an empty href was tracked"
    return targets


def long_lines(raw: bytes) -> set[bytes]:
    return {line for line in raw.split(b"\n") if len(line.rstrip(b"\r")) > 998}
