"""A tolerant scanner that finds what tracking edits, as offsets into the original text.

It is not an HTML parser and builds no tree: it jumps from one interesting
`<` to the next (links, VML buttons, images, <body>), skips comments and raw
text (<style>, <script>) the way browsers do, and reads MSO conditional
comments (`<!--[if mso]>...<![endif]-->`) as markup, because Outlook renders
them. Callers splice new values into the reported spans; everything else
stays byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SCAN = re.compile(
    r"<(!--|/?(?:a|img|body|html|head|style|script|title|textarea|xmp|v:[a-z]+))(?![a-z0-9:_-])",
    re.I,
)
_ATTR = re.compile(r"""[\s/]*(?:(>)|([^\s/>][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?)""")
_COMMENT_END = re.compile(r"--!?>")
_A_END = re.compile(r"</a\s*>|<a[\s/>]", re.I)
_RAW_TEXT = {name: re.compile(rf"</{name}(?![a-z0-9])", re.I) for name in ("style", "script", "title", "textarea", "xmp")}
LINK_TAGS = ("a",)


@dataclass(slots=True)
class Attribute:
    name: str
    value: str
    """Raw value, quotes removed, entities not decoded."""
    start: int
    """Span of the value inside the quotes (or of the bare value)."""
    end: int
    quote: str


@dataclass(slots=True)
class Tag:
    name: str
    start: int
    end: int
    attrs: dict[str, Attribute] = field(default_factory=dict)
    inner_end: int = -1
    """For links and VML shapes: where their content ends (before the end tag)."""

    def inner(self, text: str) -> str:
        return text[self.end : self.inner_end] if self.inner_end >= self.end else ""


@dataclass(slots=True)
class Scan:
    links: list[Tag] = field(default_factory=list)
    images: list[Tag] = field(default_factory=list)
    body_open_end: int | None = None
    body_close: int | None = None
    html_close: int | None = None
    head_close: int | None = None


def _read_tag(text: str, name: str, start: int, pos: int) -> Tag | None:
    tag = Tag(name, start, len(text))
    while True:
        m = _ATTR.match(text, pos)
        if m is None or m.end() == pos:
            return None  # unterminated tag: nothing after it is markup we may edit
        pos = m.end()
        if m.group(1):
            tag.end = pos
            return tag
        attr = m.group(2).lower()
        raw = m.group(3)
        if attr in tag.attrs:
            continue  # HTML5: the first of duplicate attributes wins
        if raw is None:
            tag.attrs[attr] = Attribute(attr, "", pos, pos, "")
        elif raw[0] in "\"'":
            tag.attrs[attr] = Attribute(attr, raw[1:-1], m.start(3) + 1, m.end(3) - 1, raw[0])
        else:
            tag.attrs[attr] = Attribute(attr, raw, m.start(3), m.end(3), "")


def scan_html(text: str) -> Scan:
    found = Scan()
    pos = 0
    n = len(text)
    while (m := _SCAN.search(text, pos)) is not None:
        token = m.group(1).lower()
        if token == "!--":
            pos = _skip_comment(text, m.end())
            continue
        closing = token.startswith("/")
        name = token.lstrip("/")
        if closing:
            if name == "body":
                found.body_close = m.start()
            elif name == "html":
                found.html_close = m.start()
            elif name == "head" and found.head_close is None:
                found.head_close = m.start()
            pos = m.end()
            continue
        tag = _read_tag(text, name, m.start(), m.end())
        if tag is None:
            break
        pos = tag.end
        if name in _RAW_TEXT:
            end = _RAW_TEXT[name].search(text, pos)
            pos = end.start() if end else n
        elif name == "a" or (name.startswith("v:") and "href" in tag.attrs):
            closer = _A_END if name == "a" else re.compile(rf"</{re.escape(name)}\s*>", re.I)
            end = closer.search(text, pos)
            tag.inner_end = end.start() if end else n
            found.links.append(tag)
        elif name == "img":
            found.images.append(tag)
        elif name == "body" and found.body_open_end is None:
            found.body_open_end = tag.end
    return found


def _skip_comment(text: str, pos: int) -> int:
    if text.startswith("[if", pos) or text.startswith("[ if", pos):
        # MSO conditional comment: its content is markup for Outlook; keep scanning inside.
        end = text.find("]>", pos)
        return end + 2 if end >= 0 else len(text)
    if text.startswith(">", pos):
        return pos + 1
    if text.startswith("->", pos):
        return pos + 2
    end = _COMMENT_END.search(text, pos)
    return end.end() if end else len(text)


_TAGS = re.compile(r"<!--.*?(?:-->|$)|<[^>]*>?", re.S)


def strip_tags(fragment: str) -> str:
    return _TAGS.sub("", fragment)


def has_image(fragment: str) -> bool:
    return re.search(r"<img[\s/>]", fragment, re.I) is not None
