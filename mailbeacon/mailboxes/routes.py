"""The outbound worker's view of connected mailboxes (issue #14): a mailbox id becomes an SMTP transport.

The password is opened from its seal only here, when a transport is built, and lives
in that transport's Upstream (whose repr hides it) for as long as the sender keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from mailbeacon.mailboxes.probe import upstream_of
from mailbeacon.mailboxes.secretbox import SecretBox
from mailbeacon.mailboxes.settings import Endpoint, Security
from mailbeacon.outbound import SmtpTransport, Transport
from mailbeacon.store import EndpointRow, Store

SEND_TIMEOUT = 30.0


def endpoint_of(kind: str, row: EndpointRow) -> Endpoint:
    """A stored side as settings (checked when it was connected)."""
    return Endpoint(kind, row.host, row.port, Security(row.security), row.username, row.pin)


class MailboxRoutes:
    """`OutboundWorker(mailboxes=...)`: for a mailbox id, its version and a factory of its SMTP transport."""

    def __init__(self, store: Store, box: SecretBox, timeout: float = SEND_TIMEOUT) -> None:
        self._store = store
        self._box = box
        self._timeout = timeout

    def __call__(self, mailbox_id: int) -> tuple[Hashable, Callable[[], Transport]] | None:
        row = self._store.mailbox(mailbox_id)
        if row is None:
            return None
        smtp = row.smtp

        def build() -> Transport:
            upstream = upstream_of(endpoint_of("smtp", smtp), self._box.open(smtp.sealed_secret))
            return SmtpTransport(upstream, timeout=self._timeout)

        return (row.updated_at, smtp.sealed_secret), build
