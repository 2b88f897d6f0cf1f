"""Checking a contact's edits and telling what an erase removed: the dashboard and the API share these.

A field name is what a template writes after `contact.` (`field_name` of the CSV importer), so an
edited field personalises mail exactly like an imported one.
"""

from __future__ import annotations

from collections.abc import Mapping

from mailbeacon.campaigns.contacts import field_name
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import ERASED_KINDS

MAX_FIELDS = 100
MAX_VALUE = 2000
MAX_SEARCH = 200
"""Characters of a contacts search."""
MAX_CSV = 20 * 1024 * 1024
"""An uploaded contact file: 100,000 rows of a few fields fit well."""

_WORDS = {
    "events": ("event", "events"),
    "feed_items": ("feed item", "feed items"),
    "webhook_messages": ("webhook message", "webhook messages"),
    "queued_copies": ("copy still queued", "copies still queued"),
    "campaign_copies": ("campaign copy", "campaign copies"),
    "deliveries": ("delivery", "deliveries"),
    "list_memberships": ("list membership", "list memberships"),
    "contact_records": ("contact record", "contact records"),
}


class ContactEditError(MailbeaconError):
    """An edit the contact cannot take; the message says which field and why."""


def field_changes(given: Mapping[str, object]) -> dict[str, str | None]:
    """Checked changes: a value sets the field, None or "" removes it."""
    if len(given) > MAX_FIELDS:
        raise ContactEditError(f"at most {MAX_FIELDS} fields")
    changes: dict[str, str | None] = {}
    for name, value in given.items():
        if not name or field_name(name) != name:
            suggestion = field_name(name) if name else ""
            hint = f" (try {suggestion!r})" if suggestion else ""
            raise ContactEditError(
                f"field {name!r}: a name is lower-case letters, digits and _, as templates write it{hint}")
        if name == "email":
            raise ContactEditError("field 'email': the address is the contact itself; it cannot be edited")
        if value is not None and not isinstance(value, str):
            raise ContactEditError(f"field {name!r}: a value is text (or null to remove it)")
        text = value.strip() if isinstance(value, str) else ""
        if len(text) > MAX_VALUE:
            raise ContactEditError(f"field {name!r}: longer than {MAX_VALUE} characters")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
            raise ContactEditError(f"field {name!r}: control characters are not allowed")
        changes[name] = text or None
    return changes


def erase_summary(address: str, counts: Mapping[str, int], do_not_track: int) -> str:
    """What an erase removed, per kind, in one sentence a person reads."""
    removed = [f"{counts[k]} {_WORDS[k][counts[k] != 1]}" for k in ERASED_KINDS if counts.get(k)]
    said = ", ".join(removed) if removed else "nothing was stored about them"
    kept = "the messages and their totals are kept"
    if do_not_track:
        kept += f"; {do_not_track} do-not-track entr{'y' if do_not_track == 1 else 'ies'} kept, so they stay untracked"
    return f"Erased {address}: {said}. {kept[0].upper()}{kept[1:]}."
