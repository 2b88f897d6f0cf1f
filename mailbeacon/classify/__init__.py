"""Classification of every open and click: pure functions of one event and its delivery's memory.

Classes: `human`, `proxied` (a person through an image proxy, counted as
human), `machine` (with the reasons), `sender` (the sender's own open), and
`suspect_forward` (a person, maybe not the recipient). The verdict never
changes an HTTP answer; it changes what is stored and counted, and it may
revise earlier events of the same delivery (a honeypot hit, a burst of
clicks, the machine half of a paired click).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from mailbeacon.classify import rules
from mailbeacon.classify.clients import Client, Kind, client_of
from mailbeacon.classify.networks import Networks, is_private, network_of
from mailbeacon.classify.rules import Hit, Policy, Seen
from mailbeacon.events import HONEYPOT_LINK

__all__ = [
    "COUNTED_AS_HUMAN",
    "HONEYPOT_LINK",
    "Client",
    "Hit",
    "Judgement",
    "Revision",
    "Kind",
    "Memory",
    "Networks",
    "Policy",
    "Seen",
    "client_of",
    "is_private",
    "judge",
    "network_of",
]

COUNTED_AS_HUMAN = frozenset({"human", "proxied", "suspect_forward"})
_SEEN_FIELDS = [f.name for f in fields(Seen)]
REMEMBERED = 40
"""Events kept per delivery: enough for every window the rules look back over."""


@dataclass(slots=True)
class Memory:
    """What the classifier keeps of one delivery between events (stored as JSON)."""

    seen: list[Seen] = field(default_factory=list)
    first_human: list[str] | None = None
    """[network, client family] of the first human open."""
    trapped: list[list[Any]] = field(default_factory=list)
    """[ip, user agent, until]: requesters caught on the honeypot."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Memory:
        return cls(
            seen=[Seen(**item) for item in data.get("seen", [])],
            first_human=data.get("first_human"),
            trapped=list(data.get("trapped", [])),
        )

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies, and this runs for every delivery of every batch.
        seen = [{name: getattr(s, name) for name in _SEEN_FIELDS} for s in self.seen]
        return {"seen": seen, "first_human": self.first_human, "trapped": self.trapped}


@dataclass(frozen=True, slots=True)
class Revision:
    """An earlier event of the delivery that this one shows to be something else."""

    seen: Seen
    """As remembered, already carrying the new class and reasons."""
    old_cls: str


@dataclass(frozen=True, slots=True)
class Judgement:
    cls: str
    reasons: tuple[str, ...]
    revisions: list[Revision]


def judge(
    hit: Hit,
    memory: Memory,
    policy: Policy,
    *,
    accepted_at: float | None = None,
    sent_at: float | None = None,
    submitted_from: str | None = None,
) -> Judgement:
    """Classify `hit` and remember it in `memory` (which the caller stores)."""
    earlier = memory.seen
    revisions: list[tuple[Seen, str, tuple[str, ...]]] = []  # (event, new class, new reasons)
    machine = [
        reason
        for reason in (
            rules.head_request(hit),
            rules.automated_client(hit, policy),
            rules.known_scanner_net(hit, policy),
            rules.honeypot(hit, memory.trapped, policy),
            rules.scanner_timing(hit, accepted_at, earlier, policy),
        )
        if reason is not None
    ]
    if hit.kind == "click" and hit.link == HONEYPOT_LINK:  # the trap itself; later hits do not extend it
        until = hit.at + policy.honeypot_window
        memory.trapped = [t for t in memory.trapped if float(t[2]) >= hit.at][-9:] + [[hit.ip, hit.user_agent, until]]
        for seen in earlier:
            if (seen.ip == hit.ip and seen.user_agent == hit.user_agent
                    and 0 <= hit.at - seen.at <= policy.honeypot_window):
                revisions.append((seen, "machine", _with(seen, "honeypot")))
    for seen in rules.burst_partners(hit, earlier, policy):
        if seen.cls != "machine" or "scanner_timing" not in seen.reasons:
            revisions.append((seen, "machine", _with(seen, "scanner_timing")))
    if machine:
        cls, reasons = "machine", tuple(dict.fromkeys(machine))
    elif (reason := rules.sender(hit, submitted_from, sent_at, policy)) is not None:
        cls, reasons = "sender", (reason,)
    elif (reason := rules.image_proxy(hit)) is not None:
        cls, reasons = "proxied", (reason,)
    elif (reason := rules.suspect_forward(hit, memory.first_human)) is not None:
        cls, reasons = "suspect_forward", (reason,)
    else:
        cls, reasons = "human", ()
        for seen in rules.paired_click(hit, earlier, policy):
            revisions.append((seen, "machine", _with(seen, "paired_click")))
    applied = []
    for seen, new_cls, new_reasons in revisions:
        if seen.cls == new_cls and seen.reasons == list(new_reasons):
            continue
        applied.append(Revision(seen, seen.cls))
        seen.cls, seen.reasons = new_cls, list(new_reasons)
    if any(r.seen.kind == "open" for r in applied):  # the reader we knew may have been a machine
        memory.first_human = next(([s.network, s.family] for s in earlier if s.kind == "open" and s.cls == "human"),
                                  None)
    if cls == "human" and hit.kind == "open" and memory.first_human is None:
        memory.first_human = [hit.network, hit.family]
    memory.seen = (earlier + [
        Seen(hit.id, hit.kind, hit.at, hit.ip, hit.user_agent, hit.network, hit.family, hit.link, cls, list(reasons))
    ])[-REMEMBERED:]
    return Judgement(cls, reasons, applied)


def _with(seen: Seen, reason: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*(seen.reasons if seen.cls == "machine" else []), reason]))


def make_hit(
    event_id: int, kind: str, at: float, ip: str, user_agent: str, method: str, link: int | None
) -> Hit:
    return Hit(event_id, kind, at, ip, user_agent, method, link, client_of(user_agent))
