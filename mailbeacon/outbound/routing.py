"""Which transport sends a copy (issue #14): the server's upstream, or the sender's connected mailbox.

Each sender of the worker keeps its own transports, one per mailbox it has sent through,
each with its connection kept open between copies like the upstream's. A mailbox whose
settings changed since (a new password) gets a new transport; a copy whose mailbox is
gone (disconnected while it waited) goes through the server's upstream, as a user
without a mailbox's would.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from mailbeacon.outbound.transports import Transport
from mailbeacon.store import Queued

MailboxTransports = Callable[[int], tuple[Hashable, Callable[[], Transport]] | None]
"""For a mailbox id: a version that changes with its settings, and how to build its transport; None when it is gone."""


class Transports:
    def __init__(self, server: Callable[[], Transport], mailboxes: MailboxTransports | None = None) -> None:
        self._server_factory = server
        self._server: Transport | None = None
        self._mailboxes = mailboxes
        self._held: dict[int, tuple[Hashable, Transport]] = {}

    def for_copy(self, queued: Queued) -> Transport:
        """Blocking: may read the mailbox from the store."""
        if queued.mailbox_id is not None and self._mailboxes is not None:
            found = self._mailboxes(queued.mailbox_id)
            if found is not None:
                version, factory = found
                held = self._held.get(queued.mailbox_id)
                if held is not None and held[0] == version:
                    return held[1]
                if held is not None:
                    held[1].close()
                transport = factory()
                self._held[queued.mailbox_id] = (version, transport)
                return transport
        if self._server is None:
            self._server = self._server_factory()
        return self._server

    def close(self) -> None:
        """Close every connection this sender holds (blocking)."""
        held, self._held = self._held, {}
        for _, transport in held.values():
            transport.close()
        if self._server is not None:
            self._server.close()
