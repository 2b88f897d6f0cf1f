"""Read a contacts CSV the way spreadsheets write it, and say exactly what was wrong with which line.

An `email` column is required; every other column becomes a field named as a
template can use it (`First Name` -> `first_name`). Bad rows are reported
with the line number a spreadsheet shows and skipped; the rest is read.
Duplicates (any case) merge into the first, later non-empty values winning.
Empty cells are left out, so `{{ contact.first_name | default("there") }}` works.
Pure: bytes in, a `ContactFile` out.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from mailbeacon.campaigns.addresses import AddressChecker, InvalidAddress
from mailbeacon.errors import MailbeaconError

EMAIL_HEADERS = ("email", "e_mail", "email_address", "e_mail_address", "mail")
"""Header names (as normalised by `field_name`) taken for the address column, in order of preference."""
UNSUBSCRIBED_HEADER = "unsubscribed"
"""A column of this name marks contacts unsubscribed (yes/true/1/x); it never resubscribes anyone."""
_TRUE = frozenset({"1", "yes", "y", "true", "x", "unsubscribed"})
DELIMITERS = ",;\t|"
_SHOWN = 60  # characters of a bad value quoted back in a message


class ContactFileError(MailbeaconError):
    """Nothing can be read from the file (no email column, empty, not text in the encoding)."""


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    """As written in the file."""
    field: str
    """The name templates use; "email" for the address column."""


@dataclass(slots=True)
class ParsedContact:
    line: int
    email: str
    """Valid and lower-cased."""
    fields: dict[str, str] = field(default_factory=dict)
    unsubscribed: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    """A row that was skipped, and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    line: int
    first_line: int
    """Where the address appeared first: the contact it was merged into."""
    email: str


@dataclass(slots=True)
class ContactFile:
    delimiter: str
    columns: list[Column]
    contacts: list[ParsedContact] = field(default_factory=list)
    """Distinct addresses, in the order they first appear."""
    skipped: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rows: int = 0
    """Data rows read (blank lines not counted)."""


def field_name(header: str) -> str:
    """The identifier a template uses for a column.

    >>> [field_name(h) for h in ("First Name", " E-Mail ", "Prénom", "2nd line", "ZIP/Postal code")]
    ['first_name', 'e_mail', 'prenom', 'field_2nd_line', 'zip_postal_code']
    """
    flat = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9]+", "_", flat.lower()).strip("_")
    return f"field_{name}" if name[:1].isdigit() else name


def decode(data: bytes, encoding: str = "utf-8") -> str:
    """The file's text: a BOM (UTF-8 or UTF-16, as Excel writes) wins over `encoding`."""
    if data.startswith(b"PK\x03\x04"):
        raise ContactFileError("this is an Excel workbook (or another zip file), not CSV: save it as 'CSV UTF-8'")
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            data, encoding = data[len(bom) :], codec
            break
    try:
        return data.decode(encoding)
    except LookupError:
        raise ContactFileError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1]
        guess = bad.decode("cp1252", "replace")
        raise ContactFileError(
            f"line {line}: the file is not {encoding} (byte 0x{bad.hex().upper()}, {guess!r} in Windows-1252): "
            "save it as 'CSV UTF-8', or name its encoding with --encoding (e.g. --encoding cp1252)"
        ) from None


