"""`mailbeacon contacts ...` as an operator runs it: import a broken spreadsheet, read the summary, fix, re-import."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from mailbeacon.cli import main

BROKEN = (
    "\ufeffE-Mail;First Name;Company\r\n"
    "ann@example.com;Ann;\"Acme; Inc\"\r\n"
    "not-an-address;X;Y\r\n"
    ";Nobody;Z\r\n"
    "bob@example.com;Bob;B;surplus\r\n"
    "ANN@EXAMPLE.COM;;Acme Two\r\n"
    "carol@example.org;Carol;C\r\n"
)


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--data", str(data_dir)])


def write(tmp_path: Path, text: str, name: str = "contacts.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def test_import_reports_each_bad_line_and_imports_the_rest(tmp_path: Path) -> None:
    result = run(tmp_path / "data", "contacts", "import", write(tmp_path, BROKEN), "--list", "news")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "list 'news': imported 2 of 6 rows: 2 new, 0 updated, 0 unchanged; 2 added to the list (2 on it now)"
    )
    assert lines[1] == "fields: email ('E-Mail'), first_name ('First Name'), company ('Company')"
    assert "  line 6: ann@example.com, merged into line 2" in lines
    assert "skipped 3 rows:" in lines
    assert any(line.startswith("  line 3: 'not-an-address' is not an email address") for line in lines)
    assert "  line 4: no email address" in lines
    assert any(line.startswith("  line 5: 4 values, the header has 3 columns") for line in lines)

    shown = run(tmp_path / "data", "contacts", "show", "Ann@Example.com", "--json")
    ann = json.loads(shown.output)
    assert ann["fields"] == {"first_name": "Ann", "company": "Acme Two"} and ann["lists"] == ["news"]


def test_a_contact_that_unsubscribed_stays_unsubscribed_when_imported_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    csv_file = write(tmp_path, BROKEN)
    assert run(data, "contacts", "import", csv_file, "--list", "news").exit_code == 0
    gone = run(data, "contacts", "unsubscribe", "ann@example.com")
    assert gone.exit_code == 0 and gone.output.startswith("ann@example.com: unsubscribed since")
    assert gone.output.endswith(" UTC (cli)\n")
    assert run(data, "contacts", "unsubscribe", "ANN@example.com").output.startswith(
        "ann@example.com: already unsubscribed since"
    )
    again = run(data, "contacts", "import", csv_file, "--list", "news")
    assert again.exit_code == 0, again.output
    assert "1 stays unsubscribed" in again.output and "0 added to the list" in again.output
    assert run(data, "contacts", "import", csv_file, "--list", "other").exit_code == 0
    ann = json.loads(run(data, "contacts", "show", "ann@example.com", "--json").output)
    assert ann["subscribed"] is False and ann["unsubscribe_source"] == "cli" and ann["lists"] == ["news", "other"]
    lists = run(data, "contacts", "lists").output.splitlines()
    assert [line.split("\t")[:3] for line in lists] == [
        ["news", "2 members", "1 unsubscribed"], ["other", "2 members", "1 unsubscribed"],
    ]
    back = run(data, "contacts", "resubscribe", "ann@example.com")
    assert back.exit_code == 0 and back.output == "ann@example.com: subscribed\n"


def test_a_file_with_nothing_to_import_fails_with_the_reason_and_creates_no_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cases = {
        "no-email.csv": ("name,city\nAnn,Oslo\n", "no email column"),
        "empty.csv": ("", "the file is empty"),
        "all-bad.csv": ("email\nnope\n\n@example.com\n", "nothing to import"),
    }
    for name, (text, message) in cases.items():
        result = run(data, "contacts", "import", write(tmp_path, text, name), "--list", "news")
        assert result.exit_code == 1, result.output
        assert message in result.output
    assert "line 2: 'nope' is not an email address" in result.output
    assert "line 4: '@example.com' is not an email address" in result.output
    assert run(data, "contacts", "lists", "--json").output == ""


def test_latin1_file_gets_a_clear_error_and_imports_with_its_encoding_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = tmp_path / "latin.csv"
    path.write_bytes("email,name\nzoe@example.com,Zoë\n".encode("cp1252"))
    failed = run(data, "contacts", "import", str(path), "--list", "news")
    assert failed.exit_code == 1 and "line 2: the file is not utf-8" in failed.output and "--encoding" in failed.output
    ok = run(data, "contacts", "import", str(path), "--list", "news", "--encoding", "cp1252")
    assert ok.exit_code == 0, ok.output
    assert json.loads(run(data, "contacts", "show", "zoe@example.com", "--json").output)["fields"] == {"name": "Zoë"}


def test_many_problems_are_capped_with_and_n_more(tmp_path: Path) -> None:
    rows = "".join(f"bad{i}\n" for i in range(30))
    result = run(tmp_path / "data", "contacts", "import", write(tmp_path, "email\nok@example.com\n" + rows), "--list", "l")
    assert result.exit_code == 0
    assert "skipped 30 rows:" in result.output and "  and 10 more" in result.output
    assert "line 22: 'bad19'" in result.output and "line 23:" not in result.output


def test_unknown_contact_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path / "data", "contacts", "show", "nobody@example.com")
    assert result.exit_code == 1 and "no contact 'nobody@example.com'" in result.output
