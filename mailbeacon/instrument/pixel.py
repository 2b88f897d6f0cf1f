"""The open pixel: markup that loads everywhere and moves nothing, and where it goes (issue #18).

It loads: a real 1x1 `<img>`, `width="1" height="1"` in its attributes. Never `display:none`
(Gmail did not fetch such a pixel: mautic/mautic#2193), never `position:absolute` (Gmail and
Outlook's Word engine drop `position`, Yahoo keeps only `relative`, caniemail css-position: the
pixel fell back into the flow), never a zero size in the attributes (Word sizes an image by them
alone, caniemail css-width; sanitizers drop 0x0 images as trackers, miniflux/v2#3437).

It moves nothing: `float:left` takes it out of the flow (CSS 2.1 §9.3), so it opens no line box
(a line holding only a float is "treated as not existing", §9.4.2) and margins still collapse
past it. `margin:-1px -1px 0 0` leaves its margin box 0x0: lines beside it keep their width and
no block grows to hold it (§9.5, §10.6.7). The 1x1 it paints reaches up and right from that
empty box, into what is already laid out (at the end it adds no scrollable overflow, at the top
it lies above the page), LTR or RTL; `clear:both` keeps it at the left edge where earlier floats
would push it out past the right one (§9.5.2). It goes inside <body>, which is there already: before </body>
(else </html>, else the end), or right after <body> when Gmail would clip a long message's end.

Apple Mail (WebKit) and Yahoo honour all of it. Where floats or negative margins are dropped
(Word: both; Gmail, Outlook.com: negative margins; caniemail css-float, css-margin) it is a
plain 1x1 image after the last content, as every tracker's pixel is there. A <body> that is a flex or grid container makes it an item a `gap` spaces.
"""

from __future__ import annotations

import re

from mailbeacon.instrument.html import Scan

PIXEL_STYLE = "float:left;clear:both;width:1px;height:1px;margin:-1px -1px 0 0;border:0;padding:0"
# Gmail clips messages past about 102 KB; leave room for headers and growth.
CLIP_LIMIT = 100 * 1024
CLIP_WARNING = 95 * 1024
# What may precede <html> without changing the document's mode: markup before a doctype
# puts the page in quirks mode (HTML Living Standard §13.2.6.4.1, the "initial" insertion mode).
_PROLOGUE = re.compile(r"(?:\s*+(?:<\?xml[^>]*+>|<![dD][oO][cC][tT][yY][pP][eE][^>]*+>|<!--.*?-->))*", re.S)


def pixel_tag(url: str, xhtml: bool) -> str:
    close = " />" if xhtml else ">"
    return f'<img src="{url}" width="1" height="1" alt="" border="0" style="{PIXEL_STYLE}"{close}'


def honeypot_tag(url: str) -> str:
    """A link no person sees (display:none), no screen reader announces (aria-hidden) and no keyboard reaches."""
    return f'<a href="{url}" style="display:none" aria-hidden="true" tabindex="-1"></a>'


def place_pixel(text: str, scan: Scan, at_top: bool) -> tuple[int, str]:
    """Offset to insert the pixel at, and a word for the report."""
    if at_top:
        if scan.body_open_end is not None:
            return scan.body_open_end, "top"
        if scan.head_close is not None:
            return scan.head_close, "top"
        if scan.html_open_end is not None:
            return scan.html_open_end, "top"
        prologue = _PROLOGUE.match(text)
        return (prologue.end() if prologue else 0), "top"
    if scan.body_close is not None:
        return scan.body_close, "before </body>"
    if scan.html_close is not None:
        return scan.html_close, "before </html>"
    return len(text.rstrip(" \t\r\n\f")), "end"  # ASCII only: in the latin-1 view 0xA0 may be half a character


def is_xhtml(text: str) -> bool:
    head = text[:512].lower()
    return "<!doctype html public \"-//w3c//dtd xhtml" in head or "<?xml" in head