def guess_delimiter(header_line: str) -> str:
    """The candidate that occurs most often outside quotes in the header line; ',' when none does.

    Simpler than csv.Sniffer and never wrong on a one-column file (which Sniffer rejects).

    >>> guess_delimiter('"Name; Surname";email'), guess_delimiter("email"), guess_delimiter("a\\tb,c\\td")
    (';', ',', '\\t')
    """
    unquoted = re.sub(r'"[^"]*"?', "", header_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_contacts(data: bytes, delimiter: str | None = None, encoding: str = "utf-8") -> ContactFile:
    """Every readable contact of a CSV file, with what was skipped and merged; ContactFileError if none can be."""
    text = decode(data, encoding)
    if delimiter is not None and len(delimiter) != 1:
        raise ContactFileError(f"the delimiter must be one character, got {delimiter!r}")
    records = _records(text, delimiter)
    try:
        header_line, _, header, used = next(records)
    except StopIteration:
        raise ContactFileError("the file is empty: it needs a header line with an 'email' column") from None
    columns = _columns(header)
    email_at = next((i for i, c in enumerate(columns) if c.field == "email"), None)
    if email_at is None:
        raise ContactFileError(_no_email_column(header, header_line))
    result = ContactFile(used, columns)
    unsubscribed_at = next((i for i, c in enumerate(columns) if c.field == UNSUBSCRIBED_HEADER), None)
    check = AddressChecker()
    seen: dict[str, ParsedContact] = {}
    for start, end, cells, _ in records:
        result.rows += 1
        where = f"line {start}" if start == end else f"lines {start}-{end}"
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
            result.skipped.append(
                Problem(start, f"{where}: {len(cells)} values, the header has {len(columns)} columns "
                        f"(a value with '{used}' in it needs \"double quotes\")")
            )
            continue
        raw = cells[email_at].strip() if email_at < len(cells) else ""
        if not raw:
            result.skipped.append(Problem(start, f"{where}: no email address"))
            continue
        try:
            email = check(raw)
        except InvalidAddress as exc:
            shown = raw if len(raw) <= _SHOWN else raw[:_SHOWN] + "..."
            hint = " (a quote opened here may be unclosed)" if start != end else ""
            result.skipped.append(Problem(start, f"{where}: {shown!r} is not an email address: {exc}{hint}"))
            continue
        fields = {
            columns[i].field: value.strip()
            for i, value in enumerate(cells[: len(columns)])
            if i not in (email_at, unsubscribed_at) and value.strip()
        }
        unsubscribed = unsubscribed_at is not None and unsubscribed_at < len(cells) and (
            cells[unsubscribed_at].strip().lower() in _TRUE
        )
        first = seen.get(email)
        if first is None:
            seen[email] = contact = ParsedContact(start, email, fields, unsubscribed)
            result.contacts.append(contact)
        else:
            first.fields.update(fields)
            first.unsubscribed = first.unsubscribed or unsubscribed
            result.duplicates.append(Duplicate(start, first.line, email))
    return result


def _records(text: str, delimiter: str | None) -> Iterator[tuple[int, int, list[str], str]]:
    """(first line, last line, cells, delimiter) of each non-blank record; lines as a spreadsheet numbers them."""
    source = io.StringIO(text, newline="")  # newline="": csv sees \r\n inside quoted values as written
    if delimiter is None:
        header_line = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
        delimiter = guess_delimiter(header_line)
    reader = csv.reader(source, delimiter=delimiter, quotechar='"', doublequote=True, skipinitialspace=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a value past the csv module's field size limit
            raise ContactFileError(f"line {start}: {exc}") from None
        if any(c.strip() for c in cells):
            yield start, reader.line_num, cells, delimiter


def _columns(header: list[str]) -> list[Column]:
    names = [field_name(cell) or f"column_{number}" for number, cell in enumerate(header, 1)]
    aliases = [(EMAIL_HEADERS.index(n), i) for i, n in enumerate(names) if n in EMAIL_HEADERS]
    email_at = min(aliases)[1] if aliases else -1
    taken = {"email"} if aliases else set()
    columns: list[Column] = []
    for i, (cell, name) in enumerate(zip(header, names)):
        if i == email_at:
            name = "email"
        else:
            base, suffix = name, 2
            while name in taken:  # `Phone`, `phone ` -> phone, phone_2
                name, suffix = f"{base}_{suffix}", suffix + 1
            taken.add(name)
        columns.append(Column(cell.strip(), name))
    return columns


def _no_email_column(header: list[str], line: int) -> str:
    found = ", ".join(repr(c.strip()) for c in header[:10]) + (", ..." if len(header) > 10 else "")
    if any("@" in cell for cell in header):
        return (f"line {line} looks like a contact, not a header: add a first line naming the columns, "
                "e.g. 'email,first_name'")
    return f"no email column: the header (line {line}) has {found}; name the column of addresses 'email'"
