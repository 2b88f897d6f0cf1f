"""Pause, resume and cancel as the API and the dashboard's buttons do them: one path for both (issue #13).

The state change is `campaigns/control.py`'s; here a resumed campaign with members left to
queue is handed to this server's CampaignRunner (a thread), and the outbound worker is woken,
since held copies are due again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from mailbeacon.campaigns import control
from mailbeacon.store import CampaignRow
from mailbeacon.web.context import Web

ACTIONS = ("pause", "resume", "cancel")


def wake_from_thread(wake: Callable[[], None]) -> Callable[[], None]:
    """`wake` (the outbound worker's, an asyncio object) made callable from a campaign's thread."""
    loop = asyncio.get_running_loop()

    def woken() -> None:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the loop closed: the server is stopping, the worker polls anyway
            pass

    return woken


async def apply(web: Web, campaign: CampaignRow, action: str) -> CampaignRow:
    """Do `action` (one of ACTIONS) to the campaign; CampaignStateError if its state does not allow it."""
    store = web.store
    if action == "pause":
        return await run_in_threadpool(control.pause, store, campaign)
    if action == "cancel":
        return await run_in_threadpool(control.cancel, store, campaign)
    if action != "resume":
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    runner, wake = web.campaigns, wake_from_thread(web.queued)

    def start(row: CampaignRow) -> None:
        if runner is not None:
            runner.start(row, wake)

    row = await run_in_threadpool(control.resume, store, campaign, start)
    web.queued()  # the held copies are due again
    return row
