"""Credentials of users: created once, shown once, stored only as hashes.

Dashboard passwords are people's own choice, so they get argon2id (argon2-cffi);
API keys are random and only need a fast lookup hash; SMTP passwords, kept by mail
clients, get scrypt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from mailbeacon.errors import MailbeaconError
from mailbeacon.store import Store, UserRow

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_ARGON2 = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)
MIN_PASSWORD = 10


class PasswordRejected(MailbeaconError):
    """A dashboard password that is too weak to set."""


class NotAnAddress(MailbeaconError):
    """A user's email that is no email address: they could never send as it nor log in with it."""


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


def verify_smtp_password(user: UserRow | None, password: str) -> bool:
    """False for an unknown user too, after the same scrypt work: timing tells nobody who exists (issue #12)."""
    stored = user.smtp_password_hash if user is not None and user.enabled else None
    return verify_password(password, stored or _dummy_smtp_hash()) and stored is not None


@functools.cache
def _dummy_smtp_hash() -> str:
    return hash_password("mailbeacon: no such user")


def new_api_key() -> str:
    return "mb_" + secrets.token_urlsafe(32)


def replace_api_key(store: Store, user_id: int) -> str:
    """A new API key for the user; the old one stops working at once. Returns the new key (shown once)."""
    api_key = new_api_key()
    store.update_user(user_id, api_key_hash=hash_api_key(api_key))
    return api_key


def check_email(email: str) -> str:
    """`email` as given, if it is an address (syntax only, no DNS: an offline server adds users too)."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise NotAnAddress(f"{email!r} is not an email address: {exc}") from None
    return email


def create_user(store: Store, email: str, is_admin: bool, seat: str) -> NewUser:
    check_email(email)
    api_key = new_api_key()
    smtp_password = secrets.token_urlsafe(18)
    user_id = store.add_user(email, is_admin, seat, hash_api_key(api_key), hash_password(smtp_password))
    return NewUser(user_id, api_key, smtp_password)


@dataclass(frozen=True, slots=True)
class DeletedUser:
    messages: int
    campaigns: int
    """Kept, with their events, under "deleted user": admins still see them and they still count."""
    webhooks: int
    mailbox: bool
    """Whether a connected mailbox was disconnected (its queued copies go through the server's upstream)."""


def delete_user(store: Store, user: UserRow) -> DeletedUser:
    """Delete `user`: their sessions end at once, their webhooks and mailbox go, and their email is free
    again; their messages, events and campaigns stay (reports must not change), owned by "deleted user".

    Done in steps that can be run again: the user's row goes last, so a crash midway leaves a user to delete."""
    messages, campaigns = store.user_holdings(user.id)
    store.set_user_disabled(user.id, True)  # nothing they hold works any more, from the first step
    gone = store.disconnect_mailbox(user.id)
    hooks = store.webhooks_of(user.id)
    for hook in hooks:
        store.delete_webhook(hook.id)
    store.tombstone_user(user.id)
    return DeletedUser(messages, campaigns, len(hooks), gone is not None)


def hash_dashboard_password(password: str) -> str:
    """argon2id; refuses passwords shorter than MIN_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD} characters")
    return _ARGON2.hash(password)


def verify_dashboard_password(user: UserRow | None, password: str) -> bool:
    """False for an unknown user too, after the same work, so timing tells nobody which emails exist."""
    stored = user.password_hash if user is not None and user.enabled else None
    try:
        return _ARGON2.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def set_dashboard_password(store: Store, user_id: int, password: str, keep_session: int | None = None) -> None:
    """Every dashboard session of the user ends with it, except `keep_session` (the one that changed it)."""
    store.set_password_hash(user_id, hash_dashboard_password(password), keep_session)


_DUMMY_HASH = _ARGON2.hash("mailbeacon: no such user")
