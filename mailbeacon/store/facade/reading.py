"""What the API and dashboard read: message reports and lists, contacts, timelines."""

from __future__ import annotations

from mailbeacon.store.activity import (
    MessageReport,
    select_report,
)
from mailbeacon.store.feed import FeedFilter, FeedItem
from mailbeacon.store.reports import (
    ContactActivity,
    ContactQuery,
    MessageDetail,
    MessagePage,
    MessageQuery,
    message_visible,
    select_contact,
    select_contact_feed,
    select_contacts,
    select_detail,
    select_messages,
)
from mailbeacon.store.timeline import ActivityTime, select_message_times
from mailbeacon.store.facade.base import StoreBase


class ReportQueries(StoreBase):
    def message_times(self, message_id: int, limit: int = 200_000) -> list[ActivityTime]:
        """The message's judged events counted per hour, type and class, oldest first: its timeline chart."""
        with self._translated("read a message's timeline"), self._read() as conn:
            return select_message_times(conn, message_id, limit)

    def message_report(self, message_id: int) -> MessageReport | None:
        """A message with its derived counters, per recipient and per link; None if there is no such message."""
        with self._translated("read a message report"), self._read() as conn:
            return select_report(conn, message_id)

    def messages(self, where: MessageQuery, after: tuple[float, int] | None = None, limit: int = 50) -> MessagePage:
        """A page of the messages list; `after` is (sort_value, id) of the previous page's last item.

        Raises ValueError for an unknown sort."""
        with self._translated("read the messages list"), self._read() as conn:
            return select_messages(conn, where, after, limit)

    def message_visible(self, message_id: int, user_id: int | None) -> bool:
        """The message exists and is `user_id`'s (None: anyone's, for an admin)."""
        with self._translated("look up a message"), self._read() as conn:
            return message_visible(conn, message_id, user_id)

    def message_detail(
        self, message_id: int, timeline: int = 50, recipients_offset: int = 0, recipients_limit: int | None = None
    ) -> MessageDetail | None:
        """`message_report` (all recipients, or a window of them) with the clients seen per delivery
        and the newest `timeline` feed items."""
        with self._translated("read a message report"), self._read() as conn:
            return select_detail(conn, message_id, timeline, recipients_offset, recipients_limit)

    def contacts(self, where: ContactQuery, offset: int = 0, limit: int = 50) -> tuple[list[ContactActivity], bool]:
        """A page of the addresses sent to (lower-cased), with counts; True if more follow. ValueError: bad sort."""
        with self._translated("read contacts"), self._read() as conn:
            return select_contacts(conn, where, offset, limit)

    def contact(self, user_id: int | None, address: str) -> ContactActivity | None:
        """One address's counts (any case); None if `user_id` (None: anyone) never sent to it."""
        with self._translated("read a contact"), self._read() as conn:
            return select_contact(conn, user_id, address)

    def contact_feed(
        self, user_id: int | None, address: str, where: FeedFilter | None = None, before: int | None = None,
        limit: int = 50,
    ) -> list[FeedItem]:
        """The feed items of what `user_id` (None: anyone) sent to the address in any case, newest first."""
        with self._translated("read a contact's timeline"), self._read() as conn:
            return select_contact_feed(conn, user_id, address, where or FeedFilter(), before, limit)
