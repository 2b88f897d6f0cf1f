"""Campaigns started from the dashboard: queued in a thread of the server, by the engine the CLI runs.

`mailbeacon campaign send` queues in the terminal; a campaign started from the dashboard is
queued the same way (`CampaignSender`, a batch per transaction with its compare-and-set
cursor) in a background thread of the server process that took the form, and the outbound
worker delivers it. Stopping the server, or pausing or cancelling the campaign (from
anywhere: the thread looks before each batch), stops the thread between two batches; the
cursor lets the dashboard's Resume (or `mailbeacon campaign resume NAME`) go on without
mailing anyone twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from mailbeacon.campaigns.sending import CampaignSender, CampaignSpec, open_campaign
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import CampaignRow, Store
from mailbeacon.submission.dkim import DkimSigner
from mailbeacon.tokens import Keyring

log = logging.getLogger(__name__)

STOP_WAIT = 30.0
"""Seconds a stopping server waits for a batch in progress to be written."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How this process's last run of a campaign ended."""

    error: str | None = None
    """Why it stopped early, in words for the dashboard; None if it queued the whole list."""
    render_errors: int = 0
    """Members skipped because their copy could not be rendered."""


class CampaignRunner:
    """Queues campaigns in background threads of this process, one thread per campaign."""

    def __init__(self, store: Store, keyring: Keyring, base_url: str, dkim: DkimSigner | None = None) -> None:
        self._store = store
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
        False if this process queues it already, or is stopping."""
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

    def _run(self, campaign: CampaignRow, queued: Callable[[], None]) -> None:
        outcome = RunOutcome()
        try:
            sender = CampaignSender(self._store, self._keyring, campaign, dkim=self._dkim)
            progress = sender.run(self._stopping.is_set, lambda progress: queued())
            outcome = RunOutcome(render_errors=len(progress.errors))
            if progress.stopped:
                outcome = RunOutcome("the server stopped before every copy was queued: resume it", len(progress.errors))
        except MailbeaconError as exc:  # raced by another run, the database gone for a minute
            log.warning("campaign %s stopped: %s", campaign.name, exc)
            outcome = RunOutcome(str(exc))
        except Exception:  # noqa: BLE001 - a thread reports, it must not die silently
            log.exception("campaign %s failed", campaign.name)
            outcome = RunOutcome("an unexpected error stopped it (see the server's log): resume it")
        finally:
            with self._lock:
                self._outcomes[campaign.id] = outcome
