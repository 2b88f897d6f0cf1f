"""Reading contact CSVs as spreadsheets write them: what is read, and what a user is told about each bad line."""

from __future__ import annotations

import codecs

import pytest

from mailbeacon.campaigns.contacts import ContactFileError, read_contacts

BROKEN = (
    "Email,First Name,City\r\n"  # 1
    "ann@example.com,Ann,Oslo\r\n"  # 2
    "not-an-address,Bad,Nowhere\r\n"  # 3
    ",Nobody,Nowhere\r\n"  # 4
    "bob@example.com,Bob,Paris,Smith\r\n"  # 5: one value too many (an unquoted comma)
    "\r\n"  # 6: blank
    'carol@example.com,"Carol\r\nSecond line",Rome\r\n'  # 7-8: a quoted value over two lines
    "ANN@Example.com,,Bergen\r\n"  # 9: Ann again, in another case
    "dan smith@example.com,Dan,Lyon\r\n"  # 10
    "erin@example,Erin,Nice\r\n"  # 11: no dot in the domain
    "frank@example.org\r\n"  # 12: fewer values: the missing ones are empty
)


def test_bad_lines_are_reported_with_spreadsheet_line_numbers_and_the_rest_is_read() -> None:
    read = read_contacts(BROKEN.encode())
    assert [c.email for c in read.contacts] == ["ann@example.com", "carol@example.com", "frank@example.org"]
    assert [(p.line, p.reason.split(":")[0]) for p in read.skipped] == [
        (3, "line 3"), (4, "line 4"), (5, "line 5"), (10, "line 10"), (11, "line 11"),
    ]
    reasons = {p.line: p.reason for p in read.skipped}
    assert "'not-an-address' is not an email address" in reasons[3] and "@-sign" in reasons[3]
    assert reasons[4] == "line 4: no email address"
    assert "4 values, the header has 3 columns" in reasons[5] and "double quotes" in reasons[5]
    assert "'dan smith@example.com' is not an email address" in reasons[10]
    assert "'erin@example' is not an email address" in reasons[11]
    assert [(d.line, d.first_line, d.email) for d in read.duplicates] == [(9, 2, "ann@example.com")]
    assert read.rows == 9  # records: the blank line is none, lines 7-8 are one


def test_duplicates_merge_into_the_first_and_later_non_empty_values_win() -> None:
    read = read_contacts(BROKEN.encode())
    ann, carol, frank = read.contacts
    assert (ann.line, ann.fields) == (2, {"first_name": "Ann", "city": "Bergen"})  # the empty name did not erase
    assert carol.fields == {"first_name": "Carol\r\nSecond line", "city": "Rome"}
    assert frank.fields == {}  # empty cells are left out, so templates fall back to default(...)


def test_headers_become_template_names() -> None:
    read = read_contacts("E-Mail,First Name,Prénom,ZIP / Postal code,First name,,2nd line\nann@example.com\n".encode())
    assert [c.field for c in read.columns] == [
        "email", "first_name", "prenom", "zip_postal_code", "first_name_2", "column_6", "field_2nd_line",
    ]


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "email;name\r\nann@example.com;Zoë\r\n".encode(),
        "email\tname\nann@example.com\tZoë\n".encode(),
        codecs.BOM_UTF16_LE + "email\tname\r\nann@example.com\tZoë\r\n".encode("utf-16-le"),
        '"Email Address";"name"\n"ann@example.com";"Zoë"\n'.encode(),
        "email|name\nann@example.com|Zoë\n".encode(),
    ],
    ids=["utf8-bom-semicolons", "tabs", "utf16-excel-unicode-text", "quoted-mailchimp-header", "pipes"],
)
def test_bom_delimiters_and_quoting_as_spreadsheets_write_them(data: bytes) -> None:
    read = read_contacts(data)
    assert [(c.email, c.fields) for c in read.contacts] == [("ann@example.com", {"name": "Zoë"})]
    assert read.skipped == []


def test_an_explicit_delimiter_wins_over_the_guess() -> None:
    read = read_contacts(b"email;note\nann@example.com;a,b\n", delimiter=";")
    assert read.contacts[0].fields == {"note": "a,b"}
    read = read_contacts(b"email\nann@example.com\n", delimiter=",")
    assert read.delimiter == ","


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n\r\n", "the file is empty"),
        (b"name,city\nAnn,Oslo\n", "no email column: the header (line 1) has 'name', 'city'"),
        (b"ann@example.com,Ann\n", "looks like a contact, not a header"),
        ("email\nzoë@example.com\n".encode("latin-1"), "line 2: the file is not utf-8 (byte 0xEB"),
        (b"PK\x03\x04rest-of-a-zip", "Excel workbook"),
    ],
    ids=["empty", "blank-lines", "no-email-column", "no-header", "latin-1", "xlsx"],
)
def test_files_that_cannot_be_read_say_why(data: bytes, message: str) -> None:
    with pytest.raises(ContactFileError) as caught:
        read_contacts(data)
    assert message in str(caught.value)


def test_an_encoding_can_be_named() -> None:
    read = read_contacts("email,name\nzoe@example.com,Zoë\n".encode("cp1252"), encoding="cp1252")
    assert read.contacts[0].fields == {"name": "Zoë"}


def test_an_unclosed_quote_is_pointed_at() -> None:
    read = read_contacts(b'email,name\n"ann@example.com,Ann\nbob@example.com,Bob\n')
    (problem,) = read.skipped
    assert problem.reason.startswith("lines 2-3:") and "unclosed" in problem.reason


def test_an_unsubscribed_column_marks_contacts_and_is_no_field() -> None:
    read = read_contacts(b"email,Unsubscribed\nann@example.com,yes\nbob@example.com,\ncarol@example.com,no\n")
    assert [(c.email, c.unsubscribed, c.fields) for c in read.contacts] == [
        ("ann@example.com", True, {}), ("bob@example.com", False, {}), ("carol@example.com", False, {}),
    ]


def test_addresses_are_normalised_and_international_ones_accepted() -> None:
    read = read_contacts("email\n  Ann.Lee+news@EXAMPLE.com \nzoë@exämple.de\nx@example.test\n".encode())
    assert [c.email for c in read.contacts] == ["ann.lee+news@example.com", "zoë@exämple.de"]
    assert "special-use or reserved" in read.skipped[0].reason  # .test never receives mail
