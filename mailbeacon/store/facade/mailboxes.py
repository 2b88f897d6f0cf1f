"""Connected mailboxes and their Sent-folder queue (issue #14)."""

from __future__ import annotations

import time

from mailbeacon.store.backend import Lock
from mailbeacon.store.facade.base import StoreBase
from mailbeacon.store.mailboxes import (
    Disconnected,
    MailboxRecord,
    MailboxRow,
    delete_mailbox,
    save_mailbox,
    select_mailbox,
    select_mailbox_of,
    select_mailboxes,
    update_secrets,
    update_test,
)
from mailbeacon.store.sent_copies import (
    DueSentCopy,
    SentCopyRow,
    claim_sent_copies,
    finish_sent_copy,
    has_waiting,
    postpone_sent_copy,
    select_sent_copy,
)


class MailboxQueries(StoreBase):
    def save_mailbox(self, record: MailboxRecord) -> int:
        """Connect the user's mailbox, or replace its settings; its id."""
        with self._translated("save a mailbox"), self._write() as conn:
            return save_mailbox(conn, record, time.time())

    def mailbox_of(self, user_id: int) -> MailboxRow | None:
        with self._translated("read a mailbox"), self._read() as conn:
            return select_mailbox_of(conn, user_id)

    def mailbox(self, mailbox_id: int) -> MailboxRow | None:
        with self._translated("read a mailbox"), self._read() as conn:
            return select_mailbox(conn, mailbox_id)

    def mailboxes(self) -> list[MailboxRow]:
        with self._translated("list mailboxes"), self._read() as conn:
            return select_mailboxes(conn)

    def mailbox_tested(self, mailbox_id: int, result: str, sent_folder_found: str | None = None) -> None:
        with self._translated("record a mailbox test"), self._write() as conn:
            update_test(conn, mailbox_id, result, sent_folder_found, time.time())

    def mailbox_resealed(self, mailbox_id: int, smtp_secret: str, imap_secret: str) -> None:
        with self._translated("store a mailbox's secrets"), self._write() as conn:
            update_secrets(conn, mailbox_id, smtp_secret, imap_secret)

    def disconnect_mailbox(self, user_id: int) -> Disconnected | None:
        """Forget the user's mailbox; queued copies go through the server's upstream, pending Sent copies are dropped.

        None if the user had none."""
        with self._translated("disconnect a mailbox"), self._write(Lock.OUTBOUND) as conn:
            return delete_mailbox(conn, user_id, time.time())

    def claim_sent_copies(self, limit: int, lease: float) -> list[DueSentCopy]:
        """Sent copies whose message the upstream has taken, held for `lease` seconds against other workers."""
        with self._translated("read the Sent-folder queue"), self._read() as conn:
            if not has_waiting(conn):
                return []
        with self._translated("claim Sent-folder copies"), self._write(Lock.OUTBOUND) as conn:
            return claim_sent_copies(conn, time.time(), limit, lease)

    def sent_copy_done(self, copy_id: int, status: str, folder: str | None = None, error: str | None = None) -> bool:
        with self._translated("record a Sent-folder copy"), self._write(Lock.OUTBOUND) as conn:
            return finish_sent_copy(conn, copy_id, status, time.time(), folder, error)

    def sent_copy_retry(self, copy_id: int, next_attempt_at: float, error: str) -> None:
        with self._translated("postpone a Sent-folder copy"), self._write(Lock.OUTBOUND) as conn:
            postpone_sent_copy(conn, copy_id, next_attempt_at, error)

    def sent_copy_of(self, message_id: int) -> SentCopyRow | None:
        with self._translated("read a Sent-folder copy"), self._read() as conn:
            return select_sent_copy(conn, message_id)
