"""The user's IMAP account: log in, find the Sent folder, append a message there exactly once.

IMAPClient (imapclient on PyPI) does the protocol: it is blocking like smtplib, so it runs in
the same worker threads as the outbound transports; it parses LIST flags, quotes literals and
folder names (modified UTF-7), and has STARTTLS and timeouts, where imaplib would need all of
that written again and aioimaplib would put a second event-loop style beside smtplib's.
"""

from __future__ import annotations

import datetime
import socket
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from mailbeacon.mailboxes.settings import Endpoint, Security
from mailbeacon.outbound.transports import check_pin, tls_context

SENT_FLAG = b"\\Sent"
"""RFC 6154 §2: the special-use attribute of the folder that holds sent mail."""
COMMON_SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail", "INBOX.Sent",
                     "INBOX/Sent")
"""Where servers without SPECIAL-USE keep sent mail (Dovecot's and Courier's defaults, Exchange, Apple)."""

__all__ = ["IMAPClientError", "LoginError", "append_once", "find_sent_folder", "open_imap"]


def open_imap(where: Endpoint, secret: str, timeout: float) -> Any:
    """A logged-in IMAPClient; raises OSError, ssl errors, IMAPClientError or LoginError."""
    context = tls_context(pin=where.pin)
    client = imapclient.IMAPClient(
        where.host, port=where.port, ssl=where.security is Security.TLS, ssl_context=context, timeout=timeout,
    )
    try:
        if where.security is Security.TLS:
            check_pin(_socket(client), where.pin)
        elif where.security is Security.STARTTLS:
            client.starttls(context)  # raises when the server offers none: required, never skipped
            check_pin(_socket(client), where.pin)
        client.login(where.username, secret)
    except BaseException:
        _close(client)
        raise
    return client


def find_sent_folder(client: Any, configured: str | None) -> str | None:
    """The configured folder if it exists; else the one flagged \\Sent; else a common name; None when none is."""
    if configured:
        return configured if client.folder_exists(configured) else None
    folders = client.list_folders()
    for flags, _, name in folders:
        if SENT_FLAG in flags:
            return str(name)
    names = {str(name).lower(): str(name) for _, _, name in folders}
    for common in COMMON_SENT_NAMES:
        if common.lower() in names:
            return names[common.lower()]
    return None


def append_once(client: Any, folder: str, message_id: str, body: bytes, when: float) -> bool:
    """Append `body` to `folder` unless a message with this Message-ID is there already; True if appended.

    The search makes a retry safe: an APPEND whose answer was lost (a dropped connection,
    a crash) has stored the message or not, and the folder says which."""
    client.select_folder(folder, readonly=True)  # EXAMINE: closing it never expunges the user's deleted mail
    try:
        if client.search(["HEADER", "Message-ID", message_id]):
            return False
    finally:
        client.unselect_folder() if client.has_capability("UNSELECT") else client.close_folder()
    moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    client.append(folder, body, flags=(b"\\Seen",), msg_time=moment)  # the sender has read their own mail
    return True


def close(client: Any) -> None:
    _close(client)


def _socket(client: Any) -> socket.socket:
    sock: socket.socket = client.socket()
    return sock


def _close(client: Any) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError):
        try:
            client.shutdown()
        except OSError:
            pass
