"""The aiosmtpd handler: accept a message only once every copy of it is durably queued.

aiosmtpd's reference Proxy answers 250 after trying the upstream and even when
the upstream refused. Here a 250 means the copies are in the store's queue,
where the outbound worker will deliver or bounce them; a store failure answers
451, so the client keeps the message and tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from mailbeacon.relay.auth import Authenticator
from mailbeacon.relay.envelope import Unfit, unfit
from mailbeacon.relay.replies import (
    S250_QUEUED,
    S451_TRY_LATER,
    S452_TOO_MANY_RECIPIENTS,
    S501_BAD_ADDRESS,
    S501_BAD_SENDER,
    S530_NOT_AUTHENTICATED,
    S550_NOT_YOURS,
    S550_SUPPRESSED,
    S553_NEEDS_SMTPUTF8,
)
from mailbeacon.store import StoreUnavailable, Suppression
from mailbeacon.submission import NotYours, Sender, Submitter, Suppressed, why
from mailbeacon.wording import many
from mailbeacon.submission.identity import check_envelope_sender

log = logging.getLogger(__name__)

DEFAULT_MAX_RECIPIENTS = 100


class RelayHandler:
    def __init__(
        self, submitter: Submitter, authenticator: Authenticator, queued: Callable[[], None] = lambda: None,
        threads: int = 4, max_recipients: int = DEFAULT_MAX_RECIPIENTS,
    ) -> None:
        self._submitter = submitter
        self._authenticator = authenticator
        self._max_recipients = max_recipients
        self._queued = queued
        # Instrumenting and the store's fsync run here, off the event loop that answers pixels.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mailbeacon-relay")

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._authenticator.plain(server, args)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._authenticator.login(server, args)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        sender = session.auth_data
        if not isinstance(sender, Sender):
            return S530_NOT_AUTHENTICATED
        if (problem := unfit(address, envelope.smtp_utf8)) is not None:
            return S501_BAD_SENDER if problem is Unfit.SYNTAX else S553_NEEDS_SMTPUTF8
        try:
            check_envelope_sender(sender, address)  # a user sends as their own address only (issue #12)
        except NotYours as exc:
            return S550_NOT_YOURS.format(address=exc.address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not isinstance(session.auth_data, Sender):
            return S530_NOT_AUTHENTICATED  # aiosmtpd checks first; this is the second lock on the door
        if "@" not in address or any(c.isspace() for c in address):
            return S501_BAD_ADDRESS
        if (problem := unfit(address, envelope.smtp_utf8)) is not None:
            return S501_BAD_ADDRESS if problem is Unfit.SYNTAX else S553_NEEDS_SMTPUTF8
        if len(envelope.rcpt_tos) >= self._max_recipients:
            return S452_TOO_MANY_RECIPIENTS  # RFC 5321 §4.5.3.1.8 (issue #12, item 9)
        try:  # a hard-bounced or complaining address is not mailed again (issue #15)
            blocked = await asyncio.get_running_loop().run_in_executor(self._executor, self._submitter.blocked, [address])
        except StoreUnavailable:
            blocked = {}  # DATA asks again, and answers 451 if the store is still down
        if blocked:
            return _suppressed_reply(address, next(iter(blocked.values())))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sender = session.auth_data
        if not isinstance(sender, Sender):
            return S530_NOT_AUTHENTICATED
        raw = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        try:
            submitted = await loop.run_in_executor(
                self._executor,
                self._submitter.submit,
                sender,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                raw,
                "relay",
                _peer_ip(session.peer),
            )
        except NotYours as exc:  # From: or Sender: names someone else (issue #12, item 8)
            log.info("relay: message from %s refused: %s", sender.email, exc)
            return S550_NOT_YOURS.format(address=exc.address)
        except Suppressed as exc:  # suppressed since its RCPT was answered
            return _suppressed_reply(*sorted(exc.found.items())[0])
        except StoreUnavailable as exc:
            log.warning("relay: message from %s not queued, answered 451: %s", sender.email, exc)
            return S451_TRY_LATER
        except Exception:  # noqa: BLE001 - any failure must leave the message with the client, not lose it
            log.exception("relay: message from %s not queued, answered 451", sender.email)
            return S451_TRY_LATER
        self._queued()
        recipients = len(envelope.rcpt_tos)
        log.info(
            "relay: accepted message %d from %s, %s, %d bytes, %s",
            submitted.message_id, sender.email, many(recipients, "recipient"), len(raw),
            many(len(submitted.copies), "copy"),
            extra={"message_id": submitted.message_id, "sender": sender.email, "recipients": recipients,
                   "size": len(raw), "copies": len(submitted.copies)},
        )
        return S250_QUEUED.format(message_id=submitted.message_id, copies=many(len(submitted.copies), "copy"))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._authenticator.close()


def _peer_ip(peer: object) -> str | None:
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def _suppressed_reply(address: str, entry: Suppression) -> str:
    """One reply line (RFC 5321 §4.5.3.1.5: 512 octets) whatever the stored detail holds."""
    reason = " ".join(why(entry).split())
    return S550_SUPPRESSED.format(address=address, why=reason if len(reason) <= 200 else reason[:199] + "…")
