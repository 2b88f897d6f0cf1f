"""The only package that speaks SQL: open_store(url) -> Store, the same API on SQLite and PostgreSQL.

Methods are synchronous and thread-safe; async callers run them in a worker
thread. Driver errors never escape: an unusable database raises StoreUnavailable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc
from sqlalchemy.engine import make_url

from mailbeacon.errors import ConfigError
from mailbeacon.store.accounts import (
    UserRow,
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
)
from mailbeacon.store.facade.base import DuplicateUser, StoreBase, StoreConflict, StoreUnavailable, describe_url
from mailbeacon.store.facade.campaigns import CampaignQueries
from mailbeacon.store.facade.contact_book import ContactBookQueries
from mailbeacon.store.facade.leases import LeaseQueries
from mailbeacon.store.facade.log import LogQueries
from mailbeacon.store.facade.mailboxes import MailboxQueries
from mailbeacon.store.facade.privacy import PrivacyQueries
from mailbeacon.store.facade.reading import ReportQueries
from mailbeacon.store.facade.sending import SendingQueries
from mailbeacon.store.facade.sessions import SessionQueries
from mailbeacon.store.facade.users import UserQueries
from mailbeacon.store.facade.webhooks import WebhookQueries
from mailbeacon.store.campaign_reports import (
    Bounce,
    CampaignReport,
    CampaignSummary,
    ClientCount,
    RecipientRow,
    Unsubscribe,
    Untracked,
)
from mailbeacon.store.campaigns import (
    CampaignBatch,
    CampaignCopy,
    CampaignProgress,
    CampaignRow,
    NewCampaign,
)
from mailbeacon.store.contact_book import ERASED_KINDS, Bounces, ContactRecord
from mailbeacon.store.contacts import (
    ContactList,
    ContactRow,
    ImportCounts,
    NewContact,
)
from mailbeacon.store.feed import FeedFilter, FeedItem
from mailbeacon.store.mailboxes import Disconnected, EndpointRow, MailboxRecord, MailboxRow
from mailbeacon.store.sent_copies import DueSentCopy, NewSentCopy, SentCopyRow
from mailbeacon.store.leases import Lease
from mailbeacon.store.events import EventRow
from mailbeacon.store.suppressions import Suppression
from mailbeacon.store.outbound import (
    Copy,
    DeliveryRow,
    Queued,
    DeliveryOutcome,
)
from mailbeacon.store.postgres import open_postgres
from mailbeacon.store.privacy import PrivacyRun
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
)
from mailbeacon.store.sessions import SessionLimits, SessionRow
from mailbeacon.store.settings import ServerSettings
from mailbeacon.store.sqlite import open_sqlite
from mailbeacon.store.tenure import LEASE_TTL, STANDBY, Tenures
from mailbeacon.store.timeline import ActivityTime
from mailbeacon.store.webhooks import (
    DueWebhook,
    FanOut,
    FanOutStep,
    NewWebhookMessage,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

__all__ = [
    "Suppression",
    "ERASED_KINDS",
    "Bounces",
    "ContactRecord",
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
    "Disconnected",
    "DueSentCopy",
    "DuplicateUser",
    "EndpointRow",
    "MailboxRecord",
    "MailboxRow",
    "NewSentCopy",
    "SentCopyRow",
    "EventRow",
    "FeedFilter",
    "FeedItem",
    "Lease",
    "PrivacyRun",
    "Queued",
    "ServerSettings",
    "SessionLimits",
    "SessionRow",
    "Store",
    "Tenures",
    "LEASE_TTL",
    "STANDBY",
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
        return Store(open_sqlite(parsed), describe_url(parsed))
    if backend_name in ("postgresql", "postgres"):
        return Store(open_postgres(parsed), describe_url(parsed))
    raise ConfigError(f"store URL must start with sqlite:/// or postgresql://, got {describe_url(parsed)!r}")


class Store(
    LogQueries, ReportQueries, SendingQueries, PrivacyQueries, WebhookQueries, CampaignQueries, UserQueries,
    SessionQueries, MailboxQueries, LeaseQueries, ContactBookQueries, StoreBase
):
    """Named queries over one database; build it with open_store()."""
