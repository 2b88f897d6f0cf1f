"""A contact's record, edits and erasure (issue #14, item 5)."""

from __future__ import annotations

from collections.abc import Mapping

from mailbeacon.store.contact_book import ContactRecord, change_fields, do_not_track_entries, erase_person, select_record
from mailbeacon.store.contacts import ContactRow
from mailbeacon.store.facade.base import StoreBase


class ContactBookQueries(StoreBase):
    def contact_record(self, user_id: int | None, address: str) -> ContactRecord:
        """The directory's record of an address (fields, lists, subscription) and the bounces of
        `user_id`'s copies to it (None: anyone's)."""
        with self._translated("read a contact's record"), self._read() as conn:
            return select_record(conn, user_id, address)

    def change_contact_fields(self, address: str, changes: Mapping[str, str | None]) -> ContactRow:
        """Set (None: remove) fields of a contact, creating its directory record if it has none."""
        with self._translated("change a contact"), self._write() as conn:
            return change_fields(conn, address, changes)

    def erase_contact(self, address: str) -> tuple[dict[str, int], int]:
        """Erase a person from everyone's mail, in one transaction: the counts removed per kind and
        the number of do-not-track entries kept for them."""
        with self._translated("erase a contact"), self._write() as conn:
            return erase_person(conn, address), do_not_track_entries(conn, address)
