"""The tables as the code sees them today, shared by SQLite and PostgreSQL.

Queries are built from these objects; the migrations create them. A test checks
that a migrated database has exactly these columns, so the two cannot drift.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    false,
    func,
    true,
)

# Stable constraint names, so later migrations can refer to them on both dialects.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SEATS = ("basic", "sales")
DELIVERY_KEY_BYTES = (12, 64)
"""Inclusive bounds on a delivery key's length: what the tokens carry."""

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False),
    Column("seat", Text, nullable=False),
    Column("api_key_hash", Text, nullable=False, unique=True),
    Column("smtp_password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("password_hash", Text, nullable=True),
    # For the dashboard; None until one is set (`mailbeacon user password`).
    Column("notify_first_open", Boolean, nullable=False, server_default=true()),
    Column("notify_reopen_after", Float, nullable=True, server_default="3600"),
    # Seconds of quiet after which a human open notifies again; None: never again.
    Column("notify_clicks", Boolean, nullable=False, server_default=true()),
    Column("disabled_at", Float, nullable=True),
    # Set: no login, API key or relay AUTH; their data stays (issue #13).
    Column("deleted_at", Float, nullable=True),
    # Set: deleted; the row stays, renamed and without credentials, as the owner of their data.
    CheckConstraint("seat IN ('basic', 'sales')", name="seat"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", Text, nullable=False, unique=True),
    # SHA-256 of the random id the cookie carries; the id itself is never stored.
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    # Moved on at most once a minute, not per request (store/sessions.py).
    Column("ip", Text, nullable=False),
    Column("user_agent", Text, nullable=False),
    # The client's address and User-Agent when last seen.
)
"""Dashboard sessions (issue #12, item 13): a row per logged-in browser; deleting it logs that browser out."""

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True, index=True),
    Column("message_id_header", Text, nullable=True),
    Column("subject", Text, nullable=True),
    Column("sender", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("utm", Text, nullable=True),
    Column("source", Text, nullable=True),
    Column("submitted_from", Text, nullable=True),
    # The client IP that submitted it (relay or API): the sender's own opens come from there.
    # How it was sent: relay, send, api, campaign; None for `mailbeacon instrument`.
    # The messages list pages by (created_at, id), per user or for everyone (store/reports.py).
    Index("ix_messages_user_created", "user_id", "created_at", "id"),
    Index("ix_messages_created", "created_at", "id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_key", LargeBinary, nullable=False, unique=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False),
    Column("recipient", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("opens_tracked", Boolean, nullable=True),
    Column("clicks_tracked", Boolean, nullable=True),
    Column("untracked_reason", Text, nullable=True),
    # Why opens (or everything) are not tracked for this recipient, in words a sender reads.
    Column("shared", Boolean, nullable=False, server_default=false()),
    # One copy for all recipients (splitting off): opens are "one of the recipients".
    Column("status", Text, nullable=True),
    # queued, sent, bounced, withdrawn (a cancelled campaign's copy never sent); None where mailbeacon
    # did not send the copy.
    Column("accepted_at", Float, nullable=True),
    # When the upstream (or the capture mailbox) accepted the copy.
    Column("upstream_reply", Text, nullable=True),
    Column("subject", Text, nullable=True),
    # The Subject this copy carried, where it is its own: a campaign copy's, rendered for its contact
    # (issue #13). None: the message's subject.
    Column("listed", Boolean, nullable=True),
    # False: a Bcc recipient or the sender herself, not written to in To or Cc: not one of her
    # contacts (issue #14, item 5). None (copies queued before migration 0013) and True: a contact.
    CheckConstraint("length(delivery_key) BETWEEN 12 AND 64", name="delivery_key_length"),
    # A message's deliveries, and among them those in one state: a campaign's queued and bounced
    # copies are counted without reading its sent ones (store/campaign_reports.py).
    Index("ix_deliveries_message_status", "message_id", "status"),
)
Index("ix_deliveries_recipient_lower", func.lower(deliveries.c.recipient))
"""A contact is a recipient address in any case: contacts and the recipient filters look it up lower-cased."""

DELIVERY_STATUSES = ("queued", "sent", "bounced", "withdrawn")

outbound = Table(
    "outbound",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, unique=True),
    Column("mail_from", Text, nullable=False),
    Column("rcpt_to", Text, nullable=False),
    # JSON list of envelope recipients (one, or all of them for a shared copy).
    Column("body", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False, index=True),
    Column("lease_until", Float, nullable=True),
    # A worker holds the row until then; a crashed worker's rows are taken again after it.
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("mailbox_id", Integer, nullable=True),
    # The sender's connected mailbox whose SMTP server sends this copy (issue #14); None: the server's upstream.
)
"""Copies waiting for the upstream; a row is deleted when its delivery is sent or bounced."""

