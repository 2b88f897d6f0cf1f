"""The one place that decides what is tracked for each recipient.

Pure, so every rule is tested on its own. The order of the rules is the order
of precedence: a server-wide switch beats a recipient's wish, which beats the
sender's header, which cannot grant what the sender's seat does not include.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Untracked(enum.StrEnum):
    """Why a recipient's copy tracks less than it could, in words a sender reads."""

    KILL_SWITCH = "tracking is turned off on this server"
    DO_NOT_TRACK = "recipient is on the do-not-track list"
    SENDER_COPY = "the sender's own copy"
    HEADER_NONE = "X-Mailbeacon-Track: none"
    DKIM_SIGNED = "not trackable: already DKIM-signed by the sender"
    SHARED_EXCLUDED = "not in the shared copy"


@dataclass(frozen=True, slots=True)
class Switches:
    """Server-wide settings (`mailbeacon serve` options)."""

    tracking: bool = True
    """The global kill switch: False sends every copy untouched."""
    opens: bool = True
    clicks: bool = True
    split: bool = True
    """One copy per envelope recipient; False sends one copy with one shared pixel."""
    honeypot: bool = False
    """Add the invisible honeypot link to tracked copies (campaigns always do)."""
    instrument_dkim_signed: bool = False
    """Instrument mail that arrives DKIM-signed (its signature will fail unless we re-sign)."""


@dataclass(frozen=True, slots=True)
class Decision:
    opens: bool
    clicks: bool
    reason: Untracked | None = None
    """Set when nothing is tracked."""

    @property
    def anything(self) -> bool:
        return self.opens or self.clicks


NOTHING = Decision(False, False)
TRACK_HEADER = "X-Mailbeacon-Track"
TRACK_VALUES = ("none", "opens", "all")


def decide(
    switches: Switches,
    *,
    seat: str,
    header: str | None,
    on_do_not_track: bool,
    is_sender: bool,
    campaign: bool = False,
) -> Decision:
    """What to track in one recipient's copy.

    >>> decide(Switches(), seat="basic", header=None, on_do_not_track=False, is_sender=False)
    Decision(opens=True, clicks=False, reason=None)
    >>> decide(Switches(), seat="sales", header="opens", on_do_not_track=False, is_sender=False)
    Decision(opens=True, clicks=False, reason=None)
    >>> decide(Switches(), seat="sales", header=None, on_do_not_track=True, is_sender=False).reason
    <Untracked.DO_NOT_TRACK: 'recipient is on the do-not-track list'>
    """
    if not switches.tracking:
        return Decision(False, False, Untracked.KILL_SWITCH)
    if on_do_not_track:
        return Decision(False, False, Untracked.DO_NOT_TRACK)
    if is_sender:
        return Decision(False, False, Untracked.SENDER_COPY)
    if header == "none":
        return Decision(False, False, Untracked.HEADER_NONE)
    clicks = switches.clicks and (campaign or seat == "sales") and header != "opens"
    return Decision(switches.opens, clicks)


def track_header(values: list[str]) -> str | None:
    """The last valid `X-Mailbeacon-Track` value, lower-cased; None if there is none.

    >>> track_header(["All"]), track_header(["bogus"]), track_header([])
    ('all', None, None)
    """
    for value in reversed(values):
        if value.strip().lower() in TRACK_VALUES:
            return value.strip().lower()
    return None
