"""Connected mailboxes (issue #14): a user's own SMTP and IMAP account, and where each copy is routed.

Secrets arrive here sealed (mailboxes/secretbox.py) and are stored as they come:
this module never sees a password. Disconnecting sends the user's queued copies
through the server's upstream and drops their Sent-folder appends, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Row, delete, insert, select, update

from mailbeacon.store.schema import mailboxes, outbound, sent_copies

SIDES = ("smtp", "imap")


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """One side of a mailbox (SMTP submission or IMAP), its secret sealed."""

    host: str
    port: int
    security: str
    """starttls, tls or none."""
    username: str
    sealed_secret: str = field(repr=False)
    """A Fernet token; only mailboxes/secretbox.py opens it."""
    pin: str | None = None
    """SHA-256 (hex) of a certificate trusted although it does not verify."""


@dataclass(frozen=True, slots=True)
class MailboxRecord:
    """What connecting writes."""

    user_id: int
    smtp: EndpointRow
    imap: EndpointRow
    sent_folder: str | None
    sent_folder_found: str | None
    sent_copy: str
    test_result: str


@dataclass(frozen=True, slots=True)
class MailboxRow:
    id: int
    user_id: int
    smtp: EndpointRow
    imap: EndpointRow
    sent_folder: str | None
    """The folder the user named; None: found by its \\Sent flag or a common name."""
    sent_folder_found: str | None
    sent_copy: str
    """auto, always or never."""
    created_at: float
    updated_at: float
    """Changes with every setting: a sender holding this mailbox's transport builds a new one."""
    tested_at: float | None
    test_result: str | None


@dataclass(frozen=True, slots=True)
class Disconnected:
    mailbox_id: int
    rerouted: int
    """Queued copies that now go through the server's upstream."""
    dropped: int
    """Sent-folder copies that will not be appended."""


def _endpoint_values(side: str, endpoint: EndpointRow) -> dict[str, object]:
    return {
        f"{side}_host": endpoint.host, f"{side}_port": endpoint.port, f"{side}_security": endpoint.security,
        f"{side}_username": endpoint.username, f"{side}_secret": endpoint.sealed_secret, f"{side}_pin": endpoint.pin,
    }


def _endpoint(row: Row[tuple[object, ...]], side: str) -> EndpointRow:
    values = row._mapping
    return EndpointRow(
        values[f"{side}_host"], values[f"{side}_port"], values[f"{side}_security"], values[f"{side}_username"],
        values[f"{side}_secret"], values[f"{side}_pin"],
    )


def _mailbox(row: Row[tuple[object, ...]]) -> MailboxRow:
    values = row._mapping
    return MailboxRow(
        id=values["id"], user_id=values["user_id"], smtp=_endpoint(row, "smtp"), imap=_endpoint(row, "imap"),
        sent_folder=values["sent_folder"], sent_folder_found=values["sent_folder_found"],
        sent_copy=values["sent_copy"], created_at=values["created_at"], updated_at=values["updated_at"],
        tested_at=values["tested_at"], test_result=values["test_result"],
    )


def save_mailbox(conn: Connection, record: MailboxRecord, now: float) -> int:
    """Connect (or reconnect with new settings) the user's one mailbox; its id."""
    values = {
        **_endpoint_values("smtp", record.smtp), **_endpoint_values("imap", record.imap),
        "sent_folder": record.sent_folder, "sent_folder_found": record.sent_folder_found,
        "sent_copy": record.sent_copy, "updated_at": now, "tested_at": now, "test_result": record.test_result,
    }
    found = conn.execute(select(mailboxes.c.id).where(mailboxes.c.user_id == record.user_id)).scalar_one_or_none()
    if found is not None:
        conn.execute(update(mailboxes).where(mailboxes.c.id == found).values(**values))
        return int(found)
    made: int = conn.execute(
        insert(mailboxes).values(user_id=record.user_id, created_at=now, **values).returning(mailboxes.c.id)
    ).scalar_one()
    return made


def select_mailbox_of(conn: Connection, user_id: int) -> MailboxRow | None:
    row = conn.execute(select(mailboxes).where(mailboxes.c.user_id == user_id)).first()
    return None if row is None else _mailbox(row)


def select_mailbox(conn: Connection, mailbox_id: int) -> MailboxRow | None:
    row = conn.execute(select(mailboxes).where(mailboxes.c.id == mailbox_id)).first()
    return None if row is None else _mailbox(row)


def select_mailboxes(conn: Connection) -> list[MailboxRow]:
    return [_mailbox(row) for row in conn.execute(select(mailboxes).order_by(mailboxes.c.id))]


def update_test(conn: Connection, mailbox_id: int, result: str, sent_folder_found: str | None, now: float) -> None:
    values: dict[str, object] = {"tested_at": now, "test_result": result}
    if sent_folder_found is not None:
        values["sent_folder_found"] = sent_folder_found
    conn.execute(update(mailboxes).where(mailboxes.c.id == mailbox_id).values(**values))


def update_secrets(conn: Connection, mailbox_id: int, smtp_secret: str, imap_secret: str) -> None:
    """Sealed anew (a key rotation); updated_at is kept, the settings have not changed."""
    conn.execute(
        update(mailboxes).where(mailboxes.c.id == mailbox_id).values(smtp_secret=smtp_secret, imap_secret=imap_secret)
    )


def delete_mailbox(conn: Connection, user_id: int, now: float) -> Disconnected | None:
    mailbox_id = conn.execute(select(mailboxes.c.id).where(mailboxes.c.user_id == user_id)).scalar_one_or_none()
    if mailbox_id is None:
        return None
    rerouted = conn.execute(update(outbound).where(outbound.c.mailbox_id == mailbox_id).values(mailbox_id=None))
    dropped = conn.execute(
        update(sent_copies)
        .where(sent_copies.c.mailbox_id == mailbox_id, sent_copies.c.status == "waiting")
        .values(status="dropped", body=None, lease_until=None, last_error="the mailbox was disconnected")
    )
    conn.execute(update(sent_copies).where(sent_copies.c.mailbox_id == mailbox_id).values(mailbox_id=None))
    conn.execute(delete(mailboxes).where(mailboxes.c.id == mailbox_id))
    return Disconnected(int(mailbox_id), rerouted.rowcount or 0, dropped.rowcount or 0)
