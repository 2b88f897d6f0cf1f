"""Which envelope addresses the relay takes (issue #12, item 10), before anything is queued or sent on.

aiosmtpd decodes a command's argument as UTF-8 with surrogateescape, so invalid UTF-8 arrives
here as lone surrogates, and a NUL or another control character arrives as itself; neither
may reach the store or the upstream. RFC 5321 §4.1.2 admits no control character in an
address and RFC 6531 §3.3 only valid UTF-8 (RFC 3629): both are syntax errors, 501. A
well-formed non-ASCII address needs the SMTPUTF8 parameter of MAIL FROM: 553 5.6.7 (RFC 6531 §3.5).
"""

from __future__ import annotations

import enum
import unicodedata


class Unfit(enum.Enum):
    SYNTAX = "syntax"
    NEEDS_SMTPUTF8 = "needs SMTPUTF8"


def unfit(address: str, smtputf8: bool) -> Unfit | None:
    """Why the relay cannot take `address`; None when it can.

    >>> unfit("bob@example.org", False), unfit("bo\\0b@example.org", True), unfit("b\\udcffb@example.org", True)
    (None, <Unfit.SYNTAX: 'syntax'>, <Unfit.SYNTAX: 'syntax'>)
    >>> unfit("josé@example.org", False), unfit("josé@example.org", True)
    (<Unfit.NEEDS_SMTPUTF8: 'needs SMTPUTF8'>, None)
    """
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in address):  # controls; surrogates: not UTF-8
        return Unfit.SYNTAX
    if not smtputf8 and not address.isascii():
        return Unfit.NEEDS_SMTPUTF8
    return None
