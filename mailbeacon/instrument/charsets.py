"""A byte-faithful text view of an HTML part in any ASCII-compatible charset.

Markup (`<`, `>`, quotes, `=`) is ASCII in every charset email uses, so the
scanner works on a latin-1 view of the bytes (one char per byte) and splices
there; encoding back with latin-1 returns the untouched bytes exactly. Only
visible text and URLs are decoded with the real charset. Stateful ISO-2022 and
HZ encodings put ASCII-looking bytes inside double-byte runs: those runs are
masked so the scanner cannot mistake them for markup.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

# Charset labels seen in mail that Python's registry lacks (corpus: x-mac-cyrillic).
_ALIASES = {
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-roman": "mac_roman",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gbk",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf_7",
}
_MASKED = ("iso2022", "hz")
_STATEFUL_OFF = re.compile(rb"\x1b\$[@AB(][@A-Z]?|\x1b\$\)[A-Z]|\x0e|~\{")
_STATEFUL_ON = re.compile(rb"\x1b\([BJ]|\x0f|~\}|\r?\n")


@dataclass(frozen=True, slots=True)
class TextView:
    codec: str
    """Python codec used to decode visible text and URLs."""
    scan: str
    """latin-1 view of the bytes, with non-ASCII runs of stateful charsets masked."""
    ascii_is_text: bool
    """ASCII bytes decode to themselves (false for ISO-2022 and HZ, whose escapes are ASCII)."""


class CharsetError(ValueError):
    def __init__(self, charset: str, supported: bool) -> None:
        super().__init__(charset)
        self.charset = charset
        self.supported = supported


@functools.lru_cache(maxsize=256)
def lookup_codec(charset: str | None) -> str:
    """Python codec name for a MIME charset label; raises CharsetError if unknown."""
    label = (charset or "us-ascii").strip().strip('"').lower()
    for name in (label, _ALIASES.get(label, ""), label.removeprefix("x-")):
        if not name:
            continue
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    raise CharsetError(label, supported=False)


def text_view(body: bytes, charset: str | None) -> TextView:
    codec = lookup_codec(charset)
    if codec.startswith(("utf-16", "utf-32", "utf_16", "utf_32", "utf-7", "utf_7")) or not _ascii_compatible(codec):
        raise CharsetError(codec, supported=True)
    if codec.startswith(_MASKED):
        return TextView(codec, _mask_shifted_runs(body).decode("latin-1"), ascii_is_text=False)
    return TextView(codec, body.decode("latin-1"), ascii_is_text=True)


@functools.lru_cache(maxsize=256)
def _ascii_compatible(codec: str) -> bool:
    probe = '<a href="x">&#=;/</a>'
    try:
        return probe.encode(codec) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _mask_shifted_runs(body: bytes) -> bytes:
    """Replace bytes inside double-byte runs by 'x' so they never read as markup."""
    out = bytearray(body)
    pos = 0
    while (off := _STATEFUL_OFF.search(body, pos)) is not None:
        on = _STATEFUL_ON.search(body, off.end())
        end = on.start() if on else len(body)
        out[off.end() : end] = b"x" * (end - off.end())
        pos = on.end() if on else len(body)
    return bytes(out)


def decode_span(view: TextView, raw: str) -> str:
    """Decode a slice of the latin-1 view with the part's real charset."""
    data = raw.encode("latin-1")
    try:
        return data.decode(view.codec, "surrogateescape")
    except UnicodeError:
        return data.decode(view.codec, "replace")
