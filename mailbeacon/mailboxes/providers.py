"""Providers whose SMTP server files what it sends in the Sent folder itself (issue #14).

Gmail's SMTP does (support.google.com/mail/answer/78892), and so does Microsoft's
for Outlook.com and Microsoft 365; appending there too would give the sender two.
`sent_copy = auto` appends for every other host; `always` and `never` decide instead.
"""

from __future__ import annotations

from mailbeacon.mailboxes.settings import SentCopy

FILES_SENT_MAIL = {
    "gmail.com": "Gmail",
    "googlemail.com": "Gmail",
    "google.com": "Google Workspace",
    "office365.com": "Microsoft 365",
    "outlook.com": "Outlook.com",
    "hotmail.com": "Outlook.com",
    "live.com": "Outlook.com",
}
"""Domains of SMTP hosts (smtp.gmail.com, smtp.office365.com, smtp-mail.outlook.com) that file sent mail."""


def files_sent_mail(smtp_host: str) -> str | None:
    """The provider's name when its SMTP server keeps a Sent copy itself.

    >>> files_sent_mail("smtp.gmail.com"), files_sent_mail("SMTP.Office365.com."), files_sent_mail("mail.example.com")
    ('Gmail', 'Microsoft 365', None)
    """
    labels = smtp_host.lower().rstrip(".").split(".")
    for length in range(len(labels), 1, -1):
        found = FILES_SENT_MAIL.get(".".join(labels[-length:]))
        if found:
            return found
    return None


def appends_sent_copy(mode: SentCopy | str, smtp_host: str) -> bool:
    """Whether mailbeacon appends the sender's copy to the Sent folder.

    >>> appends_sent_copy("auto", "smtp.gmail.com"), appends_sent_copy("auto", "mail.example.com")
    (False, True)
    >>> appends_sent_copy("always", "smtp.gmail.com"), appends_sent_copy("never", "mail.example.com")
    (True, False)
    """
    mode = SentCopy(mode)
    if mode is SentCopy.AUTO:
        return files_sent_mail(smtp_host) is None
    return mode is SentCopy.ALWAYS
