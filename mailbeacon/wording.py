"""Counts in words for people: "1 copy", "2 copies", never "1 copies" (issue #13, item 7)."""

from __future__ import annotations

IRREGULAR = {"copy": "copies", "reply": "replies", "address": "addresses", "delivery": "deliveries",
             "person": "people", "is": "are", "stays": "stay", "was": "were"}


def plural(word: str, n: int) -> str:
    """`word` as it goes with `n`.

    >>> plural("copy", 1), plural("copy", 2), plural("member", 0), plural("IP", 2)
    ('copy', 'copies', 'members', 'IPs')
    """
    if n == 1:
        return word
    return IRREGULAR.get(word, word + "s")


def many(n: int, word: str) -> str:
    """`n` and its noun, with thousands separators.

    >>> many(1, "copy"), many(1200, "event"), many(0, "recipient")
    ('1 copy', '1,200 events', '0 recipients')
    """
    return f"{n:,} {plural(word, n)}"
