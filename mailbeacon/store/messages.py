"""Messages as sent: one row per message, one delivery per recipient, one link per tracked href.

The delivery key is what the tokens carry, so it is how an event finds its message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, insert

from mailbeacon.store.schema import DELIVERY_KEY_BYTES, deliveries, links, messages


def insert_message(
    conn: Connection,
    *,
    user_id: int | None,
    sender: str | None,
    subject: str | None,
    message_id_header: str | None,
    utm: str | None,
    delivery_rows: Sequence[tuple[bytes, str]],
    link_rows: Sequence[tuple[int, str]],
    now: float,
) -> int:
    check_delivery_keys(key for key, _ in delivery_rows)
    message_id = insert_message_row(
        conn, user_id=user_id, sender=sender, subject=subject, message_id_header=message_id_header, utm=utm, now=now
    )
    if delivery_rows:
        conn.execute(
            insert(deliveries),
            [
                {"delivery_key": key, "message_id": message_id, "recipient": recipient, "created_at": now}
                for key, recipient in delivery_rows
            ],
        )
    if link_rows:
        conn.execute(insert(links), [{"message_id": message_id, "idx": idx, "url": url} for idx, url in link_rows])
    return message_id


def insert_message_row(
    conn: Connection,
    *,
    user_id: int | None,
    sender: str | None,
    subject: str | None,
    message_id_header: str | None,
    now: float,
    utm: str | None = None,
    source: str | None = None,
    submitted_from: str | None = None,
) -> int:
    message_id: int = conn.execute(
        insert(messages)
        .values(
            user_id=user_id,
            sender=sender,
            subject=subject,
            message_id_header=message_id_header,
            utm=utm,
            source=source,
            submitted_from=submitted_from,
            created_at=now,
        )
        .returning(messages.c.id)
    ).scalar_one()
    return message_id


def check_delivery_keys(keys: Iterable[bytes]) -> None:
    """Refuse a malformed key before any row is written (the table checks it too)."""
    low, high = DELIVERY_KEY_BYTES
    for key in keys:
        if not isinstance(key, bytes) or not low <= len(key) <= high:
            raise ValueError(f"a delivery key is {low}..{high} bytes, got {key!r}")
