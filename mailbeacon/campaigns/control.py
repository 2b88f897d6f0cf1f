"""Pause, resume and cancel of a campaign, as the CLI, the API and the dashboard ask for them (issue #13).

Each takes effect between two batches of the queueing (wherever it runs: a terminal's
`campaign send`, a server's thread) and at once in the outbound queue: pausing holds the
copies queued but not sent yet, which go out after the resume; cancelling withdraws them
(they are never sent, the report counts them `withdrawn`). Copies already handed to the
upstream connection are not called back. Asking again for what is already so (pause a paused
campaign) changes nothing and is no error; asking what cannot be (resume a cancelled one) is.
"""

from __future__ import annotations

from collections.abc import Callable

from mailbeacon.campaigns.sending import CampaignError, resumable
from mailbeacon.store import CampaignRow, Store

LIVE = ("sending", "queued")
"""Statuses in which a campaign can still be paused or cancelled."""


class CampaignStateError(CampaignError):
    """The campaign's state does not allow what was asked (a done campaign cannot be paused): HTTP 409."""


def pause(store: Store, campaign: CampaignRow) -> CampaignRow:
    """Pause the campaign (it may be paused already); CampaignStateError if it is over."""
    if campaign.status not in LIVE:
        raise CampaignStateError(f"campaign {campaign.name!r} is {campaign.status}: there is nothing to pause")
    store.pause_campaign(campaign.id)
    return _reread(store, campaign)


def resume(store: Store, campaign: CampaignRow, start: Callable[[CampaignRow], object] | None = None) -> CampaignRow:
    """Lift a pause and, if members are left to queue, `start(campaign)` the queueing (a server's thread;
    the CLI queues in the terminal itself). CampaignStateError if it was cancelled or is done."""
    if campaign.status not in LIVE:
        raise CampaignStateError(f"campaign {campaign.name!r} is {campaign.status}: there is nothing to resume")
    try:
        row = resumable(store, campaign, unpause=True)
    except CampaignError as exc:  # cancelled meanwhile
        raise CampaignStateError(str(exc)) from exc
    if row.status == "sending" and start is not None:
        start(row)
    return row


def cancel(store: Store, campaign: CampaignRow) -> CampaignRow:
    """Cancel the campaign for good (it may be cancelled already); CampaignStateError if it is done."""
    if campaign.status == "done":
        raise CampaignStateError(f"campaign {campaign.name!r} is done: every copy was sent or bounced")
    if campaign.status != "cancelled":
        store.cancel_campaign(campaign.id)
    return _reread(store, campaign)


def _reread(store: Store, campaign: CampaignRow) -> CampaignRow:
    found = store.campaign(campaign.id)
    if found is None:
        raise CampaignStateError(f"campaign {campaign.name!r} is gone")
    return found
