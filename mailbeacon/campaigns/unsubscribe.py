"""The unsubscribe link of a campaign copy and its RFC 8058 one-click headers.

The link carries a signed token naming the contact and the campaign (no id
can be edited by hand, and it keeps working after data is purged). Opening it
changes nothing: scanners follow every link in a message, so `GET /u/{token}`
only shows a confirmation page, and only a POST (that page's form, or a mail
client's one-click request) unsubscribes. See mailbeacon/web/unsubscribe.py.
"""

from __future__ import annotations

from mailbeacon.tokens import Keyring

PATH = "/u/"


def unsubscribe_url(base_url: str, keyring: Keyring, contact_id: int, campaign_id: int) -> str:
    """The URL of one contact's unsubscribe page, for the copy of one campaign.

    >>> unsubscribe_url("https://t.example/", Keyring({0: bytes(32)}, 0), 41, 7).startswith("https://t.example/u/")
    True
    """
    return f"{base_url.rstrip('/')}{PATH}{keyring.sign_unsubscribe(contact_id, campaign_id)}"


def unsubscribe_headers(url: str) -> list[tuple[str, str]]:
    """The header fields a campaign copy carries (RFC 2369 §3.2, RFC 8058 §3.1).

    RFC 8058 §4 wants both covered by the DKIM signature, so add them before signing.

    >>> unsubscribe_headers("https://t.example/u/abc")
    [('List-Unsubscribe', '<https://t.example/u/abc>'), ('List-Unsubscribe-Post', 'List-Unsubscribe=One-Click')]
    """
    return [("List-Unsubscribe", f"<{url}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
