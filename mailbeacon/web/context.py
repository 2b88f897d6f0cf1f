"""What every route module of the web app is built from: one `Web` per server process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailbeacon.campaigns.runner import CampaignRunner
from mailbeacon.outbound.worker import OutboundStats
from mailbeacon.store import SessionLimits, Store
from mailbeacon.submission import Submitter
from mailbeacon.web.tracking import Tracking
from mailbeacon.webhooks import Destinations


@dataclass
class Web:
    store: Store
    tracking: Tracking
    session_secret: str
    """Signs the dashboard's session cookies."""
    submitter: Submitter | None = None
    """Takes `POST /api/v1/messages`; None: this server does not send mail."""
    queued: Callable[[], None] = lambda: None
    """Told when copies wait in the outbound queue."""
    outbound: OutboundStats | None = None
    data_dir: Path | None = None
    """Where the capture mailbox lives (DATA/captured)."""
    secure_cookies: bool = False
    """Cookies only over HTTPS: set when the base URL is https."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server begins to shut down: long-lived responses (the live stream) end then,
    as uvicorn waits for every open response before it stops."""
    webhooks_queued: Callable[[], None] = lambda: None
    """Told when a webhook message is queued here (a test, a redelivery): wakes this process's delivery worker."""
    campaigns: CampaignRunner | None = None
    """Queues campaigns started from the dashboard; None: this server does not start campaigns."""
    webhook_destinations: Destinations = field(default_factory=Destinations)
    """Where webhook endpoints may point (issue #12): checked when one is saved."""
    extras: dict[str, object] = field(default_factory=dict)
    session_limits: SessionLimits = SessionLimits()
    """How long a dashboard session lives when idle, and at most (issue #12, item 13)."""
    public_metrics: bool = False
    """`/metrics` for anyone; otherwise only with an admin's API key (issue #12, item 17)."""