do_not_track = Table(
    "do_not_track",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", Text, nullable=False),
    # Lower-cased.
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    # Whose mail the entry applies to; None: everyone's (the admin-wide list). Issue #12.
    Column("created_at", Float, nullable=False),
)
"""Recipients who get untracked copies; an address once per list (unique indexes of migration 0009)."""

suppressions = Table(
    "suppressions",
    metadata,
    Column("address", Text, primary_key=True),
    # Lower-cased: the instance never mails it again unless an admin removes it (issue #15, item 3).
    Column("reason", Text, nullable=False),
    # hard_bounce, soft_bounces, complaint, unsubscribe or manual.
    Column("detail", Text, nullable=True),
    # The upstream's reply, or what the admin wrote.
    Column("created_at", Float, nullable=False),
    Column("delivery_id", Integer, nullable=True),
    # The copy whose bounce or complaint put it here, where there is one.
)

soft_bounce_streaks = Table(
    "soft_bounce_streaks",
    metadata,
    Column("address", Text, primary_key=True),
    Column("count", Integer, nullable=False),
    # Copies to the address given up after temporary failures since its last delivered copy.
    Column("last_at", Float, nullable=False),
)

links = Table(
    "links",
    metadata,
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("url", Text, nullable=False),
    PrimaryKeyConstraint("message_id", "idx"),
)

