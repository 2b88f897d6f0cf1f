"""Mailbox passwords sealed at rest (issue #14): Fernet under a key file in the data directory.

DATA/mailbox.key (0600, made once) holds Fernet keys, one a line, the newest first; the
store keeps only tokens. `rotate` puts a new key first, seals every stored secret anew
with it, then drops the old keys; a crash midway leaves both keys in the file, so every
token still opens and running `mailbeacon mailbox rotate-key` again finishes the job.
Without the key file the stored secrets are useless: back it up with the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mailbeacon.mailboxes.settings import MailboxError

KEY_FILE = "mailbox.key"


class SecretBox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys = self._read()
        self._fernet = MultiFernet([Fernet(key) for key in self._keys])

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SecretBox:
        path = data_dir / KEY_FILE
        if not path.exists():
            try:
                _write_keys(path, [Fernet.generate_key()], exclusive=True)
            except FileExistsError:  # another process made it first: use theirs
                pass
        return cls(path)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise MailboxError(
                f"a stored mailbox password cannot be decrypted with the keys in {self.path}: "
                "was the key file replaced? Connect the mailbox again"
            ) from None

    def reseal(self, token: str) -> str:
        """The same secret under the newest key (MultiFernet.rotate)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise MailboxError(f"a stored mailbox password cannot be decrypted with the keys in {self.path}") from None

    def begin_rotation(self) -> None:
        """A new key first, the old ones kept: new seals use the new key, old tokens still open."""
        self._keys = [Fernet.generate_key(), *self._keys]
        _write_keys(self.path, self._keys)
        self._fernet = MultiFernet([Fernet(key) for key in self._keys])

    def finish_rotation(self) -> int:
        """Drop every key but the newest (call once everything is resealed); how many were dropped."""
        dropped = len(self._keys) - 1
        self._keys = self._keys[:1]
        _write_keys(self.path, self._keys)
        self._fernet = MultiFernet([Fernet(self._keys[0])])
        return dropped

    def _read(self) -> list[bytes]:
        try:
            lines = self.path.read_bytes().split()
        except OSError as exc:
            raise MailboxError(f"cannot read the mailbox key file {self.path}: {exc.strerror}") from exc
        keys = [line for line in lines if line]
        try:
            for key in keys:
                Fernet(key)
        except ValueError:
            raise MailboxError(f"{self.path} is not a mailbox key file (Fernet keys, one a line)") from None
        if not keys:
            raise MailboxError(f"{self.path} holds no key")
        return keys


def _write_keys(path: Path, keys: list[bytes], exclusive: bool = False) -> None:
    """Written whole and fsynced, 0600, then put in place: renamed over the old file, or (`exclusive`)
    linked only where none is, so a process that loses the race to create it never reads half a file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"".join(key + b"\n" for key in keys))
        os.fsync(fd)
    finally:
        os.close(fd)
    if not exclusive:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
