"""Signed, encrypted tracking tokens: all that a pixel or click URL carries.

Why: `/o/{token}.gif` and `/c/{token}` must decide with no database read
whether a hit is ours, and a click must redirect with nothing but its URL. So
the token carries its payload (delivery id, link index, target URL),
authenticated (no forged hits, no open redirect) and encrypted (no recipient
id or target URL in clear in any URL, proxy log or Referer).

Deterministic SIV-style AEAD, stdlib only (keys derived per kid with HMAC-SHA256)::

    header = kind (0x01 open, 0x02 click, 0x03 unsubscribe) + kid   clear, authenticated
    tag    = HMAC-SHA256(mac_key, header + plaintext)[:16]  also the synthetic IV
    body   = plaintext XOR SHAKE-256(enc_key + tag)        keyed XOF as keystream
    token  = base64url(header + tag + body), no '=' padding, one valid spelling

Deterministic on purpose (re-instrumenting gives the same URL); it reveals only
equality of whole payloads, and delivery ids are random.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mailbeacon.errors import ConfigError, TokenInvalid

__all__ = ["MAX_TOKEN_CHARS", "ClickToken", "Keyring", "OpenToken", "UnsubscribeToken"]

MAX_TOKEN_CHARS = 4096  # longer input is rejected before decoding; signing refuses to exceed it
_MAX_RAW = MAX_TOKEN_CHARS * 3 // 4
_OPEN, _CLICK, _UNSUBSCRIBE = 0x01, 0x02, 0x03
_MIN_CHARS = 27  # 2 header + 16 tag + 2 plaintext (shortest open token) = 20 bytes
_TAG = 16
_BODY = 2 + _TAG
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_TO_STD = bytes.maketrans(b"-_", b"+/")  # bytes.translate: ~10x faster than str.translate
_PAD = (b"", b"", b"==", b"=")
# Canonical last character when len % 4 is 2 (4 spare bits) or 3 (2 spare bits).
_LAST = ("", "", "AQgw", "AEIMQUYcgkosw048")
_MIN_SECRET = 32


@dataclass(frozen=True, slots=True)
class OpenToken:
    delivery: bytes


@dataclass(frozen=True, slots=True)
class ClickToken:
    delivery: bytes
    link: int
    url: str


@dataclass(frozen=True, slots=True)
class UnsubscribeToken:
    contact_id: int
    campaign_id: int
    """The campaign whose mail carried the link (0: none, e.g. a preview)."""


def _xor(data: bytes, enc_key: bytes, tag: bytes) -> bytes:
    # SHAKE-256 over key || tag is a keyed XOF (the construction KMAC standardises):
    # one call gives a keystream of any length.
    n = len(data)
    stream = hashlib.shake_256(enc_key + tag).digest(n)
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


class _Hmac:
    """HMAC-SHA256 (RFC 2104) with the keyed inner and outer states computed once.

    Byte-identical to hmac.digest(key, msg, "sha256") at a fraction of its cost
    on OpenSSL 3, where each one-shot call derives the key schedule again; the
    pixel and the redirect verify one token per request.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        key = key.ljust(64, b"\0")  # derived keys are 32 bytes: never longer than the block
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, msg: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _mac(mac_key: _Hmac, data: bytes) -> bytes:
    return mac_key.digest(data)[:_TAG]


