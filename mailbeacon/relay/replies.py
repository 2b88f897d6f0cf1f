"""The relay's SMTP replies, named (RFC 5321 codes, RFC 3463 enhanced status codes)."""

from __future__ import annotations

S250_QUEUED = "250 2.0.0 OK: queued as {message_id} ({copies} copies)"
S451_TRY_LATER = "451 4.3.0 Cannot queue the message now, nothing was accepted; please try again later"
S501_BAD_ADDRESS = "501 5.1.3 Bad recipient address syntax"
S530_NOT_AUTHENTICATED = "530 5.7.0 Authentication required"
