"""The only package that speaks SQL: open_store(url) -> Store, the same API on SQLite and PostgreSQL.

Methods are synchronous and thread-safe; async callers run them in a worker
thread. Driver errors never escape: an unusable database raises StoreUnavailable.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import TypeVar

from sqlalchemy import Connection, exc, select
from sqlalchemy.engine import URL, make_url

from mailbeacon.errors import ConfigError, MailbeaconError
from mailbeacon.events import RawEvent
from mailbeacon.store.accounts import (
    UserRow,
    insert_user,
    select_user_by_api_key_hash,
    select_user_by_email,
    select_user_by_id,
    select_users,
    update_user,
)
from mailbeacon.store.activity import (
    Batch,
    Counters,
    DeliveryActivity,
    DeliveryFacts,
    Derive,
    LinkActivity,
    LinkReport,
    LogEvent,
    MessageActivity,
    MessageReport,
    RecipientReport,
    Verdict,
    load_batch,
    log_end,
    position_of,
    reset,
    save_batch,
    select_report,
)
from mailbeacon.store.backend import WRITE, Backend, Lock
from mailbeacon.store.campaign_reports import (
    EXPORT_CHUNK,
    Bounce,
    CampaignReport,
    CampaignSummary,
    ClientCount,
    RecipientRow,
    Unsubscribe,
    Untracked,
    campaign_visible,
    select_campaign_report,
    select_field_names,
    select_recipients,
    select_summaries,
    select_summary,
)
from mailbeacon.store.campaigns import (
    CampaignBatch,
    CampaignCopy,
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
from mailbeacon.store.feed import FeedFilter, FeedItem, select_feed, select_feed_after
from mailbeacon.store.events import EventRow, count_events, event_params, insert_events, select_events_after
from mailbeacon.store.messages import insert_message
from mailbeacon.store.migrations import apply_missing
from mailbeacon.store.outbound import (
    Copy,
    DeliveryRow,
    Queued,
    add_do_not_track,
    claim_due,
    DeliveryOutcome,
    finish,
    insert_outgoing,
    next_due,
    next_unleased,
    postpone,
    record_outcomes,
    remove_do_not_track,
    select_deliveries,
    select_do_not_track,
)
from mailbeacon.store.postgres import open_postgres
from mailbeacon.store.privacy import Forget, PrivacyRun, delete_step, truncate_step
from mailbeacon.store.reports import (
    CONTACT_SORTS,
    MESSAGE_SORTS,
    ClientSeen,
    ContactActivity,
    ContactQuery,
    MessageDetail,
    MessagePage,
    MessageQuery,
    MessageSummary,
    message_visible,
    select_contact,
    select_contact_feed,
    select_contacts,
    select_detail,
    select_messages,
)
from mailbeacon.store.settings import ServerSettings, checked, select_settings, upsert_setting
from mailbeacon.store.sqlite import open_sqlite
from mailbeacon.store.timeline import ActivityTime, select_message_times
from mailbeacon.store.webhooks import (
    DueWebhook,
    FanOut,
    FanOutStep,
    NewWebhookMessage,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    claim_due_webhooks,
    delete_webhook,
    insert_webhook,
    insert_webhook_message,
    load_fan_out,
    next_webhook_due,
    record_attempt,
    release_leases,
    requeue,
    save_fan_out,
    select_webhook,
    select_webhook_deliveries,
    select_webhook_delivery,
    select_webhooks,
    update_webhook,
)

__all__ = [
    "ActivityTime",
    "CONTACT_SORTS",
    "MESSAGE_SORTS",
    "ClientSeen",
    "ContactActivity",
    "ContactQuery",
    "CampaignBatch",
    "CampaignCopy",
    "CampaignProgress",
    "CampaignRow",
    "Bounce",
    "CampaignReport",
    "CampaignSummary",
    "ClientCount",
    "RecipientRow",
    "Unsubscribe",
    "Untracked",
    "NewCampaign",
    "ContactList",
    "ContactRow",
    "ImportCounts",
    "NewContact",
    "MessageDetail",
    "MessagePage",
    "MessageQuery",
    "MessageSummary",
    "Batch",
    "Copy",
    "Counters",
    "DeliveryActivity",
    "DeliveryFacts",
    "Derive",
    "LinkActivity",
    "LinkReport",
    "LogEvent",
    "MessageActivity",
    "MessageReport",
    "RecipientReport",
    "Verdict",
    "DeliveryOutcome",
    "DeliveryRow",
    "DuplicateUser",
    "EventRow",
    "FeedFilter",
    "FeedItem",
    "PrivacyRun",
    "Queued",
    "ServerSettings",
    "Store",
    "StoreConflict",
    "StoreUnavailable",
    "UserRow",
    "DueWebhook",
    "FanOut",
    "FanOutStep",
    "NewWebhookMessage",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "open_store",
    "patiently",
]


class StoreUnavailable(MailbeaconError):
    """The database cannot take the request now (locked, down, disk full, not migrated); retry later."""


T = TypeVar("T")


def patiently(call: Callable[[], T], patience: float = 10.0) -> T:
    """`call()`, tried again while the store is busy (another process holds the write lock) for up to
    `patience` seconds; after that its StoreUnavailable is raised."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class StoreConflict(MailbeaconError):
    """A write contradicts stored data: a unique key is taken or a referenced row is missing."""


