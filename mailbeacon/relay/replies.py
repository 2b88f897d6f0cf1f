"""The relay's SMTP replies, named (RFC 5321 codes, RFC 3463 enhanced status codes)."""

from __future__ import annotations

S250_QUEUED = "250 2.0.0 OK: queued as {message_id} ({copies} copies)"
S421_AUTH_FAILURES = "421 4.7.0 Too many failed authentications, closing the connection"
S451_TRY_LATER = "451 4.3.0 Cannot queue the message now, nothing was accepted; please try again later"
S454_AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure"
S454_THROTTLED = "454 4.7.0 Too many failed authentications; try again later"
"""RFC 4954 §6: a temporary failure; the password was not checked."""
S501_BAD_ADDRESS = "501 5.1.3 Bad recipient address syntax"
S501_BAD_SENDER = "501 5.1.7 Bad sender address syntax"
S530_NOT_AUTHENTICATED = "530 5.7.0 Authentication required"
S535_AUTH_FAILED = "535 5.7.8 Authentication credentials invalid"
S550_NOT_YOURS = "550 5.7.1 <{address}> is not yours to send as"
"""MAIL FROM or an author field (From:, Sender:) that is not the user's (RFC 3463 X.7.1: not authorised)."""
S553_NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII addresses need the SMTPUTF8 parameter of MAIL FROM"
"""RFC 6531 §3.5; a well-formed address the relay may not take without it."""
