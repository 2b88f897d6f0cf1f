"""`mailbeacon campaign preview`: one contact's copy, exactly as a send would render it."""

from __future__ import annotations

from dataclasses import dataclass

from mailbeacon.campaigns.templates import CampaignTemplate, Rendered
from mailbeacon.campaigns.unsubscribe import unsubscribe_headers, unsubscribe_url
from mailbeacon.errors import MailbeaconError
from mailbeacon.store import ContactRow, Store
from mailbeacon.tokens import Keyring

PREVIEW_CAMPAIGN = 0
"""The campaign id in a preview's unsubscribe token: none."""


class PreviewError(MailbeaconError):
    """No contact to preview for."""


@dataclass(frozen=True, slots=True)
class Preview:
    contact: ContactRow
    rendered: Rendered
    headers: list[tuple[str, str]]


def preview_contact(store: Store, list_name: str | None, email: str | None) -> ContactRow:
    """The contact named by `email`, else the first subscribed member of the list."""
    if email is not None:
        contact = store.contact_by_email(email)
        if contact is None:
            raise PreviewError(f"no contact {email!r}: import it first (mailbeacon contacts import)")
        return contact
    if list_name is None:
        raise PreviewError("name a contact (--contact EMAIL) or a list (--list NAME) to preview for")
    found = store.list_named(list_name)
    if found is None:
        raise PreviewError(f"no list {list_name!r}; the lists are: {', '.join(l.name for l in store.lists()) or 'none'}")
    first = store.members_after(found.id, 0, 1)
    if not first:
        raise PreviewError(f"list {list_name!r} has no subscribed contact")
    return first[0]


def render_preview(template: CampaignTemplate, contact: ContactRow, keyring: Keyring, base_url: str) -> Preview:
    url = unsubscribe_url(base_url, keyring, contact.id, PREVIEW_CAMPAIGN)
    return Preview(contact, template.render(contact, url), unsubscribe_headers(url))


def format_preview(preview: Preview) -> str:
    r = preview.rendered
    head = [f"To: {preview.contact.email}", f"Subject: {r.subject}", *(f"{k}: {v}" for k, v in preview.headers)]
    parts = [*head, ""]
    if r.text is not None:
        parts += ["----- text/plain -----", r.text.rstrip("\n"), ""]
    parts += ["----- text/html -----", r.html.rstrip("\n")]
    return "\n".join(parts) + "\n"
