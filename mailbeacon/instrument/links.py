"""Which links are tracked, and the exact URL a browser would follow for each.

Entities in an attribute are decoded exactly once, by the HTML5 rules for
attribute values (`&amp;` -> `&`, `&amp;amp;` -> `&amp;`, `&copy=1` stays as
written), because the most common bug in every tracker we studied is decoding
`&amp;` zero times or twice. The target is otherwise opaque: no
normalisation, brackets, `%`, `@`, fragments and query order survive.
"""

from __future__ import annotations

import html
import re
from html.entities import html5

from mailbeacon.instrument.report import SkipReason

_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_C0_SPACE = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
_PLACEHOLDER = re.compile(r"\{\{|\{%|\*\||\|\*|\$\{|%%|\[\[")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")
_HOST_END = re.compile(r"[/?#\\]")
_LINE_BREAK = re.compile(r"\s*\n\s*")
_URLISH = re.compile(
    r"""^(?:
        [a-z][a-z0-9+.\-]*://\S*          # any scheme://...
      | www\.\S+                          # www.example.com
      | [^\s@/:]+@[^\s@/]+\.[^\W\d_]{2,}  # someone@example.com
      | (?:[^\W_](?:[\w\-]*[^\W_])?\.)+[^\W\d_]{2,63}(?::\d+)?(?:[/?#]\S*)?  # example.co.uk/path
    )$""",
    re.I | re.X,
)
_TRAILING_PUNCT = ".,;:!?)]}>\"'"
# Characters browsers percent-encode when they follow an href (WHATWG URL, simplified).
_ENCODE = re.compile(r"[\x00-\x20\"<>`\x7f-\U0010ffff]")


def unescape_attribute(value: str) -> str:
    """Decode character references once, as a browser does inside an attribute value.

    >>> unescape_attribute("https://x.test/?a=1&amp;b=2&copy=3")
    'https://x.test/?a=1&b=2&copy=3'
    """
    if "&" not in value:
        return value
    if value.count("&") == value.count("&amp;"):
        return value.replace("&amp;", "&")  # the common case, without a regex
    return _CHARREF.sub(lambda m: _charref(m, value), value)


def _charref(m: re.Match[str], value: str) -> str:
    ref = m.group(1)
    if ref[0] == "#":
        return html.unescape("&" + ref)
    if ref.endswith(";") and ref in html5:
        return html5[ref]
    name = ref.rstrip(";")
    # Longest legacy name (valid without ';') that prefixes the reference.
    for cut in range(len(name), 1, -1):
        if name[:cut] in html5:
            nxt = name[cut:cut + 1] or value[m.end():m.end() + 1]
            if cut == len(name) and ref.endswith(";"):
                nxt = ";"
            # HTML5 §13.2.5.73: in an attribute, a legacy reference followed by
            # '=' or an alphanumeric is left as written.
            if nxt == "=" or nxt.isalnum():
                return m.group(0)
            return html5[name[:cut]] + name[cut:] + (";" if ref.endswith(";") and cut < len(name) else "")
    return m.group(0)


