"""A real IMAP provider for tests: Dovecot (Debian's dovecot-imapd) run unprivileged in a temporary directory.

Everything it writes is under that directory: base_dir, state_dir, the log, the users'
Maildirs. Users come from a passwd-file; the Sent, Drafts and Trash folders carry their
SPECIAL-USE flags (RFC 6154) from the namespace config, as most providers' do. It listens
on 127.0.0.1 on two ports above 1024: one for STARTTLS (and plaintext, loopback only),
one for implicit TLS. As root it runs as `nobody`; otherwise as the user running the tests.
Tests skip without Dovecot, and fail instead where MAILBEACON_REQUIRE_DOVECOT is set (CI).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imapclient
import pytest

from tests.support.smtp import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def require_dovecot() -> None:
    """Skip (or fail, on CI) when Dovecot is not installed."""
    if os.path.exists(DOVECOT):
        return
    reason = "Dovecot is not installed (Debian: apt-get install dovecot-imapd)"
    if os.environ.get("MAILBEACON_REQUIRE_DOVECOT"):
        pytest.fail(reason + "; MAILBEACON_REQUIRE_DOVECOT is set (CI), so this is a failure")
    pytest.skip(reason)


def _account() -> tuple[str, str, int, int]:
    """The unprivileged user and group Dovecot runs as."""
    entry = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_uid, entry.pw_gid


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
ssl = yes
ssl_cert = <{root}/server.crt
ssl_key = <{root}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
  default_fields = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    """STARTTLS, or plaintext from loopback."""
    imaps_port: int
    """Implicit TLS."""
    users: dict[str, str]
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @contextmanager
    def client(self, user: str) -> Iterator[imapclient.IMAPClient]:
        """The test's own look into a mailbox (plaintext over loopback)."""
        client = imapclient.IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            try:
                client.logout()
            except (OSError, imapclient.exceptions.IMAPClientError):
                pass

    def messages(self, user: str, folder: str = "Sent") -> list[bytes]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            fetched = client.fetch(uids, ["RFC822"]) if uids else {}
            return [fetched[uid][b"RFC822"] for uid in sorted(fetched)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def running_dovecot(users: dict[str, str], cert: Path, key: Path) -> Iterator[Dovecot]:
    """Dovecot with `users` (login: password), serving TLS with `cert` and `key`; removed afterwards."""
    require_dovecot()
    assert not any(":" in f"{name}{secret}" or "\n" in f"{name}{secret}" for name, secret in users.items()), \
        "the passwd-file separates fields with ':'"
    user, group, uid, gid = _account()
    root = Path(tempfile.mkdtemp(prefix="mb-dovecot-"))  # not under pytest's 0700 tmp: `nobody` must enter it
    try:
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir()
        shutil.copy(cert, root / "server.crt")
        shutil.copy(key, root / "server.key")
        (root / "passwd").write_text("".join(f"{name}:{{PLAIN}}{secret}::::::\n" for name, secret in users.items()))
        imap_port, imaps_port = free_port(), free_port()
        (root / "dovecot.conf").write_text(CONFIG.format(
            root=root, user=user, group=group, uid=uid, gid=gid, imap_port=imap_port, imaps_port=imaps_port,
        ))
        os.chmod(root, 0o755)
        for path in root.rglob("*"):
            os.chown(path, uid, gid)
        os.chown(root, uid, gid)
        as_other = os.geteuid() == 0
        with (root / "stdout.log").open("wb") as out:
            process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, user=uid if as_other else None, group=gid if as_other else None,
                extra_groups=[] if as_other else None,
            )
        dovecot = Dovecot(root, imap_port, imaps_port, users, process)
        try:
            _wait_listening(dovecot)
            yield dovecot
        finally:
            dovecot.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_listening(dovecot: Dovecot, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dovecot.process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {dovecot.process.returncode}:\n"
                               f"{(dovecot.root / 'stdout.log').read_text(errors='replace')}\n{dovecot.log()}")
        try:
            with socket.create_connection(("127.0.0.1", dovecot.imaps_port), timeout=1):
                pass  # TLS from the first byte: no greeting before a handshake
            with socket.create_connection(("127.0.0.1", dovecot.imap_port), timeout=1) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot not listening after {timeout}s:\n{dovecot.log()}")
