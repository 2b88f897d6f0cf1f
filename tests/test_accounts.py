"""Dashboard passwords and user administration from the command line, as an operator uses them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailbeacon.accounts import hash_api_key, verify_dashboard_password, verify_smtp_password
from mailbeacon.cli import main
from mailbeacon.store import open_store


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_password_set_from_stdin_verifies_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    data = str(tmp_path)
    run("user", "add", "ann@example.com", "--data", data)
    run("user", "password", "ann@example.com", "--password-stdin", "--data", data, input="correct horse battery\n")
    with open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}") as store:
        ann = store.user_by_email("ann@example.com")
        assert ann is not None and ann.password_hash is not None and "correct" not in ann.password_hash
        assert verify_dashboard_password(ann, "correct horse battery")
        assert not verify_dashboard_password(ann, "correct horse battery ")
        assert not verify_dashboard_password(None, "correct horse battery")


def test_short_passwords_and_unknown_users_are_refused_clearly(tmp_path: Path) -> None:
    data = str(tmp_path)
    run("user", "add", "ann@example.com", "--data", data)
    short = CliRunner().invoke(main, ["user", "password", "ann@example.com", "--password-stdin", "--data", data],
                               input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    unknown = CliRunner().invoke(main, ["user", "set", "who@example.com", "--seat", "sales", "--data", data])
    assert unknown.exit_code != 0 and "no user 'who@example.com'" in unknown.output


def test_seat_and_admin_role_change_and_show_in_the_list(tmp_path: Path) -> None:
    data = str(tmp_path)
    run("user", "add", "ann@example.com", "--data", data)
    run("user", "add", "bob@example.com", "--admin", "--data", data)
    assert json.loads(run("user", "list", "--json", "--data", data).splitlines()[0])["seat"] == "basic"
    run("user", "set", "ann@example.com", "--seat", "sales", "--admin", "--data", data)
    run("user", "set", "bob@example.com", "--no-admin", "--data", data)
    listed = {u["email"]: u for u in map(json.loads, run("user", "list", "--json", "--data", data).splitlines())}
    assert (listed["ann@example.com"]["seat"], listed["ann@example.com"]["admin"]) == ("sales", True)
    assert listed["bob@example.com"]["admin"] is False
    assert listed["bob@example.com"]["dashboard"] is False


def test_a_new_api_key_replaces_the_old_one(tmp_path: Path) -> None:
    data = str(tmp_path)
    old = json.loads(run("user", "add", "ann@example.com", "--json", "--data", data))["api_key"]
    new = run("user", "new-key", "ann@example.com", "--data", data).strip()
    assert new.startswith("mb_") and new != old
    with open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}") as store:
        assert store.user_by_api_key_hash(hash_api_key(old)) is None
        found = store.user_by_api_key_hash(hash_api_key(new))
        assert found is not None and found.email == "ann@example.com"


def test_the_smtp_password_verifies_and_an_unknown_user_never_does(tmp_path: Path) -> None:
    created = json.loads(run("user", "add", "ann@example.com", "--json", "--data", str(tmp_path)))
    with open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}") as store:
        ann = store.user_by_email("ann@example.com")
    assert verify_smtp_password(ann, created["smtp_password"])
    assert not verify_smtp_password(ann, created["smtp_password"] + "x")
    assert not verify_smtp_password(None, created["smtp_password"])  # checked against a dummy hash, and refused