def browser_url(decoded: str, query_charset: str) -> str:
    """The URL a browser would request for an href value whose entities are decoded.

    Surrounding whitespace is trimmed, tabs and newlines dropped, non-ASCII and
    spaces percent-encoded (UTF-8, the query in the document's charset as
    browsers do), an internationalised host turned into punycode.
    """
    url = decoded.strip(_C0_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_NEWLINE.sub("", url)
    if url.startswith("//"):
        url = "https:" + url  # protocol-relative: webmail resolves it to https
    if url.isascii() and url.isprintable() and not any(c in url for c in ' "<>`'):
        return url  # nothing to encode: the common case, without a regex
    if not _ENCODE.search(url):
        return url
    scheme_end = url.find("://")
    host_start = scheme_end + 3 if scheme_end > 0 else 0
    host_end = len(url)
    for sep in "/?#":
        i = url.find(sep, host_start)
        if i >= 0:
            host_end = min(host_end, i)
    host = url[host_start:host_end]
    if scheme_end > 0 and any(ord(c) > 127 for c in host):
        userinfo, at, hostport = host.rpartition("@")
        try:
            hostport = hostport.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # left to percent-encoding below
        host = userinfo + at + hostport
    rest = url[host_end:]
    query_at = rest.find("?")
    frag_at = rest.find("#")
    if query_at >= 0 and (frag_at < 0 or query_at < frag_at):
        q_end = frag_at if frag_at >= 0 else len(rest)
        rest = _pct(rest[:query_at], "utf-8") + _pct(rest[query_at:q_end], query_charset) + _pct(rest[q_end:], "utf-8")
    else:
        rest = _pct(rest, "utf-8")
    return _pct(url[:host_start] + host, "utf-8") + rest


def _pct(part: str, charset: str) -> str:
    def encode(m: re.Match[str]) -> str:
        char = m.group(0)
        if "\udc80" <= char <= "\udcff":  # an undecodable byte kept by surrogateescape
            return f"%{ord(char) - 0xDC00:02X}"
        try:
            data = char.encode(charset)
        except (UnicodeError, LookupError):
            data = char.encode("utf-8", "surrogateescape")
        return "".join(f"%{b:02X}" for b in data)

    return _ENCODE.sub(encode, part)


def visible_text(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", text)
    return " ".join(text.split())


def text_is_url(text: str, flat: str) -> bool:
    """Visible text a reader takes for an address, also when the source wrapped it.

    Mail clients wrap long URLs at source line breaks (corpus: flanker-long-links),
    so a text whose only spaces come from line breaks is joined before the check.
    """
    if looks_like_url(flat):
        return True
    if "\n" in text:
        joined = visible_text(_LINE_BREAK.sub("", text))
        return " " not in joined and looks_like_url(joined)
    return False


def looks_like_url(text: str) -> bool:
    """True when a reader would take the visible text for a web or mail address.

    >>> looks_like_url("WWW.Example.com"), looks_like_url("Read more")
    (True, False)
    """
    candidate = text.strip().rstrip(_TRAILING_PUNCT).lstrip("<([\"'")
    return bool(candidate) and " " not in candidate and _URLISH.match(candidate) is not None


def why_not_trackable(target: str) -> SkipReason | None:
    """None when `target` is an http(s) URL with a host that may be wrapped."""
    if not target:
        return SkipReason.RELATIVE
    if target.startswith("#"):
        return SkipReason.FRAGMENT_ONLY
    if any(c in target for c in "{*|$%[") and _PLACEHOLDER.search(target):
        return SkipReason.TEMPLATE_PLACEHOLDER
    scheme = _SCHEME.match(target)
    if scheme is None:
        return SkipReason.RELATIVE
    if scheme.group(1).lower() not in ("http", "https"):
        return SkipReason.NOT_HTTP
    rest = target[scheme.end():]
    if not rest.startswith("//"):
        return SkipReason.INVALID_URL
    host = _HOST_END.split(rest[2:], maxsplit=1)[0].rpartition("@")[2]
    if not host or host.startswith(":"):
        return SkipReason.INVALID_URL
    return None


def attribute_value(url: str, quote: str) -> str:
    """`url` written back into an attribute value whose original quote was `quote`."""
    escaped = url.replace("&", "&amp;")
    if quote == "'":
        return escaped.replace("'", "&#39;")
    escaped = escaped.replace('"', "&quot;")
    return escaped if quote else f'"{escaped}"'


def with_query(url: str, extra: str) -> str:
    """`url` with `extra` (`a=1&b=2`) added to its query, before any fragment; existing keys win.

    >>> with_query("https://x.test/p?utm_source=mail#top", "utm_source=news&utm_medium=email")
    'https://x.test/p?utm_source=mail&utm_medium=email#top'
    """
    base, hash_, fragment = url.partition("#")
    path, question, query = base.partition("?")
    present = {pair.split("=", 1)[0] for pair in query.split("&") if pair}
    added = [pair for pair in extra.split("&") if pair and pair.split("=", 1)[0] not in present]
    if not added:
        return url
    query = "&".join([query, *added]) if query else "&".join(added)
    return f"{path}?{query}{hash_}{fragment}"
