"""`mailbeacon init`, `migrate` and `backup` (issue 17, item 3), as an operator runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from mailbeacon.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_init_makes_a_data_directory_and_is_safe_to_run_again(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    assert run("init", "--data", str(data)) == (0, f"new data directory: {data}\n")
    keys = (data / "keys").read_bytes()
    assert (data / "mailbeacon.db").exists() and (data.stat().st_mode & 0o777) == 0o700
    assert run("init", "--data", str(data)) == (0, f"data directory is ready: {data}\n")
    assert (data / "keys").read_bytes() == keys  # the second run makes no new keys


def test_migrate_is_idempotent_and_refuses_a_mistyped_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("init", "--data", str(data))[0] == 0
    assert run("migrate", "--data", str(data)) == (0, "the database is up to date\n")
    code, output = run("migrate", "--data", str(tmp_path / "dta"))
    assert code == 1 and "dta does not exist" in output and "mailbeacon init" in output
    assert not (tmp_path / "dta").exists()  # no new installation made


def test_migrate_applies_what_an_old_database_lacks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("init", "--data", str(data))[0] == 0
    with sqlite3.connect(data / "mailbeacon.db") as db:
        newest = db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        db.execute("DELETE FROM schema_migrations WHERE version = ?", (newest,))
    # The newest migration is recorded missing: migrate runs it again (each migration is idempotent).
    code, output = run("migrate", "--data", str(data))
    assert (code, output) == (0, f"applied migrations {newest}\n"), output


def test_backup_copies_keys_and_a_consistent_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("init", "--data", str(data))[0] == 0
    code, output = run("user", "add", "ada@example.com", "--json", "--data", str(data))
    assert code == 0, output
    target = tmp_path / "backup"
    code, output = run("backup", str(target), "--data", str(data))
    assert code == 0 and f"into {target}" in output, output
    assert (target / "keys").read_bytes() == (data / "keys").read_bytes()
    assert (target / "mailbeacon.db").stat().st_mode & 0o777 == 0o600
    # The copy is a working data directory: the user is in it.
    code, listed = run("user", "list", "--json", "--data", str(target))
    assert code == 0 and "ada@example.com" in listed, listed
    code, output = run("backup", str(target), "--data", str(data))
    assert code == 1 and "not empty" in output  # never over an earlier backup


def test_backup_on_postgresql_says_to_use_pg_dump(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data).mkdir()
    (data / "keys").write_text(json.dumps({}))  # only the directory's files are copied here
    code, output = run("backup", str(tmp_path / "b"), "--data", str(data),
                       "--db", "postgresql://mb:secret@db.internal:5432/mailbeacon")
    assert code == 0, output
    assert f"pg_dump --format=custom --file={tmp_path / 'b'}/mailbeacon.pgdump" in output
    assert "postgresql://mb@db.internal:5432/mailbeacon" in output and "secret" not in output
