"""Value types that cross layers: what the hot path records, before anything is derived.

Stdlib only, so web, ingest, store and the pipeline can share them without
importing each other.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class EventKind(enum.StrEnum):
    OPEN = "open"
    CLICK = "click"


class RawEvent(NamedTuple):
    """One pixel load or link click exactly as it reached us; classification comes later.

    A NamedTuple, not a frozen dataclass: one is built per request on the hot
    path, and a tuple is built in C.
    """

    uid: bytes
    """16 random bytes per request: replaying the spool twice stores the event once."""
    kind: EventKind
    delivery: bytes
    """Delivery id from the verified token (one message to one recipient)."""
    link: int | None
    """Click only: the link index in the message."""
    url: str | None
    """Click only: the target the reader was sent to."""
    occurred_at: float
    """Unix time in seconds, when the request arrived."""
    ip: str
    user_agent: str
    method: str


HONEYPOT_LINK = 0xFFFF
"""Link index of the invisible honeypot link: no person can see or reach it, so a click on it is a machine's."""
HONEYPOT_TARGET = "https://honeypot.invalid/"
"""Where the honeypot leads: a name that never resolves, so a scanner that follows it reaches nobody."""
