"""Campaigns started from the dashboard: queued in a thread of the server, by the engine the CLI runs.

`mailbeacon campaign send` queues in the terminal; a campaign started from the dashboard is
queued the same way (`CampaignSender`, a batch per transaction with its compare-and-set
cursor) in a background thread of the server process that took the form, and the outbound
worker delivers it. Stopping the server, or pausing or cancelling the campaign (from
anywhere: the thread looks before each batch), stops the thread between two batches; the
cursor lets the dashboard's Resume (or `mailbeacon campaign resume NAME`) go on without
mailing anyone twice. With many nodes (issue #17) the run holds the campaign's lease: a node
that dies or stops leaves it to expire or released, and another node's `adopt` goes on with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from mailbeacon.campaigns.sending import CampaignSender, CampaignSpec, open_campaign
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import CampaignRow, Store, StoreUnavailable, Tenures
from mailbeacon.submission.dkim import DkimSigner
from mailbeacon.tokens import Keyring

log = logging.getLogger(__name__)

STOP_WAIT = 30.0
"""Seconds a stopping server waits for a batch in progress to be written."""
LEASE = "campaign:"
"""The lease of campaign 7 is "campaign:7"."""


def lease_name(campaign_id: int) -> str:
    return f"{LEASE}{campaign_id}"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How this process's last run of a campaign ended."""

    error: str | None = None
    """Why it stopped early, in words for the dashboard; None if it queued the whole list."""
    render_errors: int = 0
    """Members skipped because their copy could not be rendered."""


class CampaignRunner:
    """Queues campaigns in background threads of this process, one thread per campaign."""

    def __init__(
        self, store: Store, keyring: Keyring, base_url: str, dkim: DkimSigner | None = None,
        tenures: Tenures | None = None, local: bool = True,
    ) -> None:
        """`tenures`: hold each campaign's lease while queueing it here (issue #17); `local` False (a node
        without the worker role): hand each campaign started here to the worker nodes instead."""
        self._store = store
        self._tenures = tenures
        self._local = local
        self._keyring = keyring
        self.base_url = base_url.rstrip("/")
        """Where tracking and unsubscribe links point: the server's public URL."""
        self._dkim = dkim
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._outcomes: dict[int, RunOutcome] = {}
        self._stopping = threading.Event()

    def create(self, spec: CampaignSpec) -> CampaignRow:
        """The new campaign (CampaignError, TemplateError: what is wrong with the form); not started yet."""
        return open_campaign(self._store, spec)[0]

    def start(self, campaign: CampaignRow, queued: Callable[[], None] = lambda: None) -> bool:
        """Queue the rest of the campaign in a thread; `queued()` is called (from that thread) after each batch.
        False if this process queues it already, or is stopping. Without the worker role here, it is handed
        to the worker nodes instead (one of them goes on with it within seconds)."""
        if self._tenures is not None and not self._local:
            if self._stopping.is_set():
                return False
            # Off the caller's event loop: a frozen database must not hold the tracking hot path (issue #12).
            threading.Thread(target=self._offer, args=(campaign,), name=f"offer-{campaign.id}", daemon=True).start()
            return True
        with self._lock:
            running = self._threads.get(campaign.id)
            if self._stopping.is_set() or (running is not None and running.is_alive()):
                return False
            thread = threading.Thread(
                target=self._run, args=(campaign, queued), name=f"campaign-{campaign.id}", daemon=True
            )
            self._threads[campaign.id] = thread
            self._outcomes.pop(campaign.id, None)
            thread.start()
        return True

    def is_running(self, campaign_id: int) -> bool:
        with self._lock:
            thread = self._threads.get(campaign_id)
            return thread is not None and thread.is_alive()

    def outcome(self, campaign_id: int) -> RunOutcome | None:
        """How this process's last run of the campaign ended; None if none ended here (or one still runs)."""
        with self._lock:
            return self._outcomes.get(campaign_id)

    def stop(self, wait: float = STOP_WAIT) -> None:
        """Stop every run between two batches and wait for them (a batch being written is finished)."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(wait)

    def _offer(self, campaign: CampaignRow) -> None:
        """Hand the campaign to the worker nodes: its lease, free for any of them to take (issue #17)."""
        assert self._tenures is not None
        try:
            self._store.offer_lease(lease_name(campaign.id), self._tenures.node)
        except StoreUnavailable as exc:
            log.warning("campaign %s not handed to the workers (resume it): %s", campaign.name, exc)

    def adopt(self, queued: Callable[[], None] = lambda: None) -> int:
        """Go on here with the campaigns whose lease expired (their node died) or was released or offered;
        how many were started. Leases of campaigns no longer being queued are deleted."""
        if self._tenures is None or not self._local or self._stopping.is_set():
            return 0
        now, leases = self._store.leases(LEASE)
        started = 0
        for lease in leases:
            if lease.is_held(now) or self.is_running(campaign_id := int(lease.name.removeprefix(LEASE))):
                continue
            campaign = self._store.campaign(campaign_id)
            if campaign is None or campaign.status != "sending":
                self._store.forget_lease(lease)
            elif self.start(campaign, queued):
                started += 1
        return started

    def _run(self, campaign: CampaignRow, queued: Callable[[], None]) -> None:
        name = lease_name(campaign.id)
        tenures = self._tenures
        if tenures is not None and not tenures.acquire(name):
            with self._lock:
                self._outcomes[campaign.id] = RunOutcome(
                    "another node is queueing it, or the database was out of reach: resume it if it does not move"
                )
            return
        outcome = RunOutcome()
        done = False

        def should_stop() -> bool:
            return self._stopping.is_set() or (tenures is not None and not tenures.holds(name))

        try:
            sender = CampaignSender(self._store, self._keyring, campaign, dkim=self._dkim)
            progress = sender.run(should_stop, lambda progress: queued())
            done = progress.done
            outcome = RunOutcome(render_errors=len(progress.errors))
            if progress.stopped and not self._stopping.is_set():
                outcome = RunOutcome("its lease lapsed (the database was out of reach): another node goes on with it",
                                     len(progress.errors))
            elif progress.stopped:
                outcome = RunOutcome("the server stopped before every copy was queued: resume it", len(progress.errors))
        except MailbeaconError as exc:  # raced by another run, the database gone for a minute
            log.warning("campaign %s stopped: %s", campaign.name, exc)
            outcome = RunOutcome(str(exc))
        except Exception:  # noqa: BLE001 - a thread reports, it must not die silently
            log.exception("campaign %s failed", campaign.name)
            outcome = RunOutcome("an unexpected error stopped it (see the server's log): resume it")
        finally:
            if tenures is not None:  # done: nothing to adopt; otherwise another node may go on at once
                tenures.release(name, forget=done)
            with self._lock:
                self._outcomes[campaign.id] = outcome
