"""A sender starts no copy past half its claim's lease (issue #17): the rest goes back, so no two senders,
of this node or another, deliver one copy at once."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailbeacon.outbound import OutboundWorker, SmtpTransport, Upstream
from mailbeacon.store import Copy, open_store
from tests.support.databases import sqlite_url
from tests.support.smtp import Sink, SinkHandler

COPIES = 8
LEASE = 3.0
"""Shorter than the batch takes: 8 copies at 0.6 s each."""


class SlowUpstream(SinkHandler):
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(0.6)  # a busy upstream: each copy takes its time
        return await super().handle_DATA(server, session, envelope)


def test_a_batch_longer_than_its_lease_is_still_delivered_once_a_copy(tmp_path: Path) -> None:
    sink = Sink()
    sink.handler = SlowUpstream()
    sink.start()
    store = open_store(sqlite_url(tmp_path))
    store.migrate()
    recipients = [f"r{n}@example.org" for n in range(COPIES)]
    store.queue_message(
        user_id=None, sender="ann@example.com", subject="hi", message_id_header="<m@example.com>", source="relay",
        mail_from="ann@example.com", links=[],
        copies=[Copy(secrets.token_bytes(12), r, (r,), b"Subject: hi\r\n\r\nhello\r\n", False, False) for r in recipients],
    )
    upstream = Upstream.parse(sink.url)

    async def deliver() -> None:
        # Two senders, each claiming the whole queue when it can: the second finds the first's claim
        # lapsed long before the first has sent its batch.
        worker = OutboundWorker(store, lambda: SmtpTransport(upstream, timeout=LEASE / 3), senders=2,
                                batch=COPIES, lease=LEASE, idle_poll=0.1)
        await worker.start()
        try:
            deadline = time.monotonic() + 60
            while len(sink.received) < COPIES and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(LEASE)  # a copy sent twice would come now
        finally:
            await worker.stop()

    try:
        asyncio.run(deliver())
        assert Counter(r for copy in sink.received for r in copy.rcpt_tos) == Counter(recipients)
    finally:
        store.close()
        sink.stop()
