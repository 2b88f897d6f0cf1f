"""DKIM-signing each copy after it is instrumented, with dkimpy, so the signature covers what is sent."""

from __future__ import annotations

from email.utils import getaddresses
from pathlib import Path

import dkim

from mailbeacon.errors import ConfigError
from mailbeacon.instrument import field_values

SIGNED_HEADERS = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
                  b"content-type", b"content-transfer-encoding", b"list-unsubscribe", b"list-unsubscribe-post"]


class DkimSigner:
    def __init__(self, private_key: bytes, selector: str, domain: str | None = None) -> None:
        self._key = private_key
        self._selector = selector.encode("ascii")
        self._domain = domain

    @classmethod
    def from_file(cls, path: Path, selector: str, domain: str | None = None) -> DkimSigner:
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the DKIM key {path}: {exc.strerror}") from exc
        if b"PRIVATE KEY" not in key:
            raise ConfigError(f"{path} is not a PEM private key")
        return cls(key, selector, domain)

    def sign(self, message: bytes) -> bytes:
        """`message` with a DKIM-Signature field in front (relaxed/relaxed, rsa-sha256).

        The signing domain is the configured one, else the domain of the From address.
        A message without a usable From is returned unsigned: refusing it would lose mail.
        """
        domain = self._domain or _from_domain(message)
        if not domain:
            return message
        signature = dkim.sign(
            message,
            self._selector,
            domain.encode("ascii"),
            self._key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h for h in SIGNED_HEADERS if field_values(message, h.decode())] or [b"from"],
        )
        return bytes(signature) + message


def has_signature(message: bytes) -> bool:
    return bool(field_values(message, "DKIM-Signature"))


def _from_domain(message: bytes) -> str | None:
    addresses = getaddresses(field_values(message, "From"))
    for _, address in addresses:
        domain = address.rpartition("@")[2].strip().lower()
        if domain and domain.isascii():
            return domain
    return None
