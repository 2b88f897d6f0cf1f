"""Queue a campaign: every subscribed member of its list gets exactly one copy, however often it stops.

The send walks the list after the campaign's cursor, a batch of members at a
time. Each member's copy is rendered from the stored templates, composed,
tracked (opens, clicks and the honeypot link; do-not-track contacts get an
untouched copy) and DKIM-signed; then the whole batch is written in one
transaction that also moves the cursor (store/campaigns.py). Killed before
that commit, the batch is done again by the next run; after it, never again.
Memory holds one batch, whatever the size of the list. Delivery is the outbound
worker's job (the running `mailbeacon serve`), paced by the campaign's rate
through each copy's `next_attempt_at`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate

from mailbeacon.campaigns.compose import parse_from
from mailbeacon.campaigns.copies import CopyMaker
from mailbeacon.campaigns.links import CampaignLinks
from mailbeacon.campaigns.templates import CampaignTemplate, TemplateError
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import (
    CampaignBatch,
    CampaignCopy,
    CampaignRow,
    NewCampaign,
    Store,
    StoreConflict,
    patiently,
)
from mailbeacon.submission.dkim import DkimSigner
from mailbeacon.tokens import Keyring

BATCH = 250
"""Members per transaction: the write lock (which the tracking hot path needs too) is held for
milliseconds, and a crash redoes at most this many renders."""
WRITE_PATIENCE = 60.0
"""Seconds a batch waits for a busy database before the send stops (a later run goes on)."""


class CampaignError(MailbeaconError):
    """A campaign cannot be started or resumed as asked; the message says what to do."""


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What `mailbeacon campaign send` was given."""

    name: str
    list_name: str
    html: str
    text: str | None
    subject: str
    from_address: str
    base_url: str
    rate: float | None = None
    user_email: str | None = None
    """Whose campaign it is; None: the first admin."""


