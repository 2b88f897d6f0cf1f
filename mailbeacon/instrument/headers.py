"""Header fields removed at the byte level: every other byte of the message stays as it was.

The relay takes `Bcc:` and `X-Mailbeacon-Track:` out of each copy; parsing and
re-serialising the header block with the email package would refold and
re-encode the rest of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")


def header_end(raw: bytes) -> int:
    """Offset where the body starts (after the empty line), or len(raw) for a header-only message.

    >>> header_end(b"A: 1\\r\\nB: 2\\r\\n\\r\\nbody")
    14
    """
    offset = 0
    while offset < len(raw):
        line_end = raw.find(b"\n", offset)
        if line_end < 0:
            return len(raw)
        if raw[offset:line_end] in (b"", b"\r"):
            return line_end + 1
        offset = line_end + 1
    return len(raw)


def remove_fields(raw: bytes, names: Iterable[str]) -> bytes:
    """`raw` without any field named in `names` (case-insensitive), folded lines included.

    >>> remove_fields(b"To: a\\r\\nBcc: b,\\r\\n c\\r\\nSubject: s\\r\\n\\r\\nBcc: body\\r\\n", ["bcc"])
    b'To: a\\r\\nSubject: s\\r\\n\\r\\nBcc: body\\r\\n'
    """
    wanted = {name.lower().encode("ascii") for name in names}
    end = header_end(raw)
    kept: list[bytes] = []
    dropping = False
    for line in raw[:end].splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and line.strip():
            if not dropping:
                kept.append(line)  # continuation of a kept field
            continue
        match = _FIELD.match(line)
        dropping = match is not None and match.group(1).lower() in wanted
        if not dropping:
            kept.append(line)
    return b"".join(kept) + raw[end:]


def field_values(raw: bytes, name: str) -> list[str]:
    """Unfolded raw values of every `name` field, decoded as UTF-8 (undecodable bytes replaced).

    >>> field_values(b"X-Track: opens\\r\\nx-track:  none\\r\\n\\r\\n", "X-Track")
    ['opens', 'none']
    """
    wanted = name.lower().encode("ascii")
    found: list[list[bytes]] = []
    current: list[bytes] | None = None
    for line in raw[: header_end(raw)].splitlines():
        if line[:1] in (b" ", b"\t") and line.strip():
            if current is not None:
                current.append(line)
            continue
        match = _FIELD.match(line)
        current = None
        if match is not None and match.group(1).lower() == wanted:
            current = [line[match.end() :]]
            found.append(current)
    return [b" ".join(part.strip() for part in chunk).decode("utf-8", "replace") for chunk in found]