class Keyring:
    """Keys with ids (kid 0..255). The newest key signs; every key verifies, so rotation keeps old mail working."""

    __slots__ = ("_active", "_keys", "_root")

    def __init__(self, keys: Mapping[int, bytes], active: int) -> None:
        if active not in keys:
            raise ConfigError(f"active key {active} is not in the keyring")
        self._keys: dict[int, tuple[_Hmac, bytes]] = {}
        for kid, secret in keys.items():
            if not 0 <= kid <= 255:
                raise ConfigError(f"key id {kid} is outside 0..255")
            if len(secret) < _MIN_SECRET:
                raise ConfigError(f"key {kid} is {len(secret)} bytes; at least {_MIN_SECRET} are required")
            mac = hmac.digest(secret, b"mailbeacon token mac", "sha256")
            self._keys[kid] = (_Hmac(mac), hmac.digest(secret, b"mailbeacon token enc", "sha256"))
        self._active = active
        self._root = hmac.digest(keys[min(keys)], b"mailbeacon derived secrets", "sha256")

    def derive(self, purpose: str) -> str:
        """A secret for another use (signing session cookies), from the oldest key: rotation keeps it.

        >>> ring = Keyring({0: bytes(32)}, 0)
        >>> ring.derive("sessions") == Keyring({0: bytes(32), 1: bytes(range(32))}, 1).derive("sessions")
        True
        """
        return hmac.digest(self._root, purpose.encode(), "sha256").hex()

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Keyring:
        """Load `data_dir/keys`, creating it (mode 0600, one fresh key) on first use.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> Keyring.load_or_create(folder).active_kid, oct((folder / "keys").stat().st_mode & 0o777)
        (0, '0o600')
        """
        path = data_dir / "keys"
        if not path.exists():
            _create(path)
        with _keys_file(path, os.O_RDONLY, fcntl.LOCK_SH) as (_, data):
            return cls._parse(path, data)

    @classmethod
    def rotate(cls, data_dir: Path) -> int:
        """Append a new key, which signs from now on; returns its kid. Reload long-running verifiers.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> Keyring.rotate(folder), Keyring.load_or_create(folder).active_kid
        (1, 1)
        """
        path = data_dir / "keys"
        cls.load_or_create(data_dir)
        with _keys_file(path, os.O_RDWR | os.O_APPEND, fcntl.LOCK_EX) as (fd, data):
            kid = max(cls._parse(path, data)._keys) + 1
            if kid > 255:
                raise ConfigError(f"{path}: key id 255 is taken, no id is left to rotate to")
            os.write(fd, (b"" if data.endswith(b"\n") else b"\n") + f"{kid} {secrets.token_hex(32)}\n".encode())
            os.fsync(fd)
        return kid

    @classmethod
    def _parse(cls, path: Path, data: bytes) -> Keyring:
        keys: dict[int, bytes] = {}
        active = -1
        for number, line in enumerate(data.split(b"\n"), 1):
            fields = line.split()
            if not fields:
                continue
            where = f"{path}, line {number}"  # never echo the line: it holds a secret
            if len(fields) != 2 or not fields[0].isdigit() or not 0 <= int(fields[0]) <= 255:
                raise ConfigError(f"{where}: expected '<kid 0..255> <hex secret>'")
            kid = int(fields[0])
            try:
                secret = bytes.fromhex(fields[1].decode("ascii"))
            except ValueError:
                raise ConfigError(f"{where}: the secret is not hexadecimal") from None
            if len(secret) < _MIN_SECRET:
                raise ConfigError(f"{where}: the secret is {len(secret)} bytes; at least {_MIN_SECRET} are required")
            if kid in keys:
                raise ConfigError(f"{where}: key id {kid} appears twice")
            keys[kid], active = secret, kid
        if active < 0:
            raise ConfigError(f"{path}: the keys file holds no key")
        return cls(keys, active)

    @property
    def active_kid(self) -> int:
        """The id of the key that signs new tokens."""
        return self._active

    def sign_open(self, delivery: bytes) -> str:
        """Token for the pixel URL of one delivery.

        >>> ring = Keyring({0: bytes(32)}, active=0)
        >>> ring.verify_open(ring.sign_open(b"d" * 12))
        OpenToken(delivery=b'dddddddddddd')
        """
        return self._seal(_OPEN, _delivery(delivery))

    def sign_click(self, delivery: bytes, link: int, url: str) -> str:
        """Token for the click URL of link number `link` (0..65535) leading to `url`.

        >>> ring = Keyring({0: bytes(32)}, active=0)
        >>> ring.verify_click(ring.sign_click(b"d" * 12, 3, "https://example.com/"))
        ClickToken(delivery=b'dddddddddddd', link=3, url='https://example.com/')
        """
        if not 0 <= link <= 0xFFFF:
            raise ValueError(f"link index {link} is outside 0..65535")
        return self._seal(_CLICK, _delivery(delivery) + link.to_bytes(2, "big") + url.encode("utf-8"))

    def sign_unsubscribe(self, contact_id: int, campaign_id: int) -> str:
        """Token for a contact's unsubscribe URL: it alone names the contact, so ids in it cannot be edited by hand.

        >>> ring = Keyring({0: bytes(32)}, active=0)
        >>> ring.verify_unsubscribe(ring.sign_unsubscribe(41, 7))
        UnsubscribeToken(contact_id=41, campaign_id=7)
        """
        for name, value in (("contact id", contact_id), ("campaign id", campaign_id)):
            if not 0 <= value < 1 << 63:
                raise ValueError(f"{name} {value} is outside 0..2**63-1")
        return self._seal(_UNSUBSCRIBE, contact_id.to_bytes(8, "big") + campaign_id.to_bytes(8, "big"))

    def verify_open(self, token: str) -> OpenToken:
        """The payload of a pixel token; TokenInvalid for anything else (a click token included).

        >>> Keyring({0: bytes(32)}, active=0).verify_open("AAAA")
        Traceback (most recent call last):
        mailbeacon.errors.TokenInvalid: malformed token
        """
        plain = self._open(token, _OPEN)
        if len(plain) != plain[0] + 1 or not 1 <= plain[0] <= 64:
            raise TokenInvalid("malformed payload")
        return OpenToken(plain[1:])

    def verify_click(self, token: str) -> ClickToken:
        """The payload of a click token; TokenInvalid for anything else (an open token included).

        >>> ring = Keyring({0: bytes(32)}, active=0)
        >>> ring.verify_click(ring.sign_open(b"d" * 12))
        Traceback (most recent call last):
        mailbeacon.errors.TokenInvalid: wrong token kind
        """
        plain = self._open(token, _CLICK)
        n = plain[0]
        if len(plain) < n + 3 or not 1 <= n <= 64:
            raise TokenInvalid("malformed payload")
        try:
            url = plain[n + 3 :].decode("utf-8")
        except UnicodeDecodeError:
            raise TokenInvalid("malformed payload") from None
        return ClickToken(plain[1 : n + 1], int.from_bytes(plain[n + 1 : n + 3], "big"), url)

    def verify_unsubscribe(self, token: str) -> UnsubscribeToken:
        """The payload of an unsubscribe token; TokenInvalid for anything else (tracking tokens included).

        >>> ring = Keyring({0: bytes(32)}, active=0)
        >>> ring.verify_unsubscribe(ring.sign_click(b"d" * 12, 0, "https://example.com/"))
        Traceback (most recent call last):
        mailbeacon.errors.TokenInvalid: wrong token kind
        """
        plain = self._open(token, _UNSUBSCRIBE)
        if len(plain) != 16:
            raise TokenInvalid("malformed payload")
        return UnsubscribeToken(int.from_bytes(plain[:8], "big"), int.from_bytes(plain[8:], "big"))

    def _seal(self, kind: int, plain: bytes) -> str:
        if _BODY + len(plain) > _MAX_RAW:
            raise ValueError(f"payload too long for a {MAX_TOKEN_CHARS}-character token")
        mac_key, enc_key = self._keys[self._active]
        header = bytes((kind, self._active))
        tag = _mac(mac_key, header + plain)
        raw = header + tag + _xor(plain, enc_key, tag)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def _open(self, token: str, kind: int) -> bytes:
        """Decode, check and decrypt; the plaintext returned is authentic (never empty)."""
        n = len(token)  # the length is checked first: a 10 MB string costs nothing more
        rem = n & 3
        if not _MIN_CHARS <= n <= MAX_TOKEN_CHARS or rem == 1 or (rem and token[-1] not in _LAST[rem]):
            raise TokenInvalid("malformed token")
        if _B64URL.fullmatch(token) is None:
            raise TokenInvalid("malformed token")
        try:
            raw = binascii.a2b_base64(token.encode("ascii").translate(_TO_STD) + _PAD[rem])
        except (binascii.Error, ValueError):  # unreachable after the checks above; kept as a guard
            raise TokenInvalid("malformed token") from None
        if raw[0] != kind:
            raise TokenInvalid("wrong token kind")
        keys = self._keys.get(raw[1])
        if keys is None:
            raise TokenInvalid("unknown key")
        tag = raw[2:_BODY]
        plain = _xor(raw[_BODY:], keys[1], tag)
        if not hmac.compare_digest(_mac(keys[0], raw[:2] + plain), tag):
            raise TokenInvalid("bad signature")
        return plain


def _delivery(delivery: bytes) -> bytes:
    if not 1 <= len(delivery) <= 64:
        raise ValueError(f"delivery id is {len(delivery)} bytes; 1..64 are allowed")
    return bytes((len(delivery),)) + delivery


def _create(path: Path) -> None:
    """Write a one-key file atomically: fully written 0600 temp file, then link() it into place.

    link() fails if `path` exists, so a concurrent creator's file wins and is never seen half-written.
    """
    tmp = path.with_name(f".keys.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, f"0 {secrets.token_hex(32)}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the keys file: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _keys_file(path: Path, flags: int, lock: int) -> Iterator[tuple[int, bytes]]:
    """Open, flock, refuse if group/other have any access, read; yields (fd, contents)."""
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open the keys file: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, lock)
        mode = os.fstat(fd).st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(f"{path}: the keys file is accessible by group or other (mode {mode:o}); chmod 600 it")
        with open(fd, "rb", closefd=False) as file:
            yield fd, file.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot use the keys file: {exc.strerror}") from exc
    finally:
        os.close(fd)
