"""Connected mailboxes (issue #14): a user's own SMTP server sends their mail, their IMAP Sent folder keeps it.

`Mailboxes` connects (testing both logins first), shows, tests and disconnects;
`MailboxRoutes` gives the outbound worker each mailbox's SMTP transport;
`SentFolderWorker` appends the sender's untracked copy to their Sent folder once.
Passwords are sealed with `SecretBox` (a key file in the data directory).
"""

from __future__ import annotations

from mailbeacon.mailboxes.connections import ConnectFailed, Mailboxes, MailboxView
from mailbeacon.mailboxes.probe import Check, Problem
from mailbeacon.mailboxes.providers import appends_sent_copy, files_sent_mail
from mailbeacon.mailboxes.routes import MailboxRoutes
from mailbeacon.mailboxes.secretbox import KEY_FILE, SecretBox
from mailbeacon.mailboxes.sent_folder import SentFolderWorker
from mailbeacon.mailboxes.settings import (
    Endpoint,
    MailboxError,
    MailboxSettings,
    Secrets,
    Security,
    SentCopy,
    endpoint,
    sent_copy_mode,
)

__all__ = [
    "KEY_FILE",
    "Check",
    "ConnectFailed",
    "Endpoint",
    "MailboxError",
    "MailboxRoutes",
    "MailboxSettings",
    "MailboxView",
    "Mailboxes",
    "Problem",
    "SecretBox",
    "Secrets",
    "Security",
    "SentCopy",
    "SentFolderWorker",
    "appends_sent_copy",
    "endpoint",
    "files_sent_mail",
    "sent_copy_mode",
]
