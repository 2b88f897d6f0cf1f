"""Which mail client, browser or machine sent a pixel or click request, from its User-Agent alone.

Mail apps, proxies, scanners, previews and libraries come from an ordered rule table,
``data/user_agents.tsv`` (first match wins), so a new fetcher is a data change, not a code
change; browsers, OS and devices come from ua-parser. A UA only suggests: what an
ambiguous one really was (a stripped WebKit UA, ``MSOffice``, an empty UA) is for the
network and timing rules to decide.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import ua_parser

from mailbeacon.errors import ConfigError

__all__ = ["Client", "Kind", "Rule", "client_of", "load_rules", "match_client"]


class Kind(enum.StrEnum):
    MAIL_CLIENT = "mail_client"
    """A mail app loading images itself: Apple Mail, Outlook desktop, Thunderbird, iPhone Mail..."""
    BROWSER = "browser"
    """A web browser (webmail, or a click), or an app's webview."""
    IMAGE_PROXY = "image_proxy"
    """Gmail's, Yahoo's or Fastmail's proxy: a person's open, device and IP hidden."""
    APPLE_MPP = "apple_mpp"
    """The bare ``Mozilla/5.0`` of Apple Mail Privacy Protection's prefetch."""
    PREFETCH = "prefetch"
    """A provider fetching before anyone looks (Gmail's prefetch)."""
    HTTP_LIBRARY = "http_library"
    HEADLESS = "headless"
    LINK_PREVIEW = "link_preview"
    """A chat or social app unfurling a pasted link: Slack, Teams, Facebook, WhatsApp..."""
    SCANNER = "scanner"
    """A security scanner or pre-clicker that names itself in its UA."""
    BOT = "bot"
    UNKNOWN = "unknown"
    """Empty or unrecognisable."""


# An image proxy fetches for a human open, so it is not automated; an empty UA is undecided.
_AUTOMATED = frozenset(
    {Kind.APPLE_MPP, Kind.PREFETCH, Kind.HTTP_LIBRARY, Kind.HEADLESS, Kind.LINK_PREVIEW, Kind.SCANNER, Kind.BOT}
)
# Only a client on the reader's own device tells us that device; a proxy's or bot's OS is its own.
_ON_DEVICE = frozenset({Kind.MAIL_CLIENT, Kind.BROWSER})
_KIND_TEXT = {Kind.APPLE_MPP: "Privacy Protection", Kind.HEADLESS: "headless browser"}


@dataclass(frozen=True, slots=True)
class Client:
    kind: Kind
    name: str | None
    """"Gmail", "Outlook desktop", "Chrome"...; for a proxy, the mail service behind it."""
    device: str | None
    """"iPhone", "Mac", "Windows", "Android", "Linux"...; only for mail clients and browsers."""
    reason: str | None
    """Why a machine or proxy was recognised ("apple_mpp", "link_preview"...); None for a person."""

    @property
    def automated(self) -> bool:
        return self.kind in _AUTOMATED

    @property
    def label(self) -> str:
        """Text for people: "Outlook desktop (Windows)", "Gmail (image proxy)", "unknown"."""
        kind_text = _KIND_TEXT.get(self.kind, self.kind.value.replace("_", " "))
        if self.name is None:
            return kind_text
        detail = self.device if self.kind in _ON_DEVICE else kind_text
        return f"{self.name} ({detail})" if detail else self.name


_UNKNOWN = Client(Kind.UNKNOWN, None, None, None)


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    kind: Kind
    name: str | None
    r"""May refer to the pattern's groups as ``\1``."""
    reason: str | None
    origin: str
    """``file:line``, to find the rule that matched."""


_HEADER = ["pattern", "kind", "name", "reason"]


def load_rules(extra: Path | None = None) -> tuple[Rule, ...]:
    """The shipped rules, after those of ``extra`` (same format), which therefore win."""
    shipped = resources.files("mailbeacon.classify") / "data" / "user_agents.tsv"
    rules = _parse_rules(shipped.read_text(encoding="utf-8"), "user_agents.tsv")
    if extra is not None:
        rules = _parse_rules(extra.read_text(encoding="utf-8"), str(extra)) + rules
    return rules


def _parse_rules(text: str, source: str) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        fields = [field.strip() for field in line.split("\t")]
        if not header_seen:
            if fields != _HEADER:
                raise ConfigError(f"{where}: expected the header {' TAB '.join(_HEADER)}, got {line!r}")
            header_seen = True
            continue
        if len(fields) != len(_HEADER):
            raise ConfigError(f"{where}: expected {len(_HEADER)} tab-separated fields, got {len(fields)}")
        pattern, kind, name, reason = fields
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise ConfigError(f"{where}: bad pattern {pattern!r}: {error}") from None
        if kind not in set(Kind):
            raise ConfigError(f"{where}: unknown kind {kind!r}, expected one of {', '.join(Kind)}")
        rules.append(Rule(compiled, Kind(kind), _or_none(name), _or_none(reason), where))
    return tuple(rules)


def _or_none(field: str) -> str | None:
    return None if field in ("", "-") else field


def match_client(user_agent: str, rules: Sequence[Rule]) -> Client:
    """Classify with the given rules, then ua-parser; uncached (``client_of`` is the hot path)."""
    ua = user_agent.strip()
    if not ua:
        return _UNKNOWN
    for rule in rules:
        if found := rule.pattern.search(ua):
            name = found.expand(rule.name) if rule.name else None
            device = _device(ua_parser.parse(ua)) if rule.kind in _ON_DEVICE else None
            return Client(rule.kind, name, device, rule.reason)
    parsed = ua_parser.parse(ua)
    family = parsed.user_agent.family if parsed.user_agent else None
    if parsed.device and parsed.device.family == "Spider":  # uap-core's mark for crawlers
        return Client(Kind.BOT, family, None, "bot")
    if family is not None:
        return Client(Kind.BROWSER, _BROWSER_NAMES.get(family, family), _device(parsed), None)
    return _UNKNOWN


# One name per browser whatever the device; the device goes in Client.device.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "iOS WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "IE Mobile": "IE",
}
_APPLE_DEVICES = frozenset({"iPhone", "iPad", "iPod", "Mac"})
_OS_DEVICES = {"Mac OS X": "Mac", "Ubuntu": "Linux", "Debian": "Linux", "Fedora": "Linux", "Chrome OS": "ChromeOS"}


def _device(parsed: ua_parser.Result) -> str | None:
    if parsed.device and parsed.device.family in _APPLE_DEVICES:
        return parsed.device.family
    if parsed.os is None:
        return None
    return _OS_DEVICES.get(parsed.os.family, parsed.os.family)


@functools.cache
def _default_rules() -> tuple[Rule, ...]:
    return load_rules()


@functools.lru_cache(maxsize=4096)
def client_of(user_agent: str) -> Client:
    """The client behind a User-Agent, with the shipped rules; cached, as the same UAs recur.

    >>> client_of("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)").label
    'Outlook desktop (Windows)'
    >>> mpp = client_of("Mozilla/5.0")
    >>> mpp.kind, mpp.automated, mpp.reason
    (<Kind.APPLE_MPP: 'apple_mpp'>, True, 'apple_mpp')
    >>> client_of("Firefox/11.0 (via ggpht.com GoogleImageProxy)").label
    'Gmail (image proxy)'
    """
    return match_client(user_agent, _default_rules())