# The append-only log. No foreign key to deliveries on purpose: an event for a
# delivery we do not know (yet) is still stored, never rejected.
events = Table(
    "events",
    metadata,
    # On SQLite an INTEGER PRIMARY KEY is the rowid; BIGINT would not be.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("uid", LargeBinary, nullable=False, unique=True),
    Column("type", Text, nullable=False),
    # Not indexed: each event would update a B-tree at a random place. Readers go
    # by id; per-delivery questions are answered by the pipeline's own tables.
    Column("delivery_key", LargeBinary, nullable=False),
    Column("link_idx", Integer, nullable=True),
    Column("url", Text, nullable=True),
    Column("occurred_at", Float, nullable=False),
    Column("ip", Text, nullable=False),
    Column("user_agent", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("class", Text, nullable=True, key="class_"),
    Column("reasons", Text, nullable=True),
    Column("client", Text, nullable=True),
    Column("first", Boolean, nullable=True),
    # class, reasons (JSON list), client and first are filled in by the pipeline, after the fact.
)


def _counters() -> list[Column[int]]:
    return [
        Column(name, Integer, nullable=False, server_default="0")
        for name in ("raw_opens", "human_opens", "machine_opens", "raw_clicks", "human_clicks", "machine_clicks")
    ]


pipeline_cursors = Table(
    "pipeline_cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
    # The last event id this reader has derived everything from.
    Column("updated_at", Float, nullable=False),
)

delivery_activity = Table(
    "delivery_activity",
    metadata,
    Column("delivery_key", LargeBinary, primary_key=True),
    Column("message_id", Integer, nullable=True, index=True),
    *_counters(),
    Column("first_open_at", Float, nullable=True),
    Column("last_open_at", Float, nullable=True),
    Column("first_human_open_at", Float, nullable=True),
    Column("inferred_open_at", Float, nullable=True),
    Column("last_human_open_at", Float, nullable=True),
    # A click counted as human on a delivery without a human open: an open we infer, never a pixel load.
    Column("memory", Text, nullable=False),
    # JSON: what the classifier remembers of this delivery's recent events.
)

message_activity = Table(
    "message_activity",
    metadata,
    Column("message_id", Integer, primary_key=True),
    *_counters(),
    *(
        Column(name, Integer, nullable=False, server_default="0")
        for name in ("unique_opens", "unique_human_opens", "unique_clicks", "unique_human_clicks", "inferred_opens")
    ),
)

link_activity = Table(
    "link_activity",
    metadata,
    Column("message_id", Integer, nullable=False),
    Column("link_idx", Integer, nullable=False),
    Column("raw_clicks", Integer, nullable=False, server_default="0"),
    Column("human_clicks", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("message_id", "link_idx"),
)

hourly_activity = Table(
    "hourly_activity",
    metadata,
    Column("message_id", Integer, nullable=False),
    Column("hour", Integer, nullable=False),
    # Unix seconds // 3600, of when the events happened.
    Column("type", Text, nullable=False),
    Column("class", Text, nullable=False, key="class_"),
    Column("client", Text, nullable=False),
    # As the pipeline named it; "" when it named none.
    Column("events", Integer, nullable=False),
    PrimaryKeyConstraint("message_id", "hour", "type", "class_", "client"),
)
"""Judged events per message, hour, type, class and client, kept by the classify reader with its
other counters (store/hourly.py): a campaign's timeline and clients without reading its events,
and kept, like every counter, when old events are deleted."""

feed = Table(
    "feed",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("user_id", Integer, nullable=True),
    Column("message_id", Integer, nullable=True),
    Column("recipient", Text, nullable=True),
    Column("notice", Text, nullable=True),
    # What a person would be told: first_open, open (a later human open), click, forward; None for
    # machine and sender events, which never notify.
    Column("gap", Float, nullable=True),
    # Seconds since the delivery's previous human open, for "re-open after a quiet period".
    Column("subject", Text, nullable=True),
    # The delivery's own subject (a campaign copy's, as its recipient saw it), copied by the classify
    # reader so a feed page reads no deliveries row; None: the message's subject (issue #13).
    Index("ix_feed_user_event", "user_id", "event_id"),
    Index("ix_feed_message_event", "message_id", "event_id"),
    # message_id last: a contact's timeline keeps the index order, and a message's page of recipients
    # (store/reports.py select_clients) filters by message without reading the feed rows.
    Index("ix_feed_user_recipient_event", "user_id", "recipient", "event_id", "message_id"),
)
"""The activity feed: one row per judged event with whose it is, written by the classify reader.

Event details stay in `events` (joined by primary key); this table holds what the
feed, contacts, live stream and webhooks look events up by.
"""

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    # whsec_ + base64 of the key, as Standard Webhooks writes it.
    Column("event_filter", Text, nullable=False),
    # JSON list of event kinds the endpoint wants; empty: all.
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("all_users", Boolean, nullable=False, server_default=false()),
    # An admin's endpoint for everyone's events; otherwise (and for non-admins) only the owner's.
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Text, nullable=False, unique=True),
    # The webhook-id header: the same on every attempt, so receivers can drop duplicates.
    Column("webhook_id", Integer, ForeignKey("webhooks.id"), nullable=False, index=True),
    Column("event_id", BigInteger, nullable=True),
    Column("payload", Text, nullable=False),
    Column("status", Text, nullable=False),
    # pending, delivered, failed (gave up after the retry window), disabled (endpoint turned off)
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=True, index=True),
    Column("lease_until", Float, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Column("retry_until", Float, nullable=True),
    # Set at the first failed attempt (then + the retry window); a manual redelivery clears it.
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("outbox_id", Integer, ForeignKey("webhook_outbox.id"), nullable=False, index=True),
    Column("attempted_at", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration", Float, nullable=False),
    Column("response", Text, nullable=True),
    # The receiver's status line ('200 OK'), for the delivery log; never the answer's body (issue #12).
)

settings = Table(
    "settings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    # JSON.
    Column("updated_at", Float, nullable=False),
)
"""Server-wide settings changed from the dashboard (privacy: IP truncation, retention)."""

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

# Campaigns (issue 7): contacts, lists and their members (store/contacts.py).

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    # Lower-cased: one contact per address in any case.
    Column("fields", Text, nullable=False),
    # JSON object of strings from the import (first_name, ...): what templates personalise with.
    Column("unsubscribed_at", Float, nullable=True),
    # The first unsubscribe; no import changes it, only `mailbeacon contacts resubscribe`.
    Column("unsubscribe_source", Text, nullable=True),
    # link (the confirmation page), one-click (RFC 8058 POST), cli, import.
    Column("unsubscribe_campaign_id", Integer, nullable=True, index=True),
    # The campaign whose mail carried the link, for its report; None for cli and import.
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

contact_lists = Table(
    "contact_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

list_members = Table(
    "list_members",
    metadata,
    Column("list_id", Integer, ForeignKey("contact_lists.id"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("added_at", Float, nullable=False),
    PrimaryKeyConstraint("list_id", "contact_id"),
)
"""The primary key orders a list's members by contact id: a campaign's send cursor walks it."""

CAMPAIGN_STATUSES = ("sending", "queued", "done", "cancelled")
"""sending: copies being queued; queued: all queued, some not delivered yet; done: every copy sent or
bounced; cancelled: stopped for good. A sending or queued campaign may also be paused (`paused_at`)."""

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    # Whose campaign it is: the feed, notifications and the dashboard attribute its activity to them.
    Column("list_id", Integer, ForeignKey("contact_lists.id"), nullable=False),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    # ONE messages row per campaign (source "campaign"), one delivery per contact mailed; its
    # links rows give every link index one URL across all copies.
    Column("subject", Text, nullable=False),
    Column("from_address", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=True),
    # The templates (Jinja2 sources), stored once: a copy is rendered from them and the contact's fields.
    Column("base_url", Text, nullable=False),
    Column("rate", Float, nullable=True),
    # Copies a second the outbound queue may hand on; None: as fast as it goes.
    Column("status", Text, nullable=False),
    Column("cursor", Integer, nullable=False),
    # The last contact id queued (or skipped): a resumed send goes on after it.
    Column("total", Integer, nullable=False),
    # List members when the send started.
    Column("queued", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    # Members not mailed: unsubscribed, or their copy could not be rendered (campaign_sends.skipped says why).
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("queued_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("paused_at", Float, nullable=True),
    # Set while paused: nothing more is queued and its queued copies are held (store/campaign_control.py).
    CheckConstraint("status IN ('sending', 'queued', 'done', 'cancelled')", name="status"),
    CheckConstraint("rate IS NULL OR rate > 0", name="rate"),
)
"""One row per campaign: its templates, its list and how far its send has got (store/campaigns.py)."""

campaign_sends = Table(
    "campaign_sends",
    metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=True, unique=True),
    # The contact's copy; None when skipped.
    Column("skipped", Text, nullable=True),
    # Why the contact got no copy: "unsubscribed", or the template's error for them.
    PrimaryKeyConstraint("campaign_id", "contact_id"),
    CheckConstraint("(delivery_id IS NULL) != (skipped IS NULL)", name="sent_or_skipped"),
)
"""One row per list member a campaign reached: the primary key itself refuses a second copy to a contact."""

# Connected mailboxes (issue #14): a user's own SMTP submission and IMAP account (store/mailboxes.py).

MAILBOX_SECURITY = ("starttls", "tls", "none")
SENT_COPY_MODES = ("auto", "always", "never")
SENT_COPY_STATUSES = ("waiting", "appended", "found", "dropped", "failed")
"""waiting: until a copy is sent, then until the APPEND is done; appended; found: it was in the folder already
(an APPEND whose answer was lost); dropped: nothing was sent, or the mailbox was disconnected; failed: gave up."""

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, unique=True),
    # One mailbox per user: a user sends only as their own address (issue #12, item 8).
    *(
        column
        for side in ("smtp", "imap")
        for column in (
            Column(f"{side}_host", Text, nullable=False),
            Column(f"{side}_port", Integer, nullable=False),
            Column(f"{side}_security", Text, nullable=False),
            Column(f"{side}_username", Text, nullable=False),
            Column(f"{side}_secret", Text, nullable=False),
            # A Fernet token (mailboxes/secretbox.py), never the password itself.
            Column(f"{side}_pin", Text, nullable=True),
            # SHA-256 of a certificate the user chose to trust although it does not verify.
        )
    ),
    Column("sent_folder", Text, nullable=True),
    # The folder the user named; None: found by its \Sent flag (RFC 6154) or a common name.
    Column("sent_folder_found", Text, nullable=True),
    # Where connecting found it.
    Column("sent_copy", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("tested_at", Float, nullable=True),
    Column("test_result", Text, nullable=True),
    CheckConstraint("smtp_security IN ('starttls', 'tls', 'none')", name="smtp_security"),
    CheckConstraint("imap_security IN ('starttls', 'tls', 'none')", name="imap_security"),
    CheckConstraint("sent_copy IN ('auto', 'always', 'never')", name="sent_copy"),
    sqlite_autoincrement=True,  # an id is never reused: a queued copy never goes through someone else's mailbox
)
"""A user's connected mailbox: where their one-to-one mail goes out, and whose Sent folder gets a copy."""

sent_copies = Table(
    "sent_copies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    # One Sent copy per message, whatever its number of recipients.
    Column("mailbox_id", Integer, nullable=True, index=True),
    Column("message_id_header", Text, nullable=False),
    # What a retry SEARCHes the folder for before it APPENDs again.
    Column("body", LargeBinary, nullable=True),
    # The sender's view, untracked; None once appended or dropped.
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("folder", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("appended_at", Float, nullable=True),
    CheckConstraint("status IN ('waiting', 'appended', 'found', 'dropped', 'failed')", name="status"),
    Index("ix_sent_copies_status_due", "status", "next_attempt_at"),
)
"""The durable queue of Sent-folder APPENDs (issue #14): written with the message, done after the upstream accepts."""
# Many nodes on one store (issue #17): who runs each job that must run once.

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    # The job: reader:classify, reader:webhooks, privacy, campaign:<id>.
    Column("holder", Text, nullable=False),
    # The node's name (`serve --node-name`, default its hostname).
    Column("instance", Text, nullable=False),
    # Which process of that node: a restarted node waits for its old process's lease like anyone else.
    Column("epoch", Integer, nullable=False),
    # Raised each time the lease changes hands: a fencing token.
    Column("acquired_at", Float, nullable=False),
    Column("renewed_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    # The database's clock, not a node's: nodes' clocks may disagree.
)
"""One row per job that runs on one node at a time; another node takes it once it expires (store/leases.py)."""