@dataclass(slots=True)
class Progress:
    """Where a run stands after each batch."""

    total: int
    queued: int
    skipped: int
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(address, error) of members skipped because their copy could not be rendered, this run."""
    done: bool = False
    stopped: bool = False
    """`should_stop()` said so (Ctrl-C, a stopping server)."""
    paused: bool = False
    """The campaign was paused (the dashboard, the API, `mailbeacon campaign pause`): resume goes on."""
    cancelled: bool = False
    """The campaign was cancelled: nothing more is queued."""


def open_campaign(store: Store, spec: CampaignSpec) -> tuple[CampaignRow, bool]:
    """The campaign named `spec.name`: created, or found with the same parameters (True: it existed).

    CampaignError if a campaign of that name differs (another template, list, subject, sender),
    was cancelled, or the list, user or templates are wrong."""
    CampaignTemplate.from_strings(spec.html, spec.text, subject=spec.subject)  # TemplateError with the line
    parse_from(spec.from_address)
    found = store.list_named(spec.list_name)
    if found is None:
        names = ", ".join(item.name for item in store.lists()) or "none yet (mailbeacon contacts import)"
        raise CampaignError(f"no list {spec.list_name!r}; the lists are: {names}")
    existing = store.campaign_named(spec.name)
    if existing is not None and spec.user_email is None:
        user_id = existing.user_id  # resuming without --as: whoever it was sent as
    else:
        user_id = _user_id(store, spec.user_email)
    new = NewCampaign(
        name=spec.name, user_id=user_id, list_id=found.id, subject=spec.subject, from_address=spec.from_address,
        html=spec.html, text=spec.text, base_url=spec.base_url.rstrip("/"), rate=spec.rate,
    )
    if existing is None:
        try:
            return store.create_campaign(new), False
        except StoreConflict:
            existing = store.campaign_named(spec.name)  # created by another run just now
            if existing is None:
                raise
    differs = _differences(existing, new)
    if differs:
        raise CampaignError(
            f"a campaign named {spec.name!r} exists with another {', '.join(differs)}: it cannot be resumed "
            f"with these; give a new --name, or `mailbeacon campaign resume {spec.name}` to go on as stored"
        )
    return resumable(store, existing, spec.rate), True


def resumable(store: Store, campaign: CampaignRow, rate: float | None = None, unpause: bool = False) -> CampaignRow:
    """The campaign, ready to go on (with a new rate if one is given, its pause lifted if `unpause`);
    CampaignError if it was cancelled, or is paused and not `unpause`."""
    if campaign.status == "cancelled":
        raise CampaignError(f"campaign {campaign.name!r} was cancelled; it cannot be resumed")
    changed = False
    if campaign.paused_at is not None:
        if not unpause:
            raise CampaignError(f"campaign {campaign.name!r} is paused; `mailbeacon campaign resume {campaign.name}` "
                                "goes on with it")
        changed = store.resume_campaign(campaign.id)
    if rate is not None and rate != campaign.rate:
        store.set_campaign_rate(campaign.id, rate)
        changed = True
    if not changed:
        return campaign
    found = store.campaign(campaign.id)
    if found is None or found.status == "cancelled":
        raise CampaignError(f"campaign {campaign.name!r} was cancelled; it cannot be resumed")
    return found


class CampaignSender:
    """Queues the rest of one campaign, a batch per transaction."""

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        campaign: CampaignRow,
        *,
        dkim: DkimSigner | None = None,
        batch: int = BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._campaign = campaign
        self._dkim = dkim
        self._batch = batch
        self._clock = clock
        self._sender = parse_from(campaign.from_address)

    def run(self, should_stop: Callable[[], bool] = lambda: False,
            on_batch: Callable[[Progress], None] = lambda progress: None) -> Progress:
        """Queue batches until the list is done, or `should_stop()` says so, or the campaign is paused or
        cancelled (checked before each batch, and by the batch's write itself)."""
        campaign = self._campaign
        store = self._store
        links = CampaignLinks(store.campaign_links(campaign.message_id))
        maker = CopyMaker(campaign, self._keyring, links, self._dkim)
        progress = Progress(campaign.total, campaign.queued, campaign.skipped)
        cursor, index = campaign.cursor, campaign.queued
        pace = (self._clock(), index)  # copy `index` may leave now; later ones follow at the rate
        if campaign.status != "sending":
            progress.done = True
            return progress
        last_due = store.campaign_last_due(campaign.id) if campaign.rate is not None else None
        if campaign.rate is not None and last_due is not None:  # after a pause: behind the copies still waiting
            pace = (max(pace[0], last_due + 1 / campaign.rate), index)
        while True:
            if should_stop():
                progress.stopped = True
                return progress
            if self._halted(progress):
                return progress
            members = store.members_after(campaign.list_id, cursor, self._batch, include_unsubscribed=True)
            if not members:
                if not patiently(lambda: store.campaign_queued(campaign.id, cursor), WRITE_PATIENCE):
                    self._raced(cursor, progress)
                progress.done = not (progress.cancelled or progress.paused)
                on_batch(progress)
                return progress
            now = self._clock()
            date = formatdate(now, usegmt=True)
            on_list = set(store.do_not_track([m.email for m in members if m.is_subscribed], campaign.user_id))
            suppressed = store.suppressed([m.email for m in members if m.is_subscribed])  # issue #15
            copies: list[CampaignCopy] = []
            skips: list[tuple[int, str]] = []
            for member in members:
                if not member.is_subscribed:
                    skips.append((member.id, "unsubscribed"))
                    continue
                if (found := suppressed.get(member.email.strip().lower())) is not None:
                    skips.append((member.id, f"suppressed: {found.reason.replace('_', ' ')}"))
                    continue
                try:
                    made = maker.make(member, date, member.email in on_list)
                except TemplateError as exc:
                    skips.append((member.id, str(exc)))
                    progress.errors.append((member.email, str(exc)))
                    continue
                due = now if campaign.rate is None else max(
                    now, pace[0] + (index + len(copies) - pace[1]) / campaign.rate,
                    (campaign.started_at or now) + (index + len(copies)) / campaign.rate,
                )
                copies.append(CampaignCopy(member.id, made.delivery_key, member.email, made.body, made.opens_tracked,
                                           made.clicks_tracked, made.untracked_reason, due, made.subject))
            batch = CampaignBatch(
                campaign_id=campaign.id, after=cursor, cursor=members[-1].id, mail_from=self._sender.address,
                copies=copies, skips=skips, links=links.take_new(),
            )
            if not patiently(lambda: store.queue_campaign_batch(batch), WRITE_PATIENCE) \
                    and not self._raced(cursor, progress, batch):
                return progress  # paused or cancelled while this batch was made: it is dropped, resume redoes it
            cursor, index = batch.cursor, index + len(copies)
            progress.queued += len(copies)
            progress.skipped += len(skips)
            progress.total = max(progress.total, progress.queued + progress.skipped)
            on_batch(progress)

    def _halted(self, progress: Progress) -> bool:
        """The campaign was paused or cancelled elsewhere (issue #13): say so in `progress`; True to stop."""
        now = self._store.campaign(self._campaign.id)
        progress.cancelled = now is None or now.status == "cancelled"
        progress.paused = now is not None and now.paused_at is not None
        return progress.cancelled or progress.paused

    def _raced(self, cursor: int, progress: Progress, batch: CampaignBatch | None = None) -> bool:
        """The write found the campaign changed. True if it was this very write, landing before an error was
        reported, or (at the list's end) another run finished it; False if the campaign was paused or cancelled
        meanwhile (`progress` says which); otherwise another run is sending it: CampaignError."""
        now = self._store.campaign(self._campaign.id)
        if batch is not None and now is not None and now.cursor == batch.cursor:
            return True  # our own write, committed after all
        if self._halted(progress):
            return False
        if batch is None and now is not None and now.status != "sending":
            return True  # finished by the other run: nothing left to do
        raise CampaignError(
            f"another run is queueing campaign {self._campaign.name!r} (its cursor moved from {cursor}); "
            "this one stops, the other goes on"
        )


def _user_id(store: Store, email: str | None) -> int:
    if email is not None:
        user = store.user_by_email(email)
        if user is None:
            raise CampaignError(f"no user {email!r}; `mailbeacon user list` shows who there is")
        return user.id
    admins = [user for user in store.users() if user.is_admin]
    if not admins:
        raise CampaignError("no admin user to send as: give --as EMAIL, or create one with "
                            "`mailbeacon user add EMAIL --admin`")
    return min(admins, key=lambda user: user.id).id


def _differences(existing: CampaignRow, new: NewCampaign) -> list[str]:
    fields = {
        "list": (existing.list_id, new.list_id), "HTML template": (existing.html, new.html),
        "text template": (existing.text, new.text), "subject": (existing.subject, new.subject),
        "From address": (existing.from_address, new.from_address), "sender (--as)": (existing.user_id, new.user_id),
        "base URL": (existing.base_url, new.base_url),
    }
    return [name for name, (old, now) in fields.items() if old != now]
