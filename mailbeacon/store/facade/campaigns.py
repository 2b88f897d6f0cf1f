"""Campaign contacts and lists, sends with their cursor, and reports."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence

from mailbeacon.store import campaign_control as control
from mailbeacon.store import suppressions
from mailbeacon.store.backend import Lock
from mailbeacon.store.campaign_reports import (
    EXPORT_CHUNK,
    CampaignReport,
    CampaignSummary,
    RecipientRow,
    campaign_visible,
    select_campaign_report,
    select_field_names,
    select_recipients,
    select_summaries,
    select_summary,
)
from mailbeacon.store.campaigns import (
    CampaignBatch,
    CampaignProgress,
    CampaignRow,
    NewCampaign,
    insert_campaign,
    mark_done,
    mark_queued,
    save_campaign_batch,
    select_campaign,
    select_campaigns,
    select_links,
    select_progress,
    select_skips,
    update_rate,
)
from mailbeacon.store.contacts import (
    ContactList,
    ContactRow,
    ImportCounts,
    NewContact,
    clear_unsubscribed,
    ensure_list,
    mark_unsubscribed,
    select_contact_by_email,
    select_contact_by_id,
    select_list_names_of,
    select_lists,
    select_members_after,
    upsert_contacts,
)
from mailbeacon.store.facade.base import StoreBase


class CampaignQueries(StoreBase):
    def import_contacts(
        self, list_name: str, contacts: Iterable[NewContact], batch_size: int = 1000
    ) -> ImportCounts:
        """Create or update contacts (valid addresses; stored lower-cased, one per address) and put them on
        the list, creating it. One transaction per batch: a crash keeps whole batches, a re-run does the rest."""
        with self._translated("create a contact list"), self._write() as conn:
            list_id = ensure_list(conn, list_name, time.time())
        total = ImportCounts()
        rows = iter(contacts)
        while batch := list(itertools.islice(rows, batch_size)):
            with self._translated(f"import {len(batch)} contacts"), self._write() as conn:
                total += upsert_contacts(conn, list_id, batch, time.time())
        return total

    def lists(self) -> list[ContactList]:
        """Every contact list with its member counts, by name."""
        with self._translated("read contact lists"), self._read() as conn:
            return select_lists(conn)

    def list_named(self, name: str) -> ContactList | None:
        with self._translated("read a contact list"), self._read() as conn:
            found = select_lists(conn, name)
        return found[0] if found else None

    def members_after(
        self, list_id: int, after_contact_id: int, limit: int, include_unsubscribed: bool = False
    ) -> list[ContactRow]:
        """Up to `limit` members with contact id > `after_contact_id`, in contact id order (a send cursor's walk);
        unsubscribed members are left out unless asked for."""
        with self._translated("read list members"), self._read() as conn:
            return select_members_after(conn, list_id, after_contact_id, limit, include_unsubscribed)

    def contact_by_email(self, email: str) -> ContactRow | None:
        """The contact with this address in any case."""
        with self._translated("read a contact"), self._read() as conn:
            return select_contact_by_email(conn, email)

    def contact_by_id(self, contact_id: int) -> ContactRow | None:
        with self._translated("read a contact"), self._read() as conn:
            return select_contact_by_id(conn, contact_id)

    def lists_of(self, contact_id: int) -> list[str]:
        """The names of the lists a contact is on."""
        with self._translated("read a contact's lists"), self._read() as conn:
            return select_list_names_of(conn, contact_id)

    def unsubscribe(self, contact_id: int, source: str, campaign_id: int | None = None) -> ContactRow | None:
        """Unsubscribe a contact; idempotent, the first time (source, campaign) is kept. None: no such contact."""
        with self._translated("unsubscribe a contact"), self._write() as conn:
            row = mark_unsubscribed(conn, contact_id, source, campaign_id, time.time())
            if row is not None:  # on the suppression list too, in the same transaction (issue #15)
                suppressions.add(conn, row.email, "unsubscribe", f"by {source}", time.time())
            return row

    def resubscribe(self, contact_id: int) -> ContactRow | None:
        """Undo an unsubscribe (the operator's CLI only: no web route does this). None: no such contact."""
        with self._translated("resubscribe a contact"), self._write() as conn:
            row = clear_unsubscribed(conn, contact_id, time.time())
            if row is not None:
                suppressions.remove_unsubscribe(conn, row.email)
            return row

    def create_campaign(self, new: NewCampaign) -> CampaignRow:
        """The campaign with its one message, sending from the start of its list; StoreConflict if the name
        (or a referenced user or list) is wrong."""
        with self._translated("create a campaign"), self._write() as conn:
            return insert_campaign(conn, new, time.time())

    def campaign_named(self, name: str) -> CampaignRow | None:
        with self._translated("read a campaign"), self._read() as conn:
            return select_campaign(conn, name=name)

    def campaign(self, campaign_id: int) -> CampaignRow | None:
        with self._translated("read a campaign"), self._read() as conn:
            return select_campaign(conn, campaign_id=campaign_id)

    def campaigns(self) -> list[CampaignRow]:
        """Every campaign, newest first."""
        with self._translated("read campaigns"), self._read() as conn:
            return select_campaigns(conn)

    def campaign_links(self, message_id: int) -> dict[str, int]:
        """URL -> link index of the campaign's message so far."""
        with self._translated("read a campaign's links"), self._read() as conn:
            return select_links(conn, message_id)

    def set_campaign_rate(self, campaign_id: int, rate: float | None) -> None:
        with self._translated("change a campaign's rate"), self._write() as conn:
            update_rate(conn, campaign_id, rate)

    def queue_campaign_batch(self, batch: CampaignBatch) -> bool:
        """Deliveries, campaign_sends and outbound rows of one batch, its new links and the moved cursor, in
        one transaction; False (nothing written) if the cursor moved meanwhile or the campaign stopped."""
        with self._translated(f"queue {len(batch.copies)} campaign copies"), self._write(Lock.OUTBOUND) as conn:
            return save_campaign_batch(conn, batch, time.time())

    def campaign_queued(self, campaign_id: int, cursor: int) -> bool:
        """Mark the send over (every member queued or skipped); False if the cursor is not `cursor`."""
        with self._translated("finish queueing a campaign"), self._write() as conn:
            return mark_queued(conn, campaign_id, cursor, time.time())

    def campaign_progress(self, campaign_id: int) -> CampaignProgress | None:
        """The campaign's copies by delivery status; a queued campaign with nothing waiting becomes done."""
        with self._translated("read a campaign's progress"):
            with self._read() as conn:
                progress = select_progress(conn, campaign_id)
            if progress is None or progress.campaign.status != "queued" or progress.pending:
                return progress
            with self._write() as conn:
                mark_done(conn, campaign_id, time.time())
            with self._read() as conn:
                return select_progress(conn, campaign_id)

    def pause_campaign(self, campaign_id: int) -> bool:
        """Stop queueing between two batches and hold the queued copies; False if paused already or over."""
        with self._translated("pause a campaign"), self._write(Lock.OUTBOUND) as conn:
            return control.pause(conn, campaign_id, time.time())

    def resume_campaign(self, campaign_id: int) -> bool:
        """Release a paused campaign's held copies (the queueing goes on where a sender runs it); False if
        it was not paused."""
        with self._translated("resume a campaign"), self._write(Lock.OUTBOUND) as conn:
            return control.resume(conn, campaign_id, time.time())

    def cancel_campaign(self, campaign_id: int) -> bool:
        """Stop the campaign for good and withdraw its copies not sent yet; False if it was over already."""
        with self._translated("cancel a campaign"), self._write(Lock.OUTBOUND) as conn:
            return control.cancel(conn, campaign_id, time.time())

    def campaign_last_due(self, campaign_id: int) -> float | None:
        """When the campaign's last queued copy may leave; None if none waits."""
        with self._translated("read a campaign's queue"), self._read() as conn:
            return control.last_due(conn, campaign_id)

    def campaign_skips(self, campaign_id: int, limit: int = 20) -> list[tuple[str, str]]:
        """(address, why) of members whose copy could not be made (the unsubscribed left out)."""
        with self._translated("read a campaign's skips"), self._read() as conn:
            return select_skips(conn, campaign_id, limit)

    def campaign_summaries(
        self, user_id: int | None, before: int | None = None, limit: int = 50
    ) -> tuple[list[CampaignSummary], bool]:
        """Campaigns newest first (id < `before`), `user_id`'s or everyone's (None), with their headline
        numbers; True if more follow."""
        with self._translated("read campaigns"), self._read() as conn:
            found, more = select_summaries(conn, user_id, before, limit)
        if any(_delivered(s) for s in found):
            self._settle([s.id for s in found if _delivered(s)])
            with self._translated("read campaigns"), self._read() as conn:
                found, more = select_summaries(conn, user_id, before, limit)
        return found, more

    def campaign_summary(self, campaign_id: int) -> CampaignSummary | None:
        with self._translated("read a campaign"), self._read() as conn:
            found = select_summary(conn, campaign_id)
        if found is not None and _delivered(found):
            self._settle([campaign_id])
            with self._translated("read a campaign"), self._read() as conn:
                found = select_summary(conn, campaign_id)
        return found

    def campaign_visible(self, campaign_id: int, user_id: int | None) -> bool:
        """The campaign exists and is `user_id`'s (None: anyone's, for an admin)."""
        with self._translated("look up a campaign"), self._read() as conn:
            return campaign_visible(conn, campaign_id, user_id)

    def campaign_report(self, campaign_id: int, bucket: int = 3600) -> CampaignReport | None:
        """Progress, counts over time (`bucket` seconds, a multiple of an hour), links, clients, untracked
        copies, unsubscribes and bounces of one campaign; None if there is no such campaign."""
        with self._translated("read a campaign report"), self._read() as conn:
            found = select_campaign_report(conn, campaign_id, bucket)
        if found is not None and _delivered(found.summary):
            self._settle([campaign_id])
            with self._translated("read a campaign report"), self._read() as conn:
                found = select_campaign_report(conn, campaign_id, bucket)
        return found

    def _settle(self, campaign_ids: Sequence[int]) -> None:
        """Queued campaigns none of whose copies waits any more become done (as `campaign_progress` does)."""
        with self._translated("finish a campaign"), self._write() as conn:
            for campaign_id in campaign_ids:
                mark_done(conn, campaign_id, time.time())

    def campaign_field_names(self, campaign_id: int, limit: int = 100) -> list[str]:
        """The names of the fields (first_name, ...) the campaign's contacts have, sorted."""
        with self._translated("read a campaign's contact fields"), self._read() as conn:
            return select_field_names(conn, campaign_id, limit)

    def campaign_recipients(self, campaign_id: int, chunk: int = EXPORT_CHUNK) -> Iterator[RecipientRow]:
        """Every member the campaign reached (copied or skipped), in contact order, read `chunk` at a time,
        each chunk in a read transaction of its own: an export of any size holds no transaction open."""
        after = 0
        while True:
            with self._translated("read a campaign's recipients"), self._read() as conn:
                rows = select_recipients(conn, campaign_id, after, chunk)
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1].contact_id


def _delivered(summary: CampaignSummary) -> bool:
    """Every copy queued and none waiting, though the campaign does not say done yet."""
    return summary.status == "queued" and summary.pending == 0
