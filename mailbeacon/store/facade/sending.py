"""One-to-one mail: queueing copies, the outbound queue, the do-not-track list."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from mailbeacon.store.backend import Lock
from mailbeacon.store import suppressions
from mailbeacon.store.do_not_track import add_entry, remove_entry, select_all_entries, select_entries, select_untracked
from mailbeacon.store.outbound import (
    Copy,
    DeliveryRow,
    Queued,
    claim_due,
    DeliveryOutcome,
    finish,
    insert_outgoing,
    next_due,
    next_unleased,
    postpone,
    record_outcomes,
    release_claims,
    select_deliveries,
    select_delivery_senders,
)
from mailbeacon.store.facade.base import StoreBase
from mailbeacon.store.sent_copies import NewSentCopy, insert_sent_copy


class SendingQueries(StoreBase):
    def queue_message(
        self,
        *,
        user_id: int | None,
        sender: str | None,
        subject: str | None,
        message_id_header: str | None,
        source: str,
        mail_from: str,
        copies: Iterable[Copy],
        links: Sequence[tuple[int, str]],
        submitted_from: str | None = None,
        mailbox_id: int | None = None,
        sent_copy: NewSentCopy | None = None,
    ) -> int:
        """Record a message with its deliveries and queue every copy, in one transaction; returns its id.

        `copies` is read once, each copy written as it comes (an iterator keeps memory flat).
        `mailbox_id` routes them through the sender's connected mailbox, and `sent_copy` waits
        to be appended to its Sent folder (issue #14)."""
        with self._translated("queue a message"), self._write(Lock.OUTBOUND) as conn:
            message_id = insert_outgoing(
                conn,
                user_id=user_id,
                sender=sender,
                subject=subject,
                message_id_header=message_id_header,
                source=source,
                submitted_from=submitted_from,
                mail_from=mail_from,
                copies=copies,
                link_rows=links,
                now=time.time(),
                mailbox_id=mailbox_id,
            )
            if sent_copy is not None:
                insert_sent_copy(conn, message_id, sent_copy, time.time())
            return message_id

    def claim_outbound(self, limit: int, lease: float) -> list[Queued]:
        """Up to `limit` due copies, held for `lease` seconds against other workers (of any node: each
        claim skips the rows another is taking, issue #17)."""
        with self._translated("claim queued mail"), self._write() as conn:
            return claim_due(conn, time.time(), limit, lease)

    def release_outbound(self, outbound_ids: Sequence[int]) -> None:
        """Hand claimed copies back unsent, for any worker to claim at once."""
        with self._translated("hand back queued mail"), self._write() as conn:
            release_claims(conn, outbound_ids)

    def outbound_sent(self, outbound_id: int, reply: str, accepted_at: float) -> bool:
        with self._translated("record a sent copy"), self._write(Lock.OUTBOUND) as conn:
            return finish(conn, outbound_id, "sent", reply, accepted_at)

    def outbound_bounced(self, outbound_id: int, reply: str) -> bool:
        with self._translated("record a bounced copy"), self._write(Lock.OUTBOUND) as conn:
            return finish(conn, outbound_id, "bounced", reply, None)

    def outbound_retry(self, outbound_id: int, next_attempt_at: float, error: str) -> None:
        with self._translated("postpone a queued copy"), self._write(Lock.OUTBOUND) as conn:
            postpone(conn, outbound_id, next_attempt_at, error)

    def record_outbound(self, outcomes: Sequence[DeliveryOutcome]) -> int:
        """The outcomes of many copies in one transaction (one commit, not one each); how many applied."""
        with self._translated(f"record {len(outcomes)} copies' outcomes"), self._write(Lock.OUTBOUND) as conn:
            return record_outcomes(conn, outcomes)

    def next_claimable_at(self) -> float | None:
        """When the earliest copy no worker holds is due (None: none); cheap on a long queue."""
        with self._translated("read the queue"), self._read() as conn:
            return next_unleased(conn, time.time())

    def next_outbound_at(self) -> float | None:
        with self._translated("read the queue"), self._read() as conn:
            return next_due(conn)

    def deliveries_of(self, message_id: int) -> list[DeliveryRow]:
        with self._translated("read deliveries"), self._read() as conn:
            return select_deliveries(conn, message_id)

    def delivery_senders(self, keys: Sequence[bytes]) -> dict[bytes, int | None]:
        """Whose message each delivery key is (keys the store does not know are left out): who sent a copy."""
        with self._translated("read deliveries"), self._read() as conn:
            return select_delivery_senders(conn, keys)

    def suppress(self, address: str, reason: str, detail: str | None = None) -> bool:
        """Onto the suppression list (issue #15); False if it was on it already (its first reason stays)."""
        with self._translated("add to the suppression list"), self._write() as conn:
            return suppressions.add(conn, address, reason, detail, time.time())

    def unsuppress(self, address: str) -> bool:
        """Off the suppression list, its soft-bounce streak forgotten; False if it was not on it."""
        with self._translated("remove from the suppression list"), self._write() as conn:
            return suppressions.remove(conn, address)

    def suppression_list(self) -> list[suppressions.Suppression]:
        """Newest first."""
        with self._translated("read the suppression list"), self._read() as conn:
            return suppressions.select_all(conn)

    def suppressed(self, among: Sequence[str]) -> dict[str, suppressions.Suppression]:
        """The suppressed ones of `among`, by lower-cased address."""
        if not among:
            return {}
        with self._translated("read the suppression list"), self._read() as conn:
            return suppressions.select_among(conn, among)

    def do_not_track_add(self, address: str, *, user_id: int | None) -> bool:
        """Onto `user_id`'s own list, or (None) the admin-wide one; False if it was on it already."""
        with self._translated("add to the do-not-track list"), self._write() as conn:
            return add_entry(conn, address, user_id, time.time())

    def do_not_track_remove(self, address: str, *, user_id: int | None) -> bool:
        with self._translated("remove from the do-not-track list"), self._write() as conn:
            return remove_entry(conn, address, user_id)

    def do_not_track_list(self, *, user_id: int | None) -> list[str]:
        """One list (lower-cased): `user_id`'s own, or (None) the admin-wide one."""
        with self._translated("read the do-not-track list"), self._read() as conn:
            return select_entries(conn, user_id)

    def do_not_track_entries(self) -> list[tuple[str, int | None]]:
        """Every list's entries: (address, user id or None for the admin-wide list)."""
        with self._translated("read the do-not-track lists"), self._read() as conn:
            return select_all_entries(conn)

    def do_not_track(self, among: Sequence[str], user_id: int | None) -> list[str]:
        """Those of `among` (lower-cased) that `user_id`'s mail must not track: on their own list or the
        admin-wide one (None: the admin-wide one only)."""
        with self._translated("read the do-not-track list"), self._read() as conn:
            return select_untracked(conn, among, user_id)
