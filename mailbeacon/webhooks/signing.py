"""Standard Webhooks signatures (https://www.standardwebhooks.com/): secrets, message ids, `v1,` HMACs.

A receiver checks `webhook-signature` against HMAC-SHA256 over
"{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64-decoded part of
the secret after `whsec_`, and drops duplicates by `webhook-id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""The spec asks for 24 to 64 random bytes."""


def new_secret() -> str:
    """A fresh endpoint secret, e.g. 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw...'."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def new_message_id() -> str:
    """A `webhook-id`: unique per message, repeated by every attempt of it."""
    return "msg_" + secrets.token_hex(12)


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value.

    >>> sign("whsec_" + "a" * 32, "msg_1", 1700000000, b'{}')
    'v1,FaruCyJt0uXT0ZhrCJsWvoXXXppYtSqJAmsn0ehiJlE='
    """
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
