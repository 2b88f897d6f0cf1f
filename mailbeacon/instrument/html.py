"""A tolerant scanner that finds what tracking edits, as offsets into the original text.

It is not an HTML parser and builds no tree: it jumps from one interesting
`<` to the next (links, image-map areas, VML buttons, images, <body>), skips comments and raw
text (<style>, <script>) the way browsers do, and reads MSO conditional
comments (`<!--[if mso]>...<![endif]-->`) as markup, because Outlook renders
them. Callers splice new values into the reported spans; everything else
stays byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

def _nocase(word: str) -> str:
    """`body` -> `[bB][oO][dD][yY]`: re.I would cost the scanner its fast search for '<'."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_NAMES = ("img", "body", "html", "head", "style", "script", "title", "textarea", "xmp")
_SCAN = re.compile(
    r"<(!--|!\[endif\]|(?:/(?:"
    + "|".join(_nocase(n) for n in ("body", "html", "head"))
    + r")|[aA](?:[rR][eE][aA])?|"  # <a> and <area> in one branch: one more costs every other tag a try
    + "|".join(_nocase(n) for n in _NAMES)
    + r"|[vV]:[a-zA-Z]+)(?![a-zA-Z0-9:_-]))"
)
# A start tag as HTML5 tokenizes it: attribute names (which may start with '=' and
# contain quotes), each optionally followed by '=' and a value; a quote opens a value
# only after '='. Possessive quantifiers keep an unterminated tag from costing
# exponential backtracking.
_TAG_REST = re.compile(
    r"""(?:\s++|/|[^\s/>][^\s/>=]*+(?:\s*+=\s*+(?>"[^"]*+"|'[^']*+'|[^\s>]*+))?)*+>"""
)
_ATTR = re.compile(r"""([^\s/>="']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
WANTED = frozenset({"href", "src", "data-notrack"})
"""The only attributes tracking reads; the others are skipped, never parsed into objects."""
_COMMENT_END = re.compile(r"--!?>")
_A_END = re.compile(r"</[aA]\s*>|<[aA][\s/>]")
_RAW_TEXT = {name: re.compile(rf"</{_nocase(name)}(?![a-zA-Z0-9])") for name in ("style", "script", "title", "textarea", "xmp")}
_closers: dict[str, re.Pattern[str]] = {}


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
    html_open_end: int | None = None
    body_close: int | None = None
    html_close: int | None = None
    head_close: int | None = None
    unterminated: bool = False
    """The text ends inside a comment, a tag or <style>: its end is no place for markup."""


def _read_tag(text: str, name: str, start: int, pos: int) -> Tag | None:
    gt = text.find(">", pos)
    if gt < 0:
        return None  # unterminated tag: nothing after it is markup we may edit
    segment = text[pos:gt]
    # Fast path for the common tag: values in double quotes only. Python's re
    # costs ~30 ns a character on long style attributes; str.find does not.
    if "'" not in segment and segment.count('"') % 2 == 0:
        tag = Tag(name, start, gt + 1)
        if _quick_attrs(segment, pos, tag):
            return tag
    return _parse_tag(text, name, start, pos)


_NAME_END = frozenset(" \t\n\r\f/=")
_BEFORE_NAME = frozenset(' \t\n\r\f/"')


def _quick_attrs(segment: str, offset: int, tag: Tag) -> bool:
    """Read the wanted attributes of a tag whose values are all double-quoted; False if unsure."""
    lower = segment.lower()
    n = len(segment)
    for attr in WANTED:
        i = lower.find(attr)
        while i >= 0:
            j = i + len(attr)
            if (i == 0 or lower[i - 1] in _BEFORE_NAME) and (j == n or lower[j] in _NAME_END):
                if segment.count('"', 0, i) % 2 == 0:
                    break  # outside any quoted value
            i = lower.find(attr, i + 1)
        if i < 0:
            continue
        if lower.find(attr, j) >= 0:
            return False  # a second occurrence: let the full parser apply "first wins"
        while j < n and segment[j] in " \t\n\r\f":
            j += 1
        if j == n or segment[j] != "=":
            tag.attrs[attr] = Attribute(attr, "", offset + i + len(attr), offset + i + len(attr), "")
            continue
        j += 1
        while j < n and segment[j] in " \t\n\r\f":
            j += 1
        if j == n or segment[j] != '"':
            return False  # unquoted value
        close = segment.find('"', j + 1)
        tag.attrs[attr] = Attribute(attr, segment[j + 1 : close], offset + j + 1, offset + close, '"')
    return True


def _parse_tag(text: str, name: str, start: int, pos: int, wanted: frozenset[str] = WANTED) -> Tag | None:
    end = _TAG_REST.match(text, pos)
    if end is None:
        return None
    tag = Tag(name, start, end.end())
    for m in _ATTR.finditer(text, pos, end.end() - 1):
        attr = m.group(1).lower()
        if attr not in wanted or attr in tag.attrs:
            continue  # HTML5: the first of duplicate attributes wins
        raw = m.group(2)
        if raw is None:
            tag.attrs[attr] = Attribute(attr, "", m.end(), m.end(), "")
        elif raw[:1] in ("'", '"') and len(raw) > 1 and raw[-1] == raw[0]:
            tag.attrs[attr] = Attribute(attr, raw[1:-1], m.start(2) + 1, m.end(2) - 1, raw[0])
        else:
            tag.attrs[attr] = Attribute(attr, raw, m.start(2), m.end(2), "")
    return tag


def scan_html(text: str) -> Scan:
    found = Scan()
    pos = 0
    n = len(text)
    conditional = False  # inside <!--[if mso]> ... <![endif]-->: Outlook's markup only
    while (m := _SCAN.search(text, pos)) is not None:
        enclosing = _enclosing_tag_end(text, m.start())
        if enclosing:
            pos = enclosing  # markup inside another tag's attribute value is text
            continue
        token = m.group(1).lower()
        if token == "!--":
            pos = _skip_comment(text, m.end())
            # <!--[if mso]> hides what follows from everyone but Outlook; <!--[if !mso]><!--> does not.
            if text.startswith(("[if", "[ if"), m.end()) and not text.startswith("<!--", pos):
                conditional = True
            if pos < 0:
                found.unterminated = True
                break
            continue
        if token == "![endif]":
            conditional = False
            gt = text.find(">", m.end())
            pos = gt + 1 if gt >= 0 else n
            continue
        closing = token.startswith("/")
        name = token.lstrip("/")
        if closing:
            if conditional:
                pass  # a </body> only Outlook sees is no place for a pixel everyone must load
            elif name == "body":
                found.body_close = m.start()
            elif name == "html":
                found.html_close = m.start()
            elif name == "head" and found.head_close is None:
                found.head_close = m.start()
            pos = m.end()
            continue
        tag = _read_tag(text, name, m.start(), m.end())
        if tag is None:
            found.unterminated = True
            break
        pos = tag.end
        if name == "a":  # the commonest tags first
            end = _A_END.search(text, pos)
            tag.inner_end = end.start() if end else n
            found.links.append(tag)
        elif name == "img":
            found.images.append(tag)
        elif name in _RAW_TEXT:
            end = _RAW_TEXT[name].search(text, pos)
            if end is None:
                found.unterminated = True
                break
            pos = end.start()
        elif name.startswith("v:") and "href" in tag.attrs:
            tag.inner_end = _vml_inner_end(text, tag, conditional)
            found.links.append(tag)
        elif name == "area" and "href" in tag.attrs:
            tag.inner_end = tag.end  # a void element: its visible text is its alt (read by `attribute`)
            found.links.append(tag)
        elif name == "body" and found.body_open_end is None:
            found.body_open_end = tag.end
        elif name == "html" and found.html_open_end is None and not conditional:
            found.html_open_end = tag.end
    if not found.unterminated and _ends_inside_tag(text):
        found.unterminated = True
    return found


def _ends_inside_tag(text: str) -> bool:
    """True for `...<p class="x` : the scanner skips tags it does not need, so look at the last one."""
    lt = text.rfind("<")
    while lt >= 0 and not (text[lt + 1 : lt + 2].isalpha() or text[lt + 1 : lt + 2] in ("/", "!", "?")):
        lt = text.rfind("<", 0, lt)
    return lt >= 0 and _TAG_REST.match(text, lt + 1) is None


def _enclosing_tag_end(text: str, pos: int) -> int:
    """End of the tag whose attribute value contains `pos`, or 0 when `pos` is not inside one."""
    lt = text.rfind("<", 0, pos)
    if lt < 0 or text.rfind(">", 0, pos) > lt or not text[lt + 1 : lt + 2].isalpha():
        return 0
    end = _TAG_REST.match(text, lt + 2)
    return end.end() if end is not None and end.end() > pos else 0


def _vml_inner_end(text: str, tag: Tag, conditional: bool) -> int:
    """Where a VML shape's content ends: at `/>` (VML is XML), its end tag, or its conditional comment's end."""
    if text.endswith("/>", tag.start, tag.end):
        return tag.end
    limit = text.find("<![endif]", tag.end) if conditional else -1
    limit = len(text) if limit < 0 else limit
    end = _closer(tag.name).search(text, tag.end, limit)
    return end.start() if end else limit


def attribute(text: str, tag: Tag, name: str) -> Attribute | None:
    """One attribute of a scanned tag that the scan did not read (`alt` of an <area>)."""
    again = _parse_tag(text, tag.name, tag.start, tag.start + 1 + len(tag.name), frozenset({name}))
    return again.attrs.get(name) if again is not None else None


def _closer(name: str) -> re.Pattern[str]:
    if name not in _closers:
        _closers[name] = re.compile(rf"</{_nocase(name)}\s*>")
    return _closers[name]


def _skip_comment(text: str, pos: int) -> int:
    """Where scanning resumes after `<!--`; -1 when the comment never ends."""
    if text.startswith("[if", pos) or text.startswith("[ if", pos):
        # MSO conditional comment: its content is markup for Outlook; keep scanning inside,
        # provided it closes (browsers read an unclosed one as a comment to the end).
        opener_end = text.find("]>", pos)
        if opener_end < 0 or _COMMENT_END.search(text, opener_end) is None:
            return -1
        return opener_end + 2
    if text.startswith(">", pos):
        return pos + 1
    if text.startswith("->", pos):
        return pos + 2
    end = _COMMENT_END.search(text, pos)
    return end.end() if end else -1


_TAGS = re.compile(r"<!--.*?(?:-->|$)|<[^>]*>?", re.S)


def strip_tags(fragment: str) -> str:
    return _TAGS.sub("", fragment)
