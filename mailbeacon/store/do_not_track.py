"""The do-not-track lists: each user's own, and the admin-wide one (issue #12).

A user's entries apply to the mail that user sends; the admin-wide entries (`user_id`
None) to everyone's. Addresses are kept lower-cased, so any spelling finds them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, delete, insert, or_, select

from mailbeacon.store.outbound import normalise_address
from mailbeacon.store.schema import do_not_track


def _scope(user_id: int | None) -> ColumnElement[bool]:
    return do_not_track.c.user_id.is_(None) if user_id is None else do_not_track.c.user_id == user_id


def add_entry(conn: Connection, address: str, user_id: int | None, now: float) -> bool:
    """False if the address was on that list already."""
    address = normalise_address(address)
    found = conn.execute(select(do_not_track.c.id).where(do_not_track.c.address == address, _scope(user_id)))
    if found.first() is not None:
        return False
    conn.execute(insert(do_not_track).values(address=address, user_id=user_id, created_at=now))
    return True


def remove_entry(conn: Connection, address: str, user_id: int | None) -> bool:
    query = delete(do_not_track).where(do_not_track.c.address == normalise_address(address), _scope(user_id))
    return bool(conn.execute(query).rowcount)


def select_entries(conn: Connection, user_id: int | None) -> list[str]:
    """One list: the user's own, or (None) the admin-wide one."""
    query = select(do_not_track.c.address).where(_scope(user_id)).order_by(do_not_track.c.address)
    return list(conn.execute(query).scalars())


def select_all_entries(conn: Connection) -> list[tuple[str, int | None]]:
    """(address, user id or None) of every list, by address, the admin-wide entry first."""
    query = select(do_not_track.c.address, do_not_track.c.user_id).order_by(
        do_not_track.c.address, do_not_track.c.user_id.asc().nulls_first()
    )
    return [(row.address, row.user_id) for row in conn.execute(query)]


def select_untracked(conn: Connection, among: Sequence[str], user_id: int | None) -> list[str]:
    """Those of `among` (lower-cased) not to be tracked in `user_id`'s mail: on their list or the admin-wide one."""
    if not among:
        return []
    scopes = _scope(None) if user_id is None else or_(_scope(None), _scope(user_id))
    query = (
        select(do_not_track.c.address)
        .where(do_not_track.c.address.in_({normalise_address(a) for a in among}), scopes)
        .distinct()
        .order_by(do_not_track.c.address)
    )
    return list(conn.execute(query).scalars())
