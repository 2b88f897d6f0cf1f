"""A campaign sent without a text template gets a plain-text alternative made from each copy's HTML (issue #15).

Spam filters score HTML-only mail, and a reader whose client shows text must see the
personalised words, where each link goes, and how to unsubscribe: the same text whether the
copy took the shared scan of its skeleton or a full one.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import secrets
from email.message import EmailMessage

from mailbeacon.campaigns.copies import CopyMaker
from mailbeacon.campaigns.links import CampaignLinks
from mailbeacon.tokens import Keyring
from tests.campaigns.test_copies import BASE, PEOPLE, TEMPLATE, campaign, contact

DATE = "Tue, 01 Dec 2026 10:00:00 +0000"


def parts(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    return text.get_content(), html.get_content()


def makers() -> tuple[CopyMaker, CopyMaker]:
    keyring = Keyring({0: secrets.token_bytes(32)}, 0)
    row = dataclasses.replace(campaign(TEMPLATE), text=None)
    return CopyMaker(row, keyring, CampaignLinks({})), CopyMaker(row, keyring, CampaignLinks({}), share_marked=False)


def test_the_text_says_what_the_html_says_with_real_link_targets_and_the_unsubscribe_url() -> None:
    shared, _ = makers()
    made = shared.make(contact(0, PEOPLE[0]), DATE, False)
    text, html = parts(made.body)
    assert "Hello Bob, from Oslo!" in text
    assert "[the news](https://shop.example.com/news?utm_source=mail)" in text  # the target itself, never a /c/ token
    assert "[your own page](https://shop.example.com/u/b1)" in text
    assert f"{BASE}/c/" not in text and f"{BASE}/o/" not in text
    assert f"{BASE}/c/" in html  # the HTML part is tracked as before
    unsubscribe = next(word for word in html.split('"') if word.startswith(f"{BASE}/u/"))
    assert f"[Unsubscribe]({unsubscribe})" in text
    assert "XXXX" not in text  # no placeholder left
    for leftover in ("<", "[if mso]", "color: #333", "\ue000"):
        assert leftover not in text
    assert "\n\n\n" not in text


def test_copies_from_the_shared_skeleton_get_the_text_a_full_render_gives() -> None:
    shared, full = makers()
    for n, fields in enumerate(PEOPLE):
        member = contact(n, fields)
        one, other = (parts(maker.make(member, DATE, False).body)[0] for maker in (shared, full))
        unsubscribe_free = [line for line in one.splitlines() if "/u/" not in line]
        assert unsubscribe_free == [line for line in other.splitlines() if "/u/" not in line], fields
    zoe = parts(shared.make(contact(1, PEOPLE[1]), DATE, False).body)[0]
    assert "Hello Zoë, from São Paulo!" in zoe
    escaped = parts(shared.make(contact(2, PEOPLE[2]), DATE, False).body)[0]
    assert "Hello <script>alert(1)</script>, from A & B!" in escaped  # text, unescaped once: never markup here


def test_a_text_template_given_is_the_text_sent() -> None:
    keyring = Keyring({0: secrets.token_bytes(32)}, 0)
    maker = CopyMaker(campaign(TEMPLATE), keyring, CampaignLinks({}))  # its text template: "Hi {{ first_name }}"
    text, _ = parts(maker.make(contact(0, PEOPLE[0]), DATE, False).body)
    assert text.startswith("Hi Bob") and "[the news]" not in text
