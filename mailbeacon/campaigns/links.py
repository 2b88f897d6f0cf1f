"""Link indexes that mean the same URL in every copy of a campaign.

Instrumentation numbers the links of one message in the order it meets them,
but personalised copies may differ in which links they have (an `{% if %}`
around a link): the third link of one copy can be the second of another. A
campaign is ONE message in the store, counted per (message, link index), so
the index must follow the URL instead: `CampaignTracker` signs every click URL
with the campaign-wide index of its target, handed out by `CampaignLinks`
(loaded from the store, new ones written with the batch that first uses them).
"""

from __future__ import annotations

from mailbeacon.events import HONEYPOT_LINK
from mailbeacon.instrument import Recognised, Tracker

MAX_LINKS = 10_000
"""Distinct URLs a campaign tracks; links past it (a URL made per contact) are left as they are."""


class CampaignLinks:
    """URL -> campaign-wide link index, with the ones handed out since the last `take_new`.

    >>> links = CampaignLinks({"https://a.example/": 0})
    >>> links.index("https://b.example/"), links.index("https://a.example/"), links.take_new()
    (1, 0, [(1, 'https://b.example/')])
    """

    def __init__(self, known: dict[str, int], limit: int = MAX_LINKS) -> None:
        self._known = dict(known)
        self._next = max(known.values(), default=-1) + 1
        self._new: list[tuple[int, str]] = []
        self._limit = min(limit, HONEYPOT_LINK)

    def index(self, url: str) -> int | None:
        """The URL's index; None when the campaign has as many links as it may track."""
        found = self._known.get(url)
        if found is None:
            if self._next >= self._limit:
                return None
            found = self._known[url] = self._next
            self._next += 1
            self._new.append((found, url))
        return found

    def take_new(self) -> list[tuple[int, str]]:
        """(index, URL) handed out since the last call: the batch being written stores them."""
        new, self._new = self._new, []
        return new


class CampaignTracker:
    """A delivery's tracker whose click URLs carry campaign-wide link indexes."""

    def __init__(self, inner: Tracker, links: CampaignLinks) -> None:
        self._inner = inner
        self._links = links

    def pixel_url(self) -> str:
        return self._inner.pixel_url()

    def click_url(self, link: int, target: str) -> str:
        if link == HONEYPOT_LINK:
            return self._inner.click_url(link, target)
        index = self._links.index(target)
        return target if index is None else self._inner.click_url(index, target)

    def recognise(self, url: str) -> Recognised | None:
        return self._inner.recognise(url)
