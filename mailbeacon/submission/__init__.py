"""Submitted mail becomes queued copies: one per recipient, each tracked as the policy decides.

The relay, `mailbeacon send` and `POST /api/v1/messages` all hand their message
to `Submitter.submit`, so the three ways to send one-to-one mail cannot differ.
Nothing is sent from here: the copies go into the store's outbound queue in one
transaction, and the outbound worker delivers them.
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import getaddresses, make_msgid

from mailbeacon.instrument import (
    Plan,
    Prepared,
    TokenTracker,
    Tracker,
    field_values,
    header_end,
    prepare_message,
    remove_fields,
)
from mailbeacon.mailboxes.providers import appends_sent_copy
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import Copy, NewSentCopy, Store, Suppression
from mailbeacon.store.suppressions import BLOCKING
from mailbeacon.submission.dkim import DkimSigner, has_signature
from mailbeacon.submission.identity import NotYours, check_author_fields, check_envelope_sender
from mailbeacon.submission.policy import TRACK_HEADER, Decision, Switches, Untracked, decide, track_header
from mailbeacon.tokens import Keyring

__all__ = ["NotYours", "Sender", "Submitted", "Submitter", "Suppressed", "Switches", "Untracked"]

REMOVED_FIELDS = ("Bcc", TRACK_HEADER)
"""Fields no recipient may see: taken out of every copy, byte-exactly."""


class Suppressed(MailbeaconError):
    """Recipients on the suppression list (a hard bounce, a complaint, repeated soft bounces, an admin's
    entry): nothing was queued (issue #15). The API's `send_to_suppressed` sends anyway."""

    def __init__(self, found: dict[str, Suppression]) -> None:
        self.found = found
        named = "; ".join(f"<{address}> ({why(entry)})" for address, entry in sorted(found.items()))
        super().__init__(f"not sent: suppressed {named}")


def why(entry: Suppression) -> str:
    """'hard bounce: 550 5.1.1 User unknown'"""
    reason = entry.reason.replace("_", " ")
    return f"{reason}: {entry.detail}" if entry.detail else reason


@dataclass(frozen=True, slots=True)
class Sender:
    """The authenticated user a message is sent as."""

    user_id: int | None
    email: str
    seat: str


@dataclass(frozen=True, slots=True)
class CopySummary:
    recipient: str
    delivery: str
    """Delivery key, hex."""
    opens_tracked: bool
    clicks_tracked: bool
    untracked_reason: str | None


@dataclass(frozen=True, slots=True)
class Submitted:
    message_id: int
    copies: list[CopySummary] = field(default_factory=list)


class Submitter:
    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        base_url: str,
        switches: Switches = Switches(),
        dkim: DkimSigner | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._base_url = base_url
        self._switches = switches
        self._dkim = dkim

    def submit(
        self,
        sender: Sender,
        mail_from: str,
        rcpt_tos: Sequence[str],
        raw: bytes,
        source: str,
        submitted_from: str | None = None,
        send_to_suppressed: bool = False,
    ) -> Submitted:
        """Instrument and queue one copy per recipient; raises StoreUnavailable if nothing could be queued.

        `submitted_from` is the client's IP address: the sender's own opens come from there.
        Raises NotYours, queueing nothing, when the envelope or an author field names an
        address that is not the sender's (issue #12, item 8).
        """
        check_envelope_sender(sender, mail_from)
        check_author_fields(sender, raw)
        recipients = _unique(rcpt_tos)
        if not send_to_suppressed and (blocked := self.blocked(recipients)):
            raise Suppressed(blocked)
        header = track_header(field_values(raw, TRACK_HEADER))
        clean = remove_fields(raw, REMOVED_FIELDS)
        dkim_signed = has_signature(clean) and not self._switches.instrument_dkim_signed
        on_list = set(self._store.do_not_track(recipients, sender.user_id))  # theirs and the admin-wide list
        own = {a.lower() for a in (sender.email, mail_from, *_addresses(clean, "From")) if a}
        written_to = {a.lower() for a in (*_addresses(raw, "To"), *_addresses(raw, "Cc"))}
        prepared: dict[Plan, Prepared] = {}
        recogniser = TokenTracker(self._base_url, self._keyring, b"\0" * 12)

        def decision_for(recipient: str) -> Decision:
            if dkim_signed and self._switches.tracking:
                return Decision(False, False, Untracked.DKIM_SIGNED)
            return decide(
                self._switches,
                seat=sender.seat,
                header=header,
                on_do_not_track=recipient.lower() in on_list,
                is_sender=recipient.lower() in own,
            )

        def plan_of(decision: Decision) -> Plan | None:
            """The instrumentation of a copy so decided; None leaves its bytes alone."""
            if decision.reason is Untracked.DKIM_SIGNED:
                return None
            if not decision.anything:
                # Nothing of this copy is tracked, and nothing quoted from earlier mail either:
                # our old pixels go and our old links are unwrapped (the sender's Sent folder,
                # a do-not-track recipient). Without any, the bytes stay as they are.
                return Plan(opens=False, clicks=False)
            return Plan(opens=decision.opens, clicks=decision.clicks, honeypot=self._switches.honeypot)

        def make_copy(recipients_of_copy: list[str], decision: Decision, shared: bool) -> Copy:
            delivery = secrets.token_bytes(12)
            attributed = ", ".join(recipients_of_copy)
            plan = plan_of(decision)
            reason: str | None
            if plan is None:
                assert decision.reason is not None
                body, opens, clicks, reason = clean, False, False, decision.reason.value  # not one byte changed
            elif not decision.anything:
                body = self._untracked(prepared, clean, recogniser)
                opens = clicks = False
                reason = decision.reason.value if decision.reason else None
            else:
                result = self._prepared(prepared, clean, plan, recogniser).render(
                    TokenTracker(self._base_url, self._keyring, delivery)
                )
                body, opens = result.message, result.report.opens_tracked
                clicks = bool(result.report.tracked_links)
                reason = None if opens else (result.report.opens_reason.value if result.report.opens_reason else None)
            if self._dkim is not None:
                body = self._dkim.sign(body)
            listed = any(is_contact(r, written_to, own) for r in recipients_of_copy)
            return Copy(delivery, attributed, tuple(recipients_of_copy), body, opens, clicks, reason, shared, listed)

        # Every copy is decided first (a few small objects each) and built only as the store
        # writes it, so memory stays flat in the number of recipients (issue #12, item 9).
        planned: list[tuple[list[str], Decision, bool]]
        if self._switches.split:
            planned = [([r], decision_for(r), False) for r in recipients]
        else:
            # One tracked copy for everyone the policy lets us track; the others get theirs untouched.
            decisions = {r: decision_for(r) for r in recipients}
            tracked = [r for r in recipients if decisions[r].anything]
            planned = []
            if tracked:
                shared_decision = Decision(
                    all(decisions[r].opens for r in tracked), all(decisions[r].clicks for r in tracked)
                )
                planned.append((tracked, shared_decision, len(tracked) > 1))
            planned += [([r], decisions[r], False) for r in recipients if r not in tracked]

        links: dict[int, str] = {}  # the same in every copy of a plan: known once the message is scanned
        for plan in {plan_of(decision) for _, decision, _ in planned if decision.anything}:
            assert plan is not None  # a copy that tracks anything is instrumented
            for link in self._prepared(prepared, clean, plan, recogniser).report.tracked_links:
                if link.link is not None:
                    links[link.link] = link.target

        summaries: list[CopySummary] = []

        def copies() -> Iterator[Copy]:
            for recipients_of_copy, decision, shared in planned:
                copy = make_copy(recipients_of_copy, decision, shared)
                summaries.append(CopySummary(
                    copy.recipient, copy.delivery_key.hex(), copy.opens_tracked, copy.clicks_tracked,
                    copy.untracked_reason,
                ))
                yield copy

        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(clean[: header_end(clean)])
        mailbox = self._store.mailbox_of(sender.user_id) if sender.user_id is not None else None
        sent_copy = None
        if mailbox is not None and appends_sent_copy(mailbox.sent_copy, mailbox.smtp.host):
            sent_copy = self._sent_copy(mailbox.id, raw, _text(headers, "Message-ID"), sender.email, dkim_signed,
                                        recogniser)
        message_id = self._store.queue_message(
            user_id=sender.user_id,
            sender=_text(headers, "From") or mail_from,
            subject=_text(headers, "Subject"),
            message_id_header=_text(headers, "Message-ID"),
            source=source,
            submitted_from=submitted_from,
            mail_from=mail_from,
            copies=copies(),
            links=sorted(links.items()),
            mailbox_id=mailbox.id if mailbox is not None else None,  # the sender's own SMTP server (issue #14)
            sent_copy=sent_copy,
        )
        return Submitted(message_id, summaries)

    def blocked(self, recipients: Sequence[str]) -> dict[str, Suppression]:
        """Those of `recipients` that one-to-one mail does not go to (an unsubscribe stops campaigns only)."""
        return {a: e for a, e in self._store.suppressed(recipients).items() if e.reason in BLOCKING}

    def _untracked(self, cache: dict[Plan, Prepared], raw: bytes, recogniser: Tracker) -> bytes:
        """Nothing tracked and nothing quoted from earlier mail either: our old pixels go and our
        old links are unwrapped. The sender's own copy, and their Sent folder's (issue #14)."""
        return self._prepared(cache, raw, Plan(opens=False, clicks=False), recogniser).render(recogniser).message

    def _sent_copy(
        self, mailbox_id: int, raw: bytes, message_id: str | None, sender: str, dkim_signed: bool, recogniser: Tracker,
    ) -> NewSentCopy:
        """The message as its sender sees it in their Sent folder: its own headers (Bcc too, which no
        recipient sees; only our X-Mailbeacon-Track goes), no pixel and no wrapped link."""
        view = remove_fields(raw, (TRACK_HEADER,))
        body = view if dkim_signed else self._untracked({}, view, recogniser)
        if not message_id:  # the folder is searched by it before a retry appends again; the copies sent keep their bytes
            message_id = make_msgid(domain=sender.rpartition("@")[2] or None)
            body = f"Message-ID: {message_id}\r\n".encode() + body
        return NewSentCopy(mailbox_id, message_id.strip(), body)

    @staticmethod
    def _prepared(cache: dict[Plan, Prepared], raw: bytes, plan: Plan, recogniser: Tracker) -> Prepared:
        """Scan the message once per distinct plan; each copy only fills in its own URLs."""
        if plan not in cache:
            cache[plan] = prepare_message(raw, plan, recogniser)
        return cache[plan]


def _unique(addresses: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def is_contact(recipient: str, written_to: set[str], own: set[str]) -> bool:
    """Whether a recipient is one of the sender's contacts: named in To or Cc. Bcc recipients and
    the sender herself (her own Bcc, a Sent copy) are not, unless she wrote to them; a message that
    names nobody in To or Cc lists every recipient but her."""
    lowered = recipient.lower()
    return lowered in written_to if written_to else lowered not in own


def _addresses(raw: bytes, name: str) -> list[str]:
    return [address for _, address in getaddresses(field_values(raw, name)) if address]


def _text(headers: email.message.Message, name: str) -> str | None:
    try:
        value = headers.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of: not worth losing mail over
        return None
    return None if value is None else str(value)
