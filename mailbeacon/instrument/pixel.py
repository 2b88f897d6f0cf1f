"""The open pixel: its markup and where it goes.

Never `display:none` (Gmail then skips the fetch); width and height set so it
never shows; before `</body>` so it sits inside the document, or at the top
when Gmail would clip the end of a long message.
"""

from __future__ import annotations

from mailbeacon.instrument.html import Scan

PIXEL_STYLE = "display:block;height:1px;width:1px;border:0;margin:0;padding:0"
# Gmail clips messages past about 102 KB; leave room for headers and growth.
CLIP_LIMIT = 100 * 1024
CLIP_WARNING = 95 * 1024


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
        return 0, "top"
    if scan.body_close is not None:
        return scan.body_close, "before </body>"
    if scan.html_close is not None:
        return scan.html_close, "before </html>"
    return len(text.rstrip(" \t\r\n\f")), "end"  # ASCII only: in the latin-1 view 0xA0 may be half a character


def is_xhtml(text: str) -> bool:
    head = text[:512].lower()
    return "<!doctype html public \"-//w3c//dtd xhtml" in head or "<?xml" in head
