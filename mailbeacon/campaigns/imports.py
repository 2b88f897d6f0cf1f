"""`mailbeacon contacts import`: a CSV file into a list, and a summary a person can act on.

The summary names every skipped line (up to a limit, then "and N more"), the
duplicates merged and the contacts that stay unsubscribed, so a spreadsheet
user can fix the file and import it again: re-importing changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbeacon.campaigns.contacts import ContactFile, ContactFileError, read_contacts
from mailbeacon.store import ContactList, ImportCounts, NewContact, Store
from mailbeacon.wording import many

MAX_LIST_NAME = 200


@dataclass(frozen=True, slots=True)
class ImportResult:
    list_name: str
    file: ContactFile
    counts: ImportCounts
    after: ContactList | None
    """The list as it is now."""

    @property
    def imported(self) -> int:
        return len(self.file.contacts)


def check_list_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_LIST_NAME or not name.isprintable():
        raise ContactFileError(f"a list name is 1 to {MAX_LIST_NAME} printable characters, got {name!r}")
    return name


def import_contacts(
    store: Store, data: bytes, list_name: str, delimiter: str | None = None, encoding: str = "utf-8"
) -> ImportResult:
    """Read `data` and import what is readable; ContactFileError when nothing is (the store is left untouched)."""
    list_name = check_list_name(list_name)
    parsed = read_contacts(data, delimiter, encoding)
    if not parsed.contacts:
        raise ContactFileError("\n".join(["nothing to import: no row has a valid address", *_problems(parsed, 20)]))
    counts = store.import_contacts(
        list_name, (NewContact(c.email, c.fields, c.unsubscribed) for c in parsed.contacts)
    )
    return ImportResult(list_name, parsed, counts, store.list_named(list_name))


def describe_import(result: ImportResult, limit: int = 20) -> list[str]:
    """The summary, one line each; at most `limit` lines per kind of problem."""
    c, f = result.counts, result.file
    on_list = f" ({result.after.members} on it now)" if result.after is not None else ""
    lines = [
        f"list {result.list_name!r}: imported {result.imported} of {many(f.rows, 'row')}: {c.created} new, "
        f"{c.updated} updated, {c.unchanged} unchanged; {c.added} added to the list{on_list}",
        "fields: " + ", ".join(
            col.field if col.field == col.header else f"{col.field} ({col.header!r})" for col in f.columns
        ),
    ]
    if c.unsubscribed:
        lines.append(f"{c.unsubscribed} marked unsubscribed, as the file's 'unsubscribed' column says")
    if c.still_unsubscribed:
        verb = "stays" if c.still_unsubscribed == 1 else "stay"
        lines.append(f"{c.still_unsubscribed} {verb} unsubscribed: unsubscribed before, and an import never resubscribes")
    if f.duplicates:
        lines.append(f"merged {many(len(f.duplicates), 'duplicate')} (same address, any case):")
        shown = [f"  line {d.line}: {d.email}, merged into line {d.first_line}" for d in f.duplicates[:limit]]
        lines += shown + _more(len(f.duplicates), limit)
    lines += _problems(f, limit)
    return lines


def _problems(f: ContactFile, limit: int) -> list[str]:
    if not f.skipped:
        return []
    head = f"skipped {len(f.skipped)} row{'s' if len(f.skipped) != 1 else ''}:"
    return [head, *(f"  {p.reason}" for p in f.skipped[:limit]), *_more(len(f.skipped), limit)]


def _more(total: int, limit: int) -> list[str]:
    return [f"  and {total - limit} more"] if total > limit else []
