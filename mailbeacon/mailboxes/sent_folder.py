"""The sender's Sent folder (issue #14): after the upstream accepts, one untracked copy is APPENDed over IMAP.

Each copy is a durable row written with its message (store/sent_copies.py), claimed
with a lease once a copy of the message is sent. Before every APPEND the folder is
searched for the message's Message-ID, so a retry after a crash, a lost answer or a
connection dropped mid-APPEND never files the message twice. Failures are retried
with the outbound queue's backoff until its give-up time, then the row says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from mailbeacon.mailboxes import imap
from mailbeacon.mailboxes.routes import endpoint_of
from mailbeacon.mailboxes.secretbox import SecretBox
from mailbeacon.mailboxes.settings import MailboxError
from mailbeacon.outbound import RetryPolicy
from mailbeacon.store import DueSentCopy, Store, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Appended:
    status: str
    """appended, found, dropped, or retry."""
    folder: str | None = None
    error: str | None = None


class SentFolderWorker:
    def __init__(
        self, store: Store, box: SecretBox, *, lease: float = 120.0, retry: RetryPolicy = RetryPolicy(),
        idle_poll: float = 1.0, timeout: float = 30.0, batch: int = 10,
    ) -> None:
        self._store = store
        self._box = box
        self._lease = lease
        self._retry = retry
        self._idle_poll = idle_poll
        self._timeout = timeout
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                due = await asyncio.to_thread(self._store.claim_sent_copies, self._batch, self._lease)
            except StoreUnavailable as exc:
                log.warning("sent folder: cannot read the queue: %s", exc)
                due = []
            for copy in due:
                outcome = await asyncio.to_thread(self.append, copy)
                try:
                    await asyncio.to_thread(self._record, copy, outcome)
                except StoreUnavailable as exc:  # the lease runs out and the search finds what was appended
                    log.warning("sent folder: outcome of message %d not recorded: %s", copy.message_id, exc)
            if not due:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll)
                except TimeoutError:
                    pass

    def append(self, copy: DueSentCopy) -> Appended:
        """Blocking: one copy into its mailbox's Sent folder, unless it is there already."""
        mailbox = self._store.mailbox(copy.mailbox_id)
        if mailbox is None:
            return Appended("dropped", error="the mailbox was disconnected")
        where = endpoint_of("imap", mailbox.imap)
        try:
            client = imap.open_imap(where, self._box.open(mailbox.imap.sealed_secret), self._timeout)
        except imap.LoginError as exc:
            return Appended("retry", error=f"{where.label} refused the login: {exc}")
        except (OSError, imap.IMAPClientError, MailboxError) as exc:
            return Appended("retry", error=f"{where.label}: {type(exc).__name__}: {exc}")
        try:
            folder = imap.find_sent_folder(client, mailbox.sent_folder)
            if folder is None:
                wanted = repr(mailbox.sent_folder) if mailbox.sent_folder else "none is flagged \\Sent"
                return Appended("retry", error=f"{where.label}: no Sent folder found ({wanted})")
            appended = imap.append_once(client, folder, copy.message_id_header, copy.body, copy.created_at)
        except (OSError, imap.IMAPClientError) as exc:  # a dropped connection: the next try searches first
            return Appended("retry", error=f"{where.label}: {type(exc).__name__}: {exc}")
        finally:
            imap.close(client)
        return Appended("appended" if appended else "found", folder=folder)

    def _record(self, copy: DueSentCopy, outcome: Appended) -> None:
        if outcome.status != "retry":
            self._store.sent_copy_done(copy.id, outcome.status, outcome.folder, outcome.error)
            return
        if time.time() - copy.created_at > self._retry.give_up_after:
            self._store.sent_copy_done(copy.id, "failed", error=f"gave up after {copy.attempts + 1} tries: "
                                       f"{outcome.error}")
            return
        log.info("sent folder: message %d not appended yet: %s", copy.message_id, outcome.error)
        self._store.sent_copy_retry(copy.id, time.time() + self._retry.delay(copy.attempts), outcome.error or "")
