"""What to track in one delivery: the switches every sender of mail sets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    """What to track in one delivery.

    >>> Plan(clicks=False).opens
    True
    """

    opens: bool = True
    clicks: bool = True
    pixel_at_top: bool = False
    """Put the pixel right after <body> even when the message is short."""
    honeypot: bool = False
    """Add one invisible link no person can see or reach (with click tracking): a click on it is a machine's."""
    utm: str = ""
    """Query parameters (`utm_source=news&utm_campaign=nov`) added to every tracked link's
    destination, signed into its token so the redirect still needs no database; a
    parameter the link already has is kept as it is."""