class DuplicateUser(StoreConflict):
    """A user with this email (or API key) exists already."""


def open_store(url: str) -> Store:
    """`sqlite:///path/to/file.db` or `postgresql://user@host:port/db`; connects lazily.

    >>> open_store("mysql://localhost/db")
    Traceback (most recent call last):
    ...
    mailbeacon.errors.ConfigError: store URL must start with sqlite:/// or postgresql://, got 'mysql://localhost/db'
    """
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise ConfigError(f"store URL is not a database URL: {url!r}") from e
    backend_name = parsed.get_backend_name()
    if backend_name == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError(f"store URL needs a file, an in-memory SQLite is private to one connection: {url!r}")
        return Store(open_sqlite(parsed), _describe(parsed))
    if backend_name in ("postgresql", "postgres"):
        return Store(open_postgres(parsed), _describe(parsed))
    raise ConfigError(f"store URL must start with sqlite:/// or postgresql://, got {_describe(parsed)!r}")


class Store:
    """Named queries over one database; build it with open_store()."""

    def __init__(self, backend: Backend, name: str) -> None:
        self._backend = backend
        self._name = name
        self._closed = False

    def __repr__(self) -> str:
        return f"<Store {self._name}>"

    def migrate(self) -> None:
        """Apply the migrations this database lacks; safe to run again and from several processes."""
        with self._translated("migrate"):
            apply_missing(partial(self._write, Lock.MIGRATIONS))

    def append_events(self, events: Sequence[RawEvent]) -> int:
        """Store a batch in one transaction; returns how many were new (a replayed uid is stored once)."""
        if not events:
            return 0
        action = f"store {len(events)} events"
        append = self._backend.append_events
        if append is not None:
            with self._translated(action), self._backend.writer:
                if self._closed:
                    raise StoreUnavailable(f"{self._name}: the store is closed")
                return append(event_params(events))
        with self._translated(action), self._write(Lock.EVENT_LOG) as conn:
            return insert_events(conn, events)

    def events_after(self, cursor: int, limit: int, user_id: int | None) -> list[EventRow]:
        """Up to `limit` events with id > cursor, in id order; user_id None means all (admin)."""
        with self._translated("read events"), self._read() as conn:
            return select_events_after(conn, cursor, limit, user_id)

    def count_events(self) -> int:
        with self._translated("count events"), self._read() as conn:
            return count_events(conn)

    def record_message(
        self,
        user_id: int | None,
        sender: str | None,
        subject: str | None,
        message_id_header: str | None,
        deliveries: Sequence[tuple[bytes, str]],
        links: Sequence[tuple[int, str]],
        utm: str | None = None,
    ) -> int:
        """Store a message, its (delivery_key, recipient) pairs and (idx, url) links at once; returns its id."""
        with self._translated("record a message"), self._write() as conn:
            return insert_message(
                conn,
                user_id=user_id,
                sender=sender,
                subject=subject,
                message_id_header=message_id_header,
                utm=utm,
                delivery_rows=deliveries,
                link_rows=links,
                now=time.time(),
            )

    def advance_reader(self, reader: str, limit: int, derive: Derive) -> int:
        """Derive from the next `limit` events after the reader's cursor; how many (0: caught up).

        The derivation runs outside any transaction; its results are written, with the
        cursor, only if no other process advanced the reader meanwhile (then it returns
        -1 and the caller simply steps again).
        """
        with self._translated(f"run reader {reader}"):
            with self._read() as conn:
                position, batch = load_batch(conn, reader, limit)
            if batch is None:
                return 0
            verdicts = derive(batch)
            with self._write(Lock.PIPELINE) as conn:
                if not save_batch(conn, reader, position, batch, verdicts):
                    return -1
            return len(batch.events)

    def feed(self, where: FeedFilter, before: int | None = None, limit: int = 50) -> list[FeedItem]:
        """The activity feed, newest first, before the cursor `before` (an event id)."""
        with self._translated("read the feed"), self._read() as conn:
            return select_feed(conn, where, before, limit)

    def feed_after(self, after: int, limit: int = 500, user_ids: Sequence[int] | None = None) -> list[FeedItem]:
        """Feed items after `after` in log order, up to what the classify reader has judged."""
        with self._translated("read the feed"), self._read() as conn:
            return select_feed_after(conn, after, position_of(conn, "classify"), limit, user_ids)

    def message_times(self, message_id: int, limit: int = 200_000) -> list[ActivityTime]:
        """The message's judged events counted per hour, type and class, oldest first: its timeline chart."""
        with self._translated("read a message's timeline"), self._read() as conn:
            return select_message_times(conn, message_id, limit)

    def message_report(self, message_id: int) -> MessageReport | None:
        """A message with its derived counters, per recipient and per link; None if there is no such message."""
        with self._translated("read a message report"), self._read() as conn:
            return select_report(conn, message_id)

    def messages(self, where: MessageQuery, after: tuple[float, int] | None = None, limit: int = 50) -> MessagePage:
        """A page of the messages list; `after` is (sort_value, id) of the previous page's last item.

        Raises ValueError for an unknown sort."""
        with self._translated("read the messages list"), self._read() as conn:
            return select_messages(conn, where, after, limit)

    def message_visible(self, message_id: int, user_id: int | None) -> bool:
        """The message exists and is `user_id`'s (None: anyone's, for an admin)."""
        with self._translated("look up a message"), self._read() as conn:
            return message_visible(conn, message_id, user_id)

    def message_detail(
        self, message_id: int, timeline: int = 50, recipients_offset: int = 0, recipients_limit: int | None = None
    ) -> MessageDetail | None:
        """`message_report` (all recipients, or a window of them) with the clients seen per delivery
        and the newest `timeline` feed items."""
        with self._translated("read a message report"), self._read() as conn:
            return select_detail(conn, message_id, timeline, recipients_offset, recipients_limit)

    def contacts(self, where: ContactQuery, offset: int = 0, limit: int = 50) -> tuple[list[ContactActivity], bool]:
        """A page of the addresses sent to (lower-cased), with counts; True if more follow. ValueError: bad sort."""
        with self._translated("read contacts"), self._read() as conn:
            return select_contacts(conn, where, offset, limit)

    def contact(self, user_id: int | None, address: str) -> ContactActivity | None:
        """One address's counts (any case); None if `user_id` (None: anyone) never sent to it."""
        with self._translated("read a contact"), self._read() as conn:
            return select_contact(conn, user_id, address)

    def contact_feed(
        self, user_id: int | None, address: str, where: FeedFilter | None = None, before: int | None = None,
        limit: int = 50,
    ) -> list[FeedItem]:
        """The feed items of what `user_id` (None: anyone) sent to the address in any case, newest first."""
        with self._translated("read a contact's timeline"), self._read() as conn:
            return select_contact_feed(conn, user_id, address, where or FeedFilter(), before, limit)

    def reset_reader(self, reader: str) -> None:
        with self._translated(f"reset reader {reader}"), self._write(Lock.PIPELINE) as conn:
            reset(conn, reader)

    def reader_position(self, reader: str) -> int:
        with self._translated("read a cursor"), self._read() as conn:
            return position_of(conn, reader)

    def last_event_id(self) -> int:
        with self._translated("read the log's end"), self._read() as conn:
            return log_end(conn)

    def queue_message(
        self,
        *,
        user_id: int | None,
        sender: str | None,
        subject: str | None,
        message_id_header: str | None,
        source: str,
        mail_from: str,
        copies: Sequence[Copy],
        links: Sequence[tuple[int, str]],
        submitted_from: str | None = None,
    ) -> int:
        """Record a message with its deliveries and queue every copy, in one transaction; returns its id."""
        with self._translated("queue a message"), self._write(Lock.OUTBOUND) as conn:
            return insert_outgoing(
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
            )

    def claim_outbound(self, limit: int, lease: float) -> list[Queued]:
        """Up to `limit` due copies, held for `lease` seconds against other workers."""
        with self._translated("claim queued mail"), self._write(Lock.OUTBOUND) as conn:
            return claim_due(conn, time.time(), limit, lease)

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

    def do_not_track_add(self, address: str) -> bool:
        """False if it was on the list already."""
        with self._translated("add to the do-not-track list"), self._write() as conn:
            return add_do_not_track(conn, address, time.time())

    def do_not_track_remove(self, address: str) -> bool:
        with self._translated("remove from the do-not-track list"), self._write() as conn:
            return remove_do_not_track(conn, address)

    def do_not_track(self, among: Sequence[str] | None = None) -> list[str]:
        """The list (lower-cased), or those of `among` that are on it."""
        with self._translated("read the do-not-track list"), self._read() as conn:
            return select_do_not_track(conn, among)

    # Privacy: settings changed at run time and the job that applies them (store/settings.py, store/privacy.py).

    def get_settings(self) -> ServerSettings:
        """The stored server-wide settings, defaults where none is stored."""
        with self._translated("read settings"), self._read() as conn:
            return select_settings(conn)

    def set_setting(self, name: str, value: object) -> ServerSettings:
        """Check and store one setting (ConfigError names what it takes); returns them all."""
        stored = checked(name, value)
        with self._translated(f"store the setting {name}"), self._write() as conn:
            upsert_setting(conn, name, stored, time.time())
            return select_settings(conn)

    def apply_privacy(
        self, now: float, batch: int = 1000, pause: float = 0.0, stop: Callable[[], bool] = lambda: False,
        forget: Forget | None = None,
    ) -> PrivacyRun:
        """Delete events past the retention, then cut old IPs to their network, `batch` rows a transaction.

        Resumable: stopped anywhere (`stop()` is asked between transactions), the next
        run goes on from there. `pause` seconds between transactions leave the write
        lock to the hot path meanwhile. `forget` (mailbeacon.pipeline.privacy.forget_addresses)
        makes the classifier's memory of each delivery forget the old addresses as well.
        """
        settings = self.get_settings()
        deleted = truncated = 0
        if settings.retention_days is not None:
            cutoff = now - settings.retention_days * 86400.0
            deleted = self._in_steps("delete old events", partial(delete_step, cutoff=cutoff, limit=batch), pause, stop)
        if settings.ip_truncate_after_days is not None:
            cutoff = now - settings.ip_truncate_after_days * 86400.0
            step = partial(truncate_step, cutoff=cutoff, limit=batch, now=now, forget=forget)
            truncated = self._in_steps("truncate old IPs", step, pause, stop)
        return PrivacyRun(truncated=truncated, deleted=deleted)

    def _in_steps(
        self, action: str, step: Callable[[Connection], tuple[int, bool]], pause: float, stop: Callable[[], bool]
    ) -> int:
        """Run `step` (rows changed, done) one write transaction at a time until done; total rows changed."""
        total = 0
        while True:
            with self._translated(action), self._write(Lock.PIPELINE) as conn:
                changed, done = step(conn)
            total += changed
            if done or stop():
                return total
            if pause:
                time.sleep(pause)

    # Webhooks: endpoints per user, the outbox the fan-out fills, the delivery log (store/webhooks.py).

    def create_webhook(
        self, user_id: int, url: str, secret: str, event_filter: Sequence[str], all_users: bool = False
    ) -> Webhook:
        """Store an endpoint as given; mailbeacon.webhooks.create_endpoint checks the URL and makes the secret."""
        with self._translated("create a webhook"), self._write() as conn:
            return insert_webhook(conn, user_id, url, secret, event_filter, all_users, time.time())

    def webhooks_of(self, user_id: int) -> list[Webhook]:
        """A user's endpoints, oldest first."""
        with self._translated("read webhooks"), self._read() as conn:
            return select_webhooks(conn, user_id)

    def webhook(self, webhook_id: int) -> Webhook | None:
        """One endpoint, whoever owns it: callers check `user_id`."""
        with self._translated("read a webhook"), self._read() as conn:
            return select_webhook(conn, webhook_id)

    def update_webhook(
        self,
        webhook_id: int,
        *,
        url: str | None = None,
        event_filter: Sequence[str] | None = None,
        enabled: bool | None = None,
        all_users: bool | None = None,
    ) -> Webhook | None:
        """Change what is not None; enabled=False marks pending messages disabled, True re-enables."""
        with self._translated("update a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return update_webhook(
                conn, webhook_id, url=url, event_filter=event_filter, enabled=enabled, all_users=all_users
            )

    def delete_webhook(self, webhook_id: int) -> bool:
        """The endpoint, its outbox and its delivery log; False if there was none."""
        with self._translated("delete a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return delete_webhook(conn, webhook_id)

    def webhook_deliveries(self, webhook_id: int, before: int | None = None, limit: int = 50) -> list[WebhookDelivery]:
        """The delivery log, newest first, deliveries with id < `before`, each with its attempts."""
        with self._translated("read webhook deliveries"), self._read() as conn:
            return select_webhook_deliveries(conn, webhook_id, before, limit)

    def webhook_delivery(self, delivery_id: int) -> WebhookDelivery | None:
        with self._translated("read a webhook delivery"), self._read() as conn:
            return select_webhook_delivery(conn, delivery_id)

    def redeliver_webhook(self, delivery_id: int) -> bool:
        """Queue a delivery again now, with the same webhook-id and body; False if there is no such delivery."""
        with self._translated("redeliver a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return requeue(conn, delivery_id, time.time())

    def queue_webhook(self, message: NewWebhookMessage) -> int:
        """Queue one message (a test event) now; returns the delivery's id."""
        with self._translated("queue a webhook"), self._write(Lock.WEBHOOKS) as conn:
            return insert_webhook_message(conn, message, time.time())

    def advance_webhooks(self, limit: int, fan_out: FanOut) -> FanOutStep:
        """Queue messages for the next `limit` feed items after the fan-out's cursor, moving it in the same
        transaction; `fan_out` runs between the read and the write, as the pipeline's derive does."""
        with self._translated("fan out webhooks"):
            with self._read() as conn:
                position, end, items, endpoints = load_fan_out(conn, limit)
            if end == position:
                return FanOutStep(moved=False, queued=0)
            messages = fan_out(items, endpoints) if items else []
            with self._write(Lock.WEBHOOKS) as conn:
                if not save_fan_out(conn, position, end, messages, time.time()):
                    return FanOutStep(moved=False, queued=0, raced=True)
            return FanOutStep(moved=True, queued=len(messages))

    def claim_webhooks(self, limit: int, lease: float) -> list[DueWebhook]:
        """Up to `limit` due messages of enabled endpoints, held for `lease` seconds against other workers."""
        with self._translated("claim webhooks"), self._write(Lock.WEBHOOKS) as conn:
            return claim_due_webhooks(conn, time.time(), limit, lease)

    def record_webhook_attempt(
        self,
        delivery_id: int,
        attempt: WebhookAttempt,
        status: str,
        *,
        next_attempt_at: float | None = None,
        retry_until: float | None = None,
        disable_reason: str | None = None,
    ) -> bool:
        """Log an attempt and set the delivery's status (pending with `next_attempt_at` to retry);
        `disable_reason` also turns the endpoint off. False if the delivery was deleted or changed meanwhile."""
        with self._translated("record a webhook attempt"), self._write() as conn:
            return record_attempt(conn, delivery_id, attempt, status, next_attempt_at, retry_until, disable_reason)

    def release_webhooks(self, delivery_ids: Sequence[int]) -> None:
        with self._translated("release webhooks"), self._write() as conn:
            release_leases(conn, delivery_ids)

    def next_webhook_at(self) -> float | None:
        """When the earliest pending message of an enabled endpoint is due; None when there is none."""
        with self._translated("read the webhook outbox"), self._read() as conn:
            return next_webhook_due(conn)

    # Campaign contacts and lists (store/contacts.py).

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
            return mark_unsubscribed(conn, contact_id, source, campaign_id, time.time())

    def resubscribe(self, contact_id: int) -> ContactRow | None:
        """Undo an unsubscribe (the operator's CLI only: no web route does this). None: no such contact."""
        with self._translated("resubscribe a contact"), self._write() as conn:
            return clear_unsubscribed(conn, contact_id, time.time())

    # Campaign sends: the campaign row, its cursor and one campaign_sends row per contact (store/campaigns.py).

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

    def campaign_skips(self, campaign_id: int, limit: int = 20) -> list[tuple[str, str]]:
        """(address, why) of members whose copy could not be made (the unsubscribed left out)."""
        with self._translated("read a campaign's skips"), self._read() as conn:
            return select_skips(conn, campaign_id, limit)

    # Campaign reports (store/campaign_reports.py).

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

    def add_user(self, email: str, is_admin: bool, seat: str, api_key_hash: str, smtp_password_hash: str) -> int:
        try:
            with self._translated("add a user"), self._write() as conn:
                return insert_user(
                    conn,
                    email=email,
                    is_admin=is_admin,
                    seat=seat,
                    api_key_hash=api_key_hash,
                    smtp_password_hash=smtp_password_hash,
                    now=time.time(),
                )
        except StoreConflict as e:
            raise DuplicateUser(f"a user with email {email!r} or the same API key exists already") from e

    def user_by_api_key_hash(self, api_key_hash: str) -> UserRow | None:
        with self._translated("look up a user"), self._read() as conn:
            return select_user_by_api_key_hash(conn, api_key_hash)

    def users(self) -> list[UserRow]:
        with self._translated("list users"), self._read() as conn:
            return select_users(conn)

    def update_user(self, user_id: int, **changes: object) -> bool:
        """Change seat, is_admin, password_hash or notification rules; False if there is no such user."""
        with self._translated("change a user"), self._write() as conn:
            return update_user(conn, user_id, changes)

    def set_password_hash(self, user_id: int, password_hash: str) -> bool:
        return self.update_user(user_id, password_hash=password_hash)

    def user_by_id(self, user_id: int) -> UserRow | None:
        with self._translated("look up a user"), self._read() as conn:
            return select_user_by_id(conn, user_id)

    def user_by_email(self, email: str) -> UserRow | None:
        with self._translated("look up a user"), self._read() as conn:
            return select_user_by_email(conn, email)

    def ping(self) -> bool:
        """True if the database answers a trivial query now; never raises."""
        try:
            with self._read() as conn:
                conn.execute(select(1)).scalar_one()
        except Exception:  # a health check reports, it does not raise
            return False
        return True

    def close(self) -> None:
        """Close pooled connections; later calls raise StoreUnavailable."""
        self._closed = True
        if self._backend.append_events is not None:
            with self._backend.writer:
                self._backend.append_events.close()
        self._backend.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self, lock: Lock | None = None) -> Iterator[Connection]:
        with self._backend.writer, self._connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                if lock is not None:
                    self._backend.hold(conn, lock)
                yield conn

    def _connect(self) -> Connection:
        if self._closed:
            raise StoreUnavailable(f"{self._name}: the store is closed")
        return self._backend.engine.connect()

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Turn driver errors into the two outcomes callers handle, once, here."""
        try:
            yield
        except exc.IntegrityError as e:
            raise StoreConflict(f"{self._name}: cannot {action}: {_reason(e)}") from e
        except self._backend.driver_errors as e:
            raise StoreUnavailable(f"{self._name}: cannot {action}: {str(e).strip() or type(e).__name__}") from e
        except (exc.DBAPIError, exc.TimeoutError) as e:
            # Everything else the driver reports (locked, refused, disk full, no such
            # table) means the database cannot serve us now; callers retry or spool.
            raise StoreUnavailable(f"{self._name}: cannot {action}: {_reason(e)}") from e


def _delivered(summary: CampaignSummary) -> bool:
    """Every copy queued and none waiting, though the campaign does not say done yet."""
    return summary.status == "queued" and summary.pending == 0


def _reason(error: exc.SQLAlchemyError) -> str:
    original = error.orig if isinstance(error, exc.DBAPIError) else None
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(original or error).__name__


def _describe(url: URL) -> str:
    return url.render_as_string(hide_password=True)
