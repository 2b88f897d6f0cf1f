"""What instrumentation changed, what it left alone, and why.

Every decision not to track is a `SkipReason`, so callers (the relay, the CLI,
the dashboard) can say honestly why a message or a link is not tracked instead
of guessing.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class SkipReason(enum.StrEnum):
    # Message or part level: why opens (or the whole part) are not tracked.
    PLAIN_TEXT = "opens not trackable: plain text"
    SIGNED = "not trackable: signed"
    OPENS_DISABLED = "open tracking disabled"
    ATTACHMENT = "HTML attachment, not a body part"
    ATTACHED_MESSAGE = "inside an attached message"
    UNKNOWN_CHARSET = "unknown charset"
    UNSUPPORTED_CHARSET = "charset is not ASCII-compatible"
    UNKNOWN_TRANSFER_ENCODING = "unknown Content-Transfer-Encoding"
    MALFORMED_MIME = "malformed MIME"
    MALFORMED_HEADERS = "malformed header block"
    TOO_LARGE = "HTML part too large"
    EMPTY = "HTML part has no body"
    UNTERMINATED = "HTML ends inside an unfinished comment or tag: no safe place for the pixel"
    INTERNAL_ERROR = "internal error"
    # Link level: why a link is not tracked.
    CLICKS_DISABLED = "click tracking disabled"
    VISIBLE_TEXT_IS_URL = "visible text is a URL"
    NOT_HTTP = "not an http(s) link"
    FRAGMENT_ONLY = "in-page anchor"
    RELATIVE = "relative or empty link"
    INVALID_URL = "no host in URL"
    TEMPLATE_PLACEHOLDER = "template placeholder, not a URL"
    NOTRACK_ATTRIBUTE = "marked data-notrack"
    HONEYPOT = "an earlier honeypot link"


class Notice(enum.StrEnum):
    """Kinds of warning a report can carry: the message is tracked, but someone should know this."""

    NO_HTML_PART = "no HTML part"
    GMAIL_CLIPPING = "HTML part over 100 KB: Gmail clips it, so the pixel is at the top"
    MAY_BE_CLIPPED = "message may be clipped by Gmail (over 95 KB)"
    VISIBLE_URL_DIFFERS = "visible URL differs from the link target"
    REENCODED_QP = "lines over 998 octets: part re-encoded as quoted-printable"
    LONG_LINES_KEPT = "the original part has lines over 998 octets"


@dataclass(slots=True)
class LinkReport:
    part: str
    """MIME path of the HTML part, e.g. "1.2" ("" for a single-part message)."""
    tag: str
    target: str
    """The URL a browser would follow (entities decoded once, non-ASCII percent-encoded)."""
    text: str
    """Visible text, whitespace collapsed ("" for a link around an image only)."""
    tracked: bool
    reason: SkipReason | None = None
    link: int | None = None
    """Index shared by every tracked occurrence of the same target in the message."""


@dataclass(slots=True)
class PartReport:
    path: str
    content_type: str
    charset: str | None
    transfer_encoding: str
    instrumented: bool
    reason: SkipReason | None = None
    detail: str = ""
    pixel: str | None = None
    """Where the pixel went: "before </body>", "end", "top", or None."""


@dataclass(slots=True)
class Report:
    opens_tracked: bool = False
    opens_reason: SkipReason | None = None
    changed: bool = False
    parts: list[PartReport] = field(default_factory=list)
    links: list[LinkReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    """Set only when the message came back unchanged because of a bug or bad input."""

    def warn(self, kind: Notice, detail: str = "") -> None:
        text = f"{kind.value}: {detail}" if detail else kind.value
        if text not in self.warnings:
            self.warnings.append(text)

    @property
    def tracked_links(self) -> list[LinkReport]:
        return [link for link in self.links if link.tracked]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tracked_links"] = len(self.tracked_links)
        return data
