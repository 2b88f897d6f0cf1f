"""A campaign's recipients as CSV, one row per list member it reached, written as it is read.

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula (CSV injection; pains.md F3): addresses, client names and upstream replies come
from outside, so such a cell gets a leading `'` and is shown as the text it is. Times are
ISO 8601 in UTC with the offset written out; the contacts' fields (first_name, ...) follow the
fixed columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from mailbeacon.store import RecipientRow
from mailbeacon.views.campaign_reports import iso

COLUMNS = (
    "email", "status", "subject", "opens_raw", "opens_human", "clicks_raw", "clicks_human", "first_open", "last_open",
    "first_human_open", "last_human_open", "clients", "unsubscribed", "unsubscribed_at", "bounce_reason",
    "skipped_reason",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_WRITE = 500
"""Rows joined into one piece of the stream: fewer, larger writes than one a row."""


def guard(cell: str) -> str:
    """The cell, made inert for spreadsheets.

    >>> guard("=HYPERLINK(\\"http://x\\")"), guard("bob@example.com"), guard("@SUM(A1)")
    ('\\'=HYPERLINK("http://x")', 'bob@example.com', "'@SUM(A1)")
    """
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def header(field_names: Sequence[str]) -> list[str]:
    """COLUMNS, then the contacts' fields (a field named like a column gets `contact_` in front)."""
    return [*COLUMNS, *(f"contact_{name}" if name in COLUMNS else name for name in field_names)]


def row_cells(r: RecipientRow, field_names: Sequence[str] = ()) -> list[str]:
    return [guard(cell) for cell in (
        r.email, r.status, r.subject or "", str(r.raw_opens), str(r.human_opens), str(r.raw_clicks), str(r.human_clicks),
        iso(r.first_open_at) or "", iso(r.last_open_at) or "", iso(r.first_human_open_at) or "",
        iso(r.last_human_open_at) or "", "; ".join(r.clients),
        ("this campaign" if r.unsubscribed_here else "yes") if r.unsubscribed_at is not None else "no",
        iso(r.unsubscribed_at) or "", r.reply or "", r.skipped or "",
        *(r.fields.get(name, "") for name in field_names),
    )]


def csv_chunks(rows: Iterable[RecipientRow], field_names: Sequence[str] = ()) -> Iterator[str]:
    """The header, then the rows, a few hundred per piece (RFC 4180: CRLF line ends, quotes where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([guard(name) for name in header(field_names)])
    count = 0
    for row in rows:
        writer.writerow(row_cells(row, field_names))
        count += 1
        if count % ROWS_PER_WRITE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
