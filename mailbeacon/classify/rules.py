"""One small function a rule: each looks at one event and what is remembered of its delivery.

A rule returns its reason name when it applies, else None. `judge` in
`__init__.py` runs them in order; the order is the precedence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbeacon.classify.clients import Client, Kind
from mailbeacon.classify.networks import Networks, is_private, network_of
from mailbeacon.events import HONEYPOT_LINK



@dataclass(frozen=True, slots=True)
class Policy:
    """The thresholds and data the rules use; every one a setting."""

    apple: Networks = field(default_factory=lambda: Networks.shipped("apple_mpp_ranges.txt"))
    scanners: Networks = field(default_factory=lambda: Networks.shipped("scanner_networks.txt"))
    scanner_delay: float = 10.0
    """A click this many seconds after the upstream accepted the copy is a scanner's."""
    burst_window: float = 1.5
    """Different links of one copy clicked within this many seconds: a scanner."""
    unopened_window: float = 120.0
    """A click with no open yet, this soon after delivery: a scanner (a person's client loads images first)."""
    paired_window: float = 10.0
    honeypot_window: float = 600.0
    sender_window: float = 7 * 86400.0
    trust_private_sender: bool = False
    """Take loopback and private addresses as sender evidence (an office network behind one NAT)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One event as the rules see it."""

    id: int
    kind: str
    """"open" or "click"."""
    at: float
    ip: str
    user_agent: str
    method: str
    link: int | None
    client: Client

    @property
    def network(self) -> str:
        return network_of(self.ip)

    @property
    def family(self) -> str:
        return self.client.name or self.client.kind.value


@dataclass(slots=True)
class Seen:
    """An earlier event of the same delivery, as remembered."""

    id: int
    kind: str
    at: float
    ip: str
    user_agent: str
    network: str
    family: str
    link: int | None
    cls: str
    reasons: list[str]


def head_request(hit: Hit) -> str | None:
    return "head_request" if hit.method == "HEAD" else None


def automated_client(hit: Hit, policy: Policy) -> str | None:
    """Libraries, headless browsers, link previews, prefetchers and known scanners, by User-Agent."""
    if hit.client.kind is Kind.APPLE_MPP:
        return "apple_mpp" if hit.ip in policy.apple else "bare_user_agent"
    if hit.client.automated:
        return hit.client.reason or hit.client.kind.value
    return None


def known_scanner_net(hit: Hit, policy: Policy) -> str | None:
    return "known_scanner_net" if hit.ip in policy.scanners else None


def honeypot(hit: Hit, trapped: list[list[object]], policy: Policy) -> str | None:
    """The invisible link itself, or any event of a requester caught on it within the window."""
    if hit.kind == "click" and hit.link == HONEYPOT_LINK:
        return "honeypot"
    for ip, user_agent, until in trapped:
        if ip == hit.ip and user_agent == hit.user_agent and hit.at <= float(until):  # type: ignore[arg-type]
            return "honeypot"
    return None


def scanner_timing(hit: Hit, accepted_at: float | None, earlier: list[Seen], policy: Policy) -> str | None:
    if hit.kind != "click":
        return None
    if accepted_at is not None and -1.0 <= hit.at - accepted_at < policy.scanner_delay:
        return "scanner_timing"
    if burst_partners(hit, earlier, policy):
        return "scanner_timing"
    opened = any(seen.kind == "open" and seen.cls != "machine" for seen in earlier)  # a prefetch proves nothing
    if not opened and accepted_at is not None and hit.at - accepted_at < policy.unopened_window:
        return "scanner_timing"
    return None


def burst_partners(hit: Hit, earlier: list[Seen], policy: Policy) -> list[Seen]:
    """Clicks on other links of this copy within the burst window: a scanner walking the links."""
    if hit.kind != "click":
        return []
    return [
        seen
        for seen in earlier
        if seen.kind == "click" and seen.link != hit.link and abs(hit.at - seen.at) <= policy.burst_window
    ]


def sender(hit: Hit, submitted_from: str | None, sent_at: float | None, policy: Policy) -> str | None:
    """An open or click from the address that submitted the message, while it is fresh."""
    if submitted_from is None or hit.ip != submitted_from:
        return None
    if is_private(hit.ip) and not policy.trust_private_sender:
        return None  # a local trial and the tests behave like real recipients
    if sent_at is not None and hit.at - sent_at > policy.sender_window:
        return None
    return "sender"


def image_proxy(hit: Hit) -> str | None:
    return "image_proxy" if hit.client.kind is Kind.IMAGE_PROXY else None


def suspect_forward(hit: Hit, first_human: list[str] | None) -> str | None:
    """After a human open, an open from another client family on another network: maybe someone else."""
    if hit.kind != "open" or first_human is None:
        return None
    network, family = first_human
    if hit.network != network and hit.family != family:
        return "suspect_forward"
    return None


def paired_click(hit: Hit, earlier: list[Seen], policy: Policy) -> list[Seen]:
    """Human-looking clicks on the same link from another network just before: the machine check of a pair."""
    if hit.kind != "click":
        return []
    return [
        seen
        for seen in earlier
        if seen.kind == "click"
        and seen.link == hit.link
        and seen.network != hit.network
        and seen.cls in ("human", "suspect_forward")
        and 0 <= hit.at - seen.at <= policy.paired_window
    ]
