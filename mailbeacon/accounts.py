"""Credentials of users: created once, shown once, stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from mailbeacon.store import Store

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True, slots=True)
class NewUser:
    id: int
    api_key: str
    smtp_password: str


def hash_api_key(key: str) -> str:
    """API keys are 256-bit random strings: SHA-256 is enough to store and look them up."""
    return hashlib.sha256(key.encode()).hexdigest()


def hash_password(password: str) -> str:
    """scrypt (memory-hard) for SMTP passwords, which mail clients keep and people may reuse."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def create_user(store: Store, email: str, is_admin: bool, seat: str) -> NewUser:
    api_key = "mb_" + secrets.token_urlsafe(32)
    smtp_password = secrets.token_urlsafe(18)
    user_id = store.add_user(email, is_admin, seat, hash_api_key(api_key), hash_password(smtp_password))
    return NewUser(user_id, api_key, smtp_password)
