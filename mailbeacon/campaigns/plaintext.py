"""The plain-text alternative of a campaign copy, made from its HTML when no text template is given.

Spam filters score HTML-only mail (SpamAssassin's MIME_HTML_ONLY), and some readers want text: a
campaign without `--text` gets a text part converted from each copy's own HTML by inscriptis, which
lays tables out as text and writes each link as `[text](url)` with the original URL (a plain-text
part is never tracked). Converting costs milliseconds, so copies that share a skeleton share one
conversion: marks stand in plain text only (see `copies._marks_in_text_only`), and a converter
keeps plain text, so each mark survives to take its contact's value afterwards.
"""

from __future__ import annotations

import re
from html import unescape

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from mailbeacon.campaigns.templates import MARK_CLOSE, MARK_OPEN

_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_links=True, display_anchors=False)
_TRAILING = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")
_MARK = re.compile(f"{MARK_OPEN}(\\d+){MARK_CLOSE}")


def text_from_html(html: str) -> str:
    """The text a reader of `html` sees, links as `[text](url)`, at most one blank line in a row.

    >>> text_from_html('<p>Hello <b>Ann</b>,</p><p><a href="https://example.com/x">See the offer</a></p>')
    'Hello Ann,\\n\\n[See the offer](https://example.com/x)\\n'
    """
    text = get_text(html, _CONFIG)
    text = _BLANK_RUNS.sub("\n\n", _TRAILING.sub("", text)).strip("\n")
    return text + "\n"


def fill_marks(text: str, values: tuple[str, ...]) -> str:
    """A skeleton's text with each mark replaced by its value; `values` are HTML-escaped (as the HTML
    render escapes them), the text is not.

    >>> fill_marks("Hi \\ue0000\\ue001!", ("Ann &amp; Bob",))
    'Hi Ann & Bob!'
    """
    return _MARK.sub(lambda found: unescape(values[int(found.group(1))]), text)
