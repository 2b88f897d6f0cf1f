"""The data directory is private (issue #12, item 17): files 0600, directories 0700, on a fresh installation
and on an existing one whose modes were loosened (`mailbeacon.db` was 0644 in a 0755 directory).

Everything runs for real: the CLI creates the installation, `mailbeacon serve` captures mail,
spools while another process holds the database, and tightens what it finds at start.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
from pathlib import Path

import httpx

from mailbeacon.tokens import Keyring
from tests.support.dashboard import add_user, send, wait_for
from tests.support.servers import Server, running_server

EXPECTED = ["mailbeacon.db", "mailbeacon.db-wal", "mailbeacon.db-shm", "keys", "tls/relay.key", "tls/relay.crt",
            "captured/index.jsonl", "spool.jsonl"]


def modes(root: Path) -> dict[str, str]:
    """Relative path -> octal mode of everything below root (and root as '.')."""
    found = {".": oct(stat.S_IMODE(root.lstat().st_mode))}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def loose(found: dict[str, str]) -> dict[str, str]:
    return {path: mode for path, mode in found.items() if int(mode, 8) & 0o077}


def umask_of(server: Server) -> str:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:"))


def use(server: Server, api_key: str) -> None:
    """Capture a copy and spool events (another process holds SQLite), so every kind of data file exists."""
    send(server.url, api_key, to="bob@example.org", subject="private", html="<p>Hello</p>")
    wait_for(lambda: list((server.data_dir / "captured" / "new").glob("*")), "the captured copy")
    wait_for(lambda: (server.data_dir / "captured" / "index.jsonl").exists(), "the capture index")
    keyring = Keyring.load_or_create(server.data_dir)
    locker = sqlite3.connect(server.data_dir / "mailbeacon.db", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        pixel = httpx.get(f"{server.url}/o/{keyring.sign_open(secrets.token_bytes(12))}.gif", timeout=10)
        assert pixel.status_code == 200
        wait_for(lambda: (server.data_dir / "spool.jsonl").exists(), "the spool")
        spooled = modes(server.data_dir)  # the spool may be gone once replayed
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert spooled["spool.jsonl"] == "0o600"


def test_a_fresh_installation_is_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"  # made by the CLI, as `mailbeacon user add` does it first
    previous = os.umask(0o022)  # the usual umask of a shell, whatever pytest had
    try:
        key = add_user(data, "ann@example.com", password=None)["api_key"]
        assert loose(modes(data)) == {}, "the CLI made the directory, database and keys private"
        with running_server(data) as server:
            assert umask_of(server) == "0077"
            use(server, key)
            found = modes(data)
        assert loose(found) == {}
        assert found["."] == "0o700" and found["captured"] == "0o700" and found["captured/new"] == "0o700"
        assert all(found[path] == "0o600" for path in EXPECTED if path in found)
        assert {"mailbeacon.db", "keys", "tls/relay.key", "tls/relay.crt", "captured/index.jsonl"} <= set(found)
    finally:
        os.umask(previous)


def test_a_loosened_installation_is_tightened_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = add_user(data, "ann@example.com", password=None)["api_key"]
    with running_server(data) as server:
        use(server, key)
    for path in [data, *data.rglob("*")]:  # as an older mailbeacon, a copy or a careless chmod -R left it
        path.chmod(0o755 if path.is_dir() else 0o644)
    (data / "captured" / "new" / "dropped.eml").write_bytes(b"Subject: dropped in\r\n\r\nhi\r\n")
    (data / "captured" / "new" / "dropped.eml").chmod(0o666)
    assert loose(modes(data))["mailbeacon.db"] == "0o644"
    with running_server(data) as server:
        found = modes(data)
        assert loose(found) == {}, found
        assert found["."] == "0o700" and found["mailbeacon.db"] == "0o600" and found["keys"] == "0o600"
        assert found["tls/relay.key"] == "0o600" and found["captured/new/dropped.eml"] == "0o600"
        assert httpx.get(f"{server.url}/healthz", timeout=10).json()["store"] is True
