"""Find the parts of a raw RFC 5322 message by byte offsets, and re-encode bodies.

We never re-serialise a parsed message (Postal's bug: headers that no longer
match the body). The walker records where each part's headers and body lie in
the original bytes, so the caller can replace one body and leave every other
byte alone.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:([^\r\n]*+(?:(?:\r\n|\r|\n)[ \t][^\r\n]*+)*+)", re.M)
_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_LINE_END = re.compile(rb"\r?\n")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_DELIMITER_REST = re.compile(rb"(--)?[ \t]*(?:\r?\n|\Z)")
# Header lines as Python's email package reads them (feedparser.headerRE), lines broken at CR,
# LF or CRLF: a field is a name of printable ASCII then ':' right after it, a continuation
# starts with a space or tab. Any other line, an empty one included, is where it starts the body.
# Allowed before the first field: an mbox envelope line, then lines of spaces (see check_header_block).
_HEADER_BLOCK = re.compile(
    rb"(?:From [^\r\n]*+(?:\r\n|\r|\n|\Z))?(?:[ \t]++(?:\r\n|\r|\n|\Z))*+"
    rb"(?:[!-9;-~]++:[^\r\n]*+(?:(?:\r\n|\r|\n)(?:[ \t]|[!-9;-~]++:)[^\r\n]*+)*+)?"
)

SIGNED_TYPES = frozenset(
    {"multipart/signed", "multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
)


class MimeError(ValueError):
    """The structure cannot be trusted; the message must pass unchanged."""


class HeaderBlockError(MimeError):
    """A header block readers split differently (issue #18): where it ends, or which fields it holds."""


@dataclass(slots=True)
class Part:
    path: str
    content_type: str
    params: dict[str, str]
    transfer_encoding: str
    disposition: str
    body_start: int
    body_end: int
    header_start: int
    header_end: int
    """End of the header block, before the blank line (where a header may be appended)."""
    cte_value: tuple[int, int] | None
    """Byte span of the Content-Transfer-Encoding value, if the header is present."""
    has_body: bool = True
    """False when no blank line ends the headers: there is no body to edit."""
    children: list[Part] = field(default_factory=list)

    @property
    def is_multipart(self) -> bool:
        return self.content_type.startswith("multipart/")


def parse_params(value: str) -> tuple[str, dict[str, str]]:
    """`text/html; charset="utf-8"` -> ("text/html", {"charset": "utf-8"})."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for name, raw in _PARAM.findall(";" + rest):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(name.lower(), raw)
    return head.strip().lower(), params


def _headers(data: bytes, start: int, end: int) -> tuple[dict[bytes, tuple[int, int]], int, int, bool]:
    """Header name -> value span for the block at data[start:end]; also where it ends.

    The body starts after the first empty line; with none, body start is -1. Last: whether
    the fields follow each other line after line, "Name:" and folds only (else the caller
    reads the block with check_header_block).
    """
    if data.startswith(b"\n", start) or data.startswith(b"\r\n", start):
        # No headers at all: the body starts after this empty line.
        nl = data.index(b"\n", start) + 1
        return {}, start, nl, True
    match = _HEADER_END.search(data, start, end)
    header_end = match.start() if match else end
    body_start = match.end() if match else -1
    found: dict[bytes, tuple[int, int]] = {}
    at, sound = start - 1, True
    for m in _HEADER_LINE.finditer(data, start, header_end):
        found.setdefault(m.group(1).lower(), m.span(2))
        # A field starts after an LF and its value runs to the end of its line and folds: one or
        # two bytes (LF, CRLF) after the last one, or the block has other lines; "Name:" unspaced.
        if m.start() - at not in (1, 2) or m.start(2) != m.end(1) + 1:
            sound = False
        at = m.end()
    if at != header_end and not (body_start < 0 and data[at:header_end] in (b"\n", b"\r\n", b"\r")):
        sound = False
    return found, header_end, body_start, sound


def check_header_block(data: bytes, start: int, end: int, separated: bool) -> None:
    """Raise HeaderBlockError unless every line of data[start:end] is a field or continues one (issue #18).

    The exact reading, for the blocks `_headers` did not find sound (few: it is slower).
    `separated`: an empty line follows the block (then data[end:] is its line break, not the block's).
    Python's email package reports the other shapes as defects (MissingHeaderBodySeparatorDefect,
    FirstHeaderLineIsContinuationDefect, MisplacedEnvelopeHeaderDefect, a field with no name) and
    starts the body early or drops a line another reader keeps as a field: the body we would edit
    is not the one readers show. Allowed: an mbox "From " line first, and lines of spaces before
    the first field (corpus: flanker-mailgun-pic), which a reader skips or takes as the end of an
    empty header block; then it shows the whole message as plain text, tracked or not.
    """
    full = _HEADER_BLOCK.match(data, start, end)
    at = full.end() if full is not None else start
    if separated and data.endswith((b"\r", b"\n"), start, end):
        at = end  # an empty line before the separator: Python's body starts there
    elif at == end or (not separated and data[at:end] in (b"\r\n", b"\n", b"\r")):
        return  # without a separator, the block's own last line break is no line
    line = _LINE_BREAK.match(data, at, end)
    raise HeaderBlockError(_header_defect(data, start, line.end() if line is not None else at))


def _header_defect(data: bytes, start: int, at: int) -> str:
    line = 1 + len(_LINE_BREAK.findall(data, start, at))
    shown = _LINE_BREAK.split(data[at : at + 40], maxsplit=1)[0].decode("latin-1")
    return f"header line {line} ({shown!r}) is neither a field nor a continuation: readers disagree on where the body starts"


def _unfold(data: bytes, span: tuple[int, int]) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", data[span[0] : span[1]].decode("latin-1")).strip()


def parse_part(data: bytes, start: int, end: int, path: str, parent: Part | None = None) -> Part:
    headers, header_end, body_start, sound = _headers(data, start, end)
    if not sound:
        check_header_block(data, start, header_end, separated=body_start >= 0)
    default = "message/rfc822" if parent and parent.content_type == "multipart/digest" else "text/plain"
    ctype, params = parse_params(_unfold(data, headers[b"content-type"])) if b"content-type" in headers else (default, {})
    if "/" not in ctype:
        ctype, params = default, {}
    cte_span = headers.get(b"content-transfer-encoding")
    cte = normalise_cte(_unfold(data, cte_span)) if cte_span else ""
    disp_span = headers.get(b"content-disposition")
    disposition = parse_params(_unfold(data, disp_span))[0] if disp_span else ""
    has_body = body_start >= 0
    body_start = body_start if has_body else end
    part = Part(path, ctype, params, cte, disposition, body_start, end, start, header_end, cte_span, has_body)
    if part.is_multipart and ctype not in SIGNED_TYPES:
        if parent is not None and params.get("boundary") == parent.params.get("boundary"):
            # Readers disagree on where such parts end (cpython msg_15): do not guess.
            raise MimeError(f"part {path} reuses its parent's boundary")
        part.children = list(_split(data, part))
    return part


def _split(data: bytes, part: Part) -> Iterator[Part]:
    boundary = part.params.get("boundary", "")
    if not boundary:
        raise MimeError(f"{part.content_type} without a boundary parameter")
    marker = b"--" + boundary.encode("latin-1")
    starts: list[tuple[int, int, bool]] = []  # (line start, next line start, is close)
    pos = part.body_start
    while (found := data.find(marker, pos, part.body_end)) >= 0:
        pos = found + len(marker)
        if found > part.body_start and data[found - 1] != 0x0A:
            continue  # a delimiter starts a line (RFC 2046 §5.1.1)
        rest = _DELIMITER_REST.match(data, pos, part.body_end)
        if rest is None:
            continue  # a longer boundary that starts with ours
        starts.append((found, rest.end(), bool(rest.group(1))))
        if rest.group(1):
            break
        pos = rest.end()
    if not starts:
        raise MimeError(f"{part.content_type} has no part with boundary {boundary!r}")
    for n, (_, body_start, is_close) in enumerate(starts):
        if is_close:
            break
        nxt = starts[n + 1][0] if n + 1 < len(starts) else part.body_end
        # The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
        if n + 1 < len(starts):
            nxt -= 2 if data[nxt - 2 : nxt] == b"\r\n" else 1 if data[nxt - 1 : nxt] == b"\n" else 0
        nxt = max(nxt, body_start)
        yield parse_part(data, body_start, nxt, f"{part.path}.{n + 1}".lstrip("."), part)


def parse_message(data: bytes) -> Part:
    return parse_part(data, 0, len(data), "")


def walk(part: Part) -> Iterator[Part]:
    yield part
    for child in part.children:
        yield from walk(child)


# --- transfer encodings -----------------------------------------------------

IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
# Misspellings seen in real mail ("8bits" in the corpus): the body is plain bytes all the same.
_IDENTITY_LIKE = re.compile(r"[78]-?bits?|binary")


def normalise_cte(value: str) -> str:
    cte = value.strip().strip('"').lower()
    return "8bit" if cte not in IDENTITY and _IDENTITY_LIKE.fullmatch(cte) else cte


def decode_body(body: bytes, cte: str) -> bytes:
    if cte in IDENTITY:
        return body
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    if cte == "base64":
        try:
            return binascii.a2b_base64(body)
        except binascii.Error as exc:
            raise MimeError(f"bad base64: {exc}") from exc
    raise MimeError(f"unknown Content-Transfer-Encoding {cte!r}")


def line_ending(data: bytes, default: bytes = b"\r\n") -> bytes:
    m = _LINE_END.search(data)
    return m.group(0) if m else default


def encode_qp(decoded: bytes, eol: bytes) -> bytes:
    """Quoted-printable with the message's own line ending, decoding back to `decoded` exactly."""
    if _breaks_match(decoded, eol):
        # One C call. binascii picks its line ending from the first one it sees: prime it.
        encoded = binascii.b2a_qp(decoded + eol, quotetabs=False, istext=True)[: -len(eol)]
        if binascii.a2b_qp(encoded) == decoded:
            return encoded
    # Line breaks that differ from the message's (a CR-LF inside an LF message, a stray
    # CR): hard breaks where the message has them, every other CR and LF escaped.
    lines = decoded.split(eol)
    return eol.join(binascii.b2a_qp(line, quotetabs=False, istext=False).replace(b"\n", eol) for line in lines)


def _breaks_match(decoded: bytes, eol: bytes) -> bool:
    if eol == b"\n":
        return b"\r" not in decoded
    crlf = decoded.count(b"\r\n")
    return decoded.count(b"\n") == crlf and decoded.count(b"\r") == crlf


def encode_base64(decoded: bytes, original: bytes, eol: bytes) -> bytes:
    first = original.split(b"\n", 1)[0].rstrip(b"\r")
    width = len(first) if 4 <= len(first) <= 76 and len(first) % 4 == 0 and len(original) > len(first) + 2 else 76
    flat = binascii.b2a_base64(decoded, newline=False)
    lines = [flat[i : i + width] for i in range(0, len(flat), width)]
    trailer = eol if original.rstrip(b" \t").endswith(b"\n") else b""
    return eol.join(lines) + trailer


Edit = tuple[int, int, bytes]


def splice(data: bytes, edits: list[Edit]) -> bytes:
    """Apply sorted, non-overlapping (start, end, replacement) edits."""
    out: list[bytes] = []
    last = 0
    for start, end, replacement in edits:
        out.append(data[last:start])
        out.append(replacement)
        last = end
    out.append(data[last:])
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class QpGroup:
    """Whole lines of a quoted-printable body around some edits, located in both forms."""

    enc_start: int
    enc_end: int
    first: int
    last: int
    edits: int
    """How many of the (sorted) edits fall in this group."""


def qp_groups(encoded: bytes, decoded: bytes, spans: list[tuple[int, int]], eol: bytes) -> list[QpGroup] | None:
    """Where the lines around `spans` (sorted decoded offsets) lie in the encoded body.

    Decoding keeps every hard line break, so decoded line n is encoded line n
    unless escapes (=0D=0A) made extra line breaks: then the counts differ and
    the answer is None (the caller encodes the whole body again).
    """
    wanted = list(_line_groups(decoded, spans, eol))
    # Decoded line numbers where each group starts and ends.
    marks: list[tuple[int, int]] = []
    line = pos = 0
    for first, last, _ in wanted:
        line += decoded.count(eol, pos, first)
        end_line = line + decoded.count(eol, first, last)
        marks.append((line, end_line))
        line, pos = end_line, last
    starts: dict[int, int] = {}  # decoded line number -> encoded offset of its start
    ends: dict[int, int] = {}  # decoded line number -> encoded offset of its line break
    needed_starts = {m[0] for m in marks}
    needed_ends = {m[1] for m in marks}
    offset = logical = 0
    step = len(eol)
    starts[0] = 0
    for physical in encoded.split(eol)[:-1]:  # each of these is followed by a line break
        offset += len(physical)
        if physical[-1:] != b"=":  # a hard line break: the next decoded line starts after it
            if logical in needed_ends:
                ends[logical] = offset
            logical += 1
            if logical in needed_starts:
                starts[logical] = offset + step
        offset += step
    if logical != decoded.count(eol):
        return None
    return [
        QpGroup(starts[a], ends.get(b, len(encoded)), first, last, count)
        for (first, last, count), (a, b) in zip(wanted, marks, strict=True)
    ]


def splice_qp(encoded: bytes, decoded: bytes, groups: list[QpGroup], edits: list[Edit], eol: bytes) -> bytes | None:
    """Apply edits to a quoted-printable body, encoding again only the lines they touch.

    Every other line keeps its original bytes, soft breaks included. None if a
    re-encoded line would not decode back exactly (the caller encodes it all).
    """
    out: list[bytes] = []
    enc_pos = k = 0
    for group in groups:
        first = group.first
        chunk = splice(decoded[first : group.last], [(s - first, e - first, r) for s, e, r in edits[k : k + group.edits]])
        k += group.edits
        if not _breaks_match(chunk, eol):
            return None  # a CR or LF of its own would become a line break of the message's
        piece = binascii.b2a_qp(chunk + eol, quotetabs=False, istext=True)[: -len(eol)]
        if binascii.a2b_qp(piece) != chunk:
            return None
        out.append(encoded[enc_pos : group.enc_start])
        out.append(piece)
        enc_pos = group.enc_end
    out.append(encoded[enc_pos:])
    return b"".join(out)


def _line_groups(decoded: bytes, spans: list[tuple[int, int]], eol: bytes) -> Iterator[tuple[int, int, int]]:
    """Whole decoded lines around the spans, merged where they share a line: (first, last, count)."""
    first = last = -1
    count = 0
    for span_start, span_end in spans:
        start = decoded.rfind(eol, 0, span_start)
        start = 0 if start < 0 else start + len(eol)
        end = decoded.find(eol, span_end)
        end = len(decoded) if end < 0 else end
        if count and start <= last:
            last = max(last, end)
            count += 1
            continue
        if count:
            yield first, last, count
        first, last, count = start, end, 1
    if count:
        yield first, last, count


def max_line_length(data: bytes) -> int:
    return max((len(line.rstrip(b"\r")) for line in data.split(b"\n")), default=0)
