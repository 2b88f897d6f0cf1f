"""Each classification rule through `judge`: the class and reason a tracking report shows, and the revisions.

Pure: no store, no network. A `Delivery` plays the events of one copy, in order, through one `Memory`,
as the classify reader does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mailbeacon.classify import (
    HONEYPOT_LINK,
    REMEMBERED,
    Judgement,
    Memory,
    Networks,
    Policy,
    Revision,
    Seen,
    judge,
    make_hit,
)

T0 = 1_700_000_000.0
"""When the upstream accepted the copy (and the sender submitted it)."""
LATER = 3600.0
"""An hour after delivery: clear of every timing rule."""

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.10730; Pro)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
HEADLESS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.28 Safari/537.36"
)
BARE = "Mozilla/5.0"

READER_IP = "93.184.216.34"
"""The reader's public address (not a documentation range: ipaddress calls those private)."""
READER_NEIGHBOUR_IP = "93.184.216.99"
"""Another host of the reader's /24: the same network."""
ELSEWHERE_IP = "8.8.4.4"
"""Another network altogether."""
CRAWLER_IP = "34.120.5.6"
"""A cloud host fetching with a browser's User-Agent: caught only by the honeypot or timing."""

POLICY = Policy()


@dataclass
class Delivery:
    """One copy of a message, its facts, and the memory the classifier keeps for it."""

    policy: Policy = POLICY
    accepted_at: float | None = T0
    sent_at: float | None = T0
    submitted_from: str | None = None
    memory: Memory = field(default_factory=Memory)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def event(self, kind: str, after: float, ip: str, ua: str, method: str, link: int | None) -> Judgement:
        hit = make_hit(next(self._ids), kind, T0 + after, ip, ua, method, link)
        return judge(
            hit, self.memory, self.policy,
            accepted_at=self.accepted_at, sent_at=self.sent_at, submitted_from=self.submitted_from,
        )

    def open(self, after: float = LATER, ip: str = READER_IP, ua: str = THUNDERBIRD, method: str = "GET") -> Judgement:
        return self.event("open", after, ip, ua, method, None)

    def click(
        self, after: float = LATER, link: int = 0, ip: str = READER_IP, ua: str = CHROME, method: str = "GET"
    ) -> Judgement:
        return self.event("click", after, ip, ua, method, link)

    def verdicts(self) -> list[tuple[int, str, list[str]]]:
        """(event id, class, reasons) of every remembered event, as they stand now."""
        return [(seen.id, seen.cls, seen.reasons) for seen in self.memory.seen]


def verdict(judgement: Judgement) -> tuple[str, tuple[str, ...]]:
    return judgement.cls, judgement.reasons


def revised(judgement: Judgement) -> list[tuple[int, str, str, list[str]]]:
    """(event id, old class, new class, new reasons) of each earlier event this one revised."""
    return [(r.seen.id, r.old_cls, r.seen.cls, r.seen.reasons) for r in judgement.revisions]


def opened() -> Delivery:
    """A delivery whose reader opened it a minute after delivery (so clicks are not 'unopened')."""
    delivery = Delivery()
    assert verdict(delivery.open(60)) == ("human", ())
    return delivery


# --- a person ---------------------------------------------------------------------------------


def test_a_reader_opening_then_clicking_is_human_throughout() -> None:
    delivery = Delivery()
    assert verdict(delivery.open(LATER)) == ("human", ())
    assert verdict(delivery.open(LATER + 100)) == ("human", ())
    click = delivery.click(LATER + 110, ua=CHROME)
    assert verdict(click) == ("human", ()) and click.revisions == []
    assert delivery.memory.first_human == ["93.184.216.0/24", "Thunderbird"]


# --- head_request -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["open", "click"])
def test_a_head_request_is_a_machine(kind: str) -> None:
    delivery = opened()
    judgement = delivery.event(kind, LATER, READER_IP, THUNDERBIRD, "HEAD", None if kind == "open" else 0)
    assert verdict(judgement) == ("machine", ("head_request",))


def test_a_get_from_the_same_client_is_not_a_head_request() -> None:
    assert verdict(Delivery().open(method="GET")) == ("human", ())


# --- automated_client -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ua", ["python-requests/2.31.0", "curl/8.5.0", "Go-http-client/2.0", HEADLESS],
    ids=["python-requests", "curl", "Go-http-client", "HeadlessChrome"],
)
@pytest.mark.parametrize("kind", ["open", "click"])
def test_http_libraries_and_headless_browsers_are_machines(ua: str, kind: str) -> None:
    delivery = opened()
    judgement = delivery.event(kind, LATER, READER_IP, ua, "GET", None if kind == "open" else 0)
    assert verdict(judgement) == ("machine", ("http_library",))


@pytest.mark.parametrize(
    "ua",
    [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
    ],
    ids=["Slackbot", "facebookexternalhit", "Twitterbot"],
)
def test_chat_and_social_unfurlers_are_link_previews(ua: str) -> None:
    delivery = opened()
    assert verdict(delivery.click(ua=ua)) == ("machine", ("link_preview",))


@pytest.mark.parametrize("ip", ["17.58.101.12", "17.0.0.1", "17.255.255.254"])
def test_bare_mozilla_from_apples_ranges_is_apple_privacy_protection(ip: str) -> None:
    assert verdict(Delivery().open(ip=ip, ua=BARE)) == ("machine", ("apple_mpp",))


@pytest.mark.parametrize("ip", [READER_IP, "16.255.255.255", "18.0.0.1", "2001:4860:4860::8888"])
def test_bare_mozilla_from_anywhere_else_is_a_bare_user_agent(ip: str) -> None:
    assert verdict(Delivery().open(ip=ip, ua=BARE)) == ("machine", ("bare_user_agent",))


def test_apples_ranges_are_the_policys() -> None:
    policy = Policy(apple=Networks.parse("# a refreshed list\n2a02:26f7:b3c0:4000::/64\n"))
    delivery = Delivery(policy=policy)
    assert verdict(delivery.open(ip="2a02:26f7:b3c0:4000::1", ua=BARE)) == ("machine", ("apple_mpp",))
    assert verdict(delivery.open(ip="17.58.101.12", ua=BARE)) == ("machine", ("bare_user_agent",))


def test_a_mail_client_from_apples_ranges_is_not_privacy_protection() -> None:
    """Only the bare UA is MPP: a person at Apple reading in Thunderbird is a person."""
    assert verdict(Delivery().open(ip="17.58.101.12", ua=THUNDERBIRD)) == ("human", ())


# --- known_scanner_net ------------------------------------------------------------------------


@pytest.mark.parametrize("ip", ["40.107.22.91", "104.47.1.2", "148.163.140.5"], ids=["EOP", "EOP-2", "Proofpoint"])
def test_a_browser_ua_from_a_shipped_scanner_network_is_a_machine(ip: str) -> None:
    delivery = opened()
    assert verdict(delivery.click(ip=ip, ua=CHROME)) == ("machine", ("known_scanner_net",))
    assert verdict(delivery.open(ip=ip, ua=OUTLOOK)) == ("machine", ("known_scanner_net",))


def test_an_address_next_to_a_scanner_network_is_not_one() -> None:
    delivery = opened()
    assert verdict(delivery.click(ip="40.108.0.1")) == ("human", ())


def test_custom_scanner_networks_replace_the_shipped_ones() -> None:
    policy = Policy(scanners=Networks.parse("# our own gateway\n93.184.216.0/24\n2001:db8:42::/48\n"))
    delivery = Delivery(policy=policy)
    assert verdict(delivery.open(60, ip=ELSEWHERE_IP)) == ("human", ())
    assert verdict(delivery.click(ip=READER_IP)) == ("machine", ("known_scanner_net",))
    assert verdict(delivery.click(LATER + 100, ip="2001:db8:42:1::7")) == ("machine", ("known_scanner_net",))
    assert verdict(delivery.click(LATER + 200, ip="40.107.22.91")) == ("human", ())


def test_every_machine_reason_is_reported_in_rule_order() -> None:
    delivery = opened()
    judgement = delivery.click(ip="40.107.22.91", ua="python-requests/2.31.0", method="HEAD")
    assert verdict(judgement) == ("machine", ("head_request", "http_library", "known_scanner_net"))


# --- honeypot ---------------------------------------------------------------------------------


def test_a_click_on_the_honeypot_link_is_a_machine() -> None:
    delivery = opened()
    assert verdict(delivery.click(link=HONEYPOT_LINK, ip=CRAWLER_IP)) == ("machine", ("honeypot",))


def test_an_open_is_never_a_honeypot_click() -> None:
    delivery = Delivery()
    judgement = delivery.event("open", LATER, READER_IP, THUNDERBIRD, "GET", HONEYPOT_LINK)
    assert verdict(judgement) == ("human", ())


def test_the_honeypot_revises_the_same_requesters_earlier_events_only() -> None:
    delivery = Delivery()
    assert verdict(delivery.open(30, ip=READER_IP, ua=THUNDERBIRD)) == ("human", ())                # 1
    assert verdict(delivery.open(LATER, ip=CRAWLER_IP, ua=CHROME)) == ("suspect_forward", ("suspect_forward",))  # 2
    assert verdict(delivery.click(LATER + 2, link=0, ip=CRAWLER_IP, ua=CHROME)) == ("human", ())  # 3
    assert verdict(delivery.click(LATER + 5, link=0, ip=CRAWLER_IP, ua=OUTLOOK)) == ("human", ())  # 4: other UA
    trap = delivery.click(LATER + 100, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)                 # 5
    assert verdict(trap) == ("machine", ("honeypot",))
    assert revised(trap) == [
        (2, "suspect_forward", "machine", ["honeypot"]),
        (3, "human", "machine", ["honeypot"]),
    ]
    assert delivery.verdicts() == [
        (1, "human", []),  # the reader, on another network
        (2, "machine", ["honeypot"]),
        (3, "machine", ["honeypot"]),
        (4, "human", []),  # the same address with another User-Agent: another requester
        (5, "machine", ["honeypot"]),
    ]
    assert delivery.memory.first_human == ["93.184.216.0/24", "Thunderbird"]


def test_the_honeypot_does_not_revise_the_requesters_events_older_than_the_window() -> None:
    delivery = Delivery()
    window = POLICY.honeypot_window
    assert verdict(delivery.open(LATER, ip=CRAWLER_IP, ua=CHROME)) == ("human", ())
    assert verdict(delivery.open(LATER + 1, ip=CRAWLER_IP, ua=CHROME)) == ("human", ())
    trap = delivery.click(LATER + 1 + window, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    assert verdict(trap) == ("machine", ("honeypot",))
    assert revised(trap) == [(2, "human", "machine", ["honeypot"])]  # exactly the window before: revised
    assert delivery.verdicts()[0] == (1, "human", [])


def test_a_revised_first_open_no_longer_marks_forwards() -> None:
    delivery = Delivery()
    assert verdict(delivery.open(LATER, ip=CRAWLER_IP, ua=CHROME)) == ("human", ())
    assert delivery.memory.first_human == ["34.120.5.0/24", "Chrome"]
    delivery.click(LATER + 10, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    assert delivery.memory.first_human is None
    # The real reader, on another network and client: the first person, not a forward of the crawler's copy.
    assert verdict(delivery.open(LATER + 1000, ip=READER_IP, ua=OUTLOOK)) == ("human", ())
    assert delivery.memory.first_human == ["93.184.216.0/24", "Outlook desktop"]


def test_the_trapped_requester_stays_a_machine_within_the_window() -> None:
    delivery = opened()
    delivery.click(LATER, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    later = delivery.click(LATER + POLICY.honeypot_window, link=1, ip=CRAWLER_IP, ua=CHROME)
    assert verdict(later) == ("machine", ("honeypot",))


def test_a_trapped_requesters_open_is_a_machine_too() -> None:
    delivery = opened()
    delivery.click(LATER, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    assert verdict(delivery.open(LATER + 60, ip=CRAWLER_IP, ua=CHROME)) == ("machine", ("honeypot",))


def test_the_trap_ends_after_the_window() -> None:
    delivery = opened()
    delivery.click(LATER, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    after = delivery.click(LATER + POLICY.honeypot_window + 1, link=1, ip=CRAWLER_IP, ua=CHROME)
    assert verdict(after) == ("human", ())


def test_the_trap_holds_only_the_same_requester() -> None:
    delivery = opened()
    delivery.click(LATER, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    assert verdict(delivery.click(LATER + 60, link=1, ip=READER_IP, ua=CHROME)) == ("human", ())
    assert verdict(delivery.click(LATER + 120, link=1, ip=CRAWLER_IP, ua=OUTLOOK)) == ("human", ())


def test_the_trap_is_remembered_as_json() -> None:
    delivery = opened()
    delivery.click(LATER, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)
    delivery.memory = Memory.from_json(json.loads(json.dumps(delivery.memory.to_json())))
    assert verdict(delivery.click(LATER + 60, link=1, ip=CRAWLER_IP, ua=CHROME)) == ("machine", ("honeypot",))


def test_the_honeypot_does_not_revise_an_event_after_its_window_judged_out_of_order() -> None:
    delivery = opened()
    # An open, not a click, so that the burst rule's own missing bound (below) plays no part.
    assert verdict(delivery.open(LATER + 3600, ip=CRAWLER_IP, ua=CHROME)) == ("suspect_forward", ("suspect_forward",))
    trap = delivery.click(LATER, link=HONEYPOT_LINK, ip=CRAWLER_IP, ua=CHROME)  # replayed from the spool
    assert verdict(trap) == ("machine", ("honeypot",))
    assert revised(trap) == []


# --- scanner_timing ---------------------------------------------------------------------------


@pytest.mark.parametrize("after", [0.0, 3.0, 9.9, -0.5])
def test_a_click_sooner_after_delivery_than_a_person_could_is_a_scanner(after: float) -> None:
    delivery = Delivery()
    delivery.open(-5)  # opened, so only the delay rule can apply
    assert verdict(delivery.click(after)) == ("machine", ("scanner_timing",))


@pytest.mark.parametrize("after", [10.0, 10.1, 60.0])
def test_a_click_at_or_after_the_scanner_delay_is_not_a_scanner_by_timing(after: float) -> None:
    assert POLICY.scanner_delay == 10.0
    delivery = Delivery()
    delivery.open(2)
    assert verdict(delivery.click(after)) == ("human", ())


def test_the_scanner_delay_is_the_policys() -> None:
    delivery = Delivery(policy=Policy(scanner_delay=30.0))
    delivery.open(2)
    assert verdict(delivery.click(29)) == ("machine", ("scanner_timing",))
    assert verdict(delivery.click(30)) == ("human", ())  # the same link: no burst either


def test_without_the_acceptance_time_there_is_no_delay_rule() -> None:
    delivery = Delivery(accepted_at=None)
    assert verdict(delivery.click(1)) == ("human", ())  # neither the delay nor the unopened rule


def test_opens_are_never_judged_by_click_timing() -> None:
    assert verdict(Delivery().open(1)) == ("human", ())


def test_two_links_clicked_within_the_burst_window_are_both_machines() -> None:
    delivery = opened()
    first = delivery.click(LATER, link=0)
    assert verdict(first) == ("human", ())
    second = delivery.click(LATER + POLICY.burst_window, link=1)
    assert verdict(second) == ("machine", ("scanner_timing",))
    assert revised(second) == [(2, "human", "machine", ["scanner_timing"])]
    assert delivery.verdicts()[1:] == [(2, "machine", ["scanner_timing"]), (3, "machine", ["scanner_timing"])]


def test_a_burst_keeps_the_earlier_clicks_machine_reasons() -> None:
    delivery = opened()
    assert verdict(delivery.click(LATER, link=0, ua="curl/8.5.0")) == ("machine", ("http_library",))
    second = delivery.click(LATER + 0.5, link=1, ua="curl/8.5.0")
    assert verdict(second) == ("machine", ("http_library", "scanner_timing"))
    assert revised(second) == [(2, "machine", "machine", ["http_library", "scanner_timing"])]


def test_a_third_link_in_the_burst_does_not_revise_what_is_already_a_burst() -> None:
    delivery = opened()
    delivery.click(LATER, link=0)
    delivery.click(LATER + 0.5, link=1)
    third = delivery.click(LATER + 1.0, link=2)
    assert verdict(third) == ("machine", ("scanner_timing",))
    assert third.revisions == []


def test_the_same_link_twice_is_not_a_burst() -> None:
    delivery = opened()
    assert verdict(delivery.click(LATER, link=0)) == ("human", ())
    double = delivery.click(LATER + 0.3, link=0)  # a double click, same address
    assert verdict(double) == ("human", ()) and double.revisions == []


def test_two_links_further_apart_than_the_burst_window_are_a_person() -> None:
    delivery = opened()
    assert verdict(delivery.click(LATER, link=0)) == ("human", ())
    second = delivery.click(LATER + POLICY.burst_window + 0.1, link=1)
    assert verdict(second) == ("human", ()) and second.revisions == []


def test_clicks_an_hour_apart_judged_out_of_order_are_not_a_burst() -> None:
    delivery = opened()
    assert verdict(delivery.click(LATER + 3600, link=1)) == ("human", ())
    replayed = delivery.click(LATER, link=0)  # happened first, stored later
    assert verdict(replayed) == ("human", ())
    assert replayed.revisions == []


@pytest.mark.parametrize("after", [11.0, 60.0, 119.9])
def test_a_click_with_no_open_soon_after_delivery_is_a_scanner(after: float) -> None:
    assert POLICY.unopened_window == 120.0
    assert verdict(Delivery().click(after)) == ("machine", ("scanner_timing",))


@pytest.mark.parametrize("after", [120.0, 121.0, LATER])
def test_a_click_with_no_open_after_the_unopened_window_is_a_person_with_images_off(after: float) -> None:
    assert verdict(Delivery().click(after)) == ("human", ())


def test_an_open_before_the_click_lifts_the_unopened_rule() -> None:
    delivery = Delivery()
    delivery.open(40)
    assert verdict(delivery.click(50)) == ("human", ())


def test_a_machine_open_does_not_count_as_an_open_for_the_unopened_rule() -> None:
    """An Apple MPP prefetch proves no one read the mail, so a click 50 s after delivery is still a scanner's."""
    delivery = Delivery()
    assert verdict(delivery.open(20, ip="17.58.101.12", ua=BARE)) == ("machine", ("apple_mpp",))
    assert verdict(delivery.click(50)) == ("machine", ("scanner_timing",))


# --- sender -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["open", "click"])
def test_the_senders_own_open_or_click_from_the_submitting_address_is_sender(kind: str) -> None:
    delivery = Delivery(submitted_from=READER_IP)
    delivery.open(LATER - 60, ip=ELSEWHERE_IP)
    judgement = delivery.event(kind, LATER, READER_IP, THUNDERBIRD, "GET", None if kind == "open" else 0)
    assert verdict(judgement) == ("sender", ("sender",))


def test_the_recipient_on_another_address_is_not_the_sender() -> None:
    delivery = Delivery(submitted_from=READER_IP)
    assert verdict(delivery.open(ip=READER_NEIGHBOUR_IP)) == ("human", ())  # same /24 is not the same address


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.1.20", "::1"])
def test_a_private_submitting_address_is_not_sender_evidence(ip: str) -> None:
    assert verdict(Delivery(submitted_from=ip).open(ip=ip)) == ("human", ())


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.1.20"])
def test_a_private_submitting_address_is_trusted_when_the_policy_says_so(ip: str) -> None:
    delivery = Delivery(policy=Policy(trust_private_sender=True), submitted_from=ip)
    assert verdict(delivery.open(ip=ip)) == ("sender", ("sender",))


def test_the_sender_rule_lasts_the_sender_window() -> None:
    window = POLICY.sender_window
    assert verdict(Delivery(submitted_from=READER_IP).open(window, ip=READER_IP)) == ("sender", ("sender",))
    assert verdict(Delivery(submitted_from=READER_IP).open(window + 1, ip=READER_IP)) == ("human", ())


def test_without_a_submitting_address_nobody_is_the_sender() -> None:
    assert verdict(Delivery(submitted_from=None).open(ip=READER_IP)) == ("human", ())


# --- image_proxy ------------------------------------------------------------------------------


def test_an_open_through_gmails_image_proxy_is_proxied() -> None:
    delivery = Delivery()
    judgement = delivery.open(ip="66.249.84.10", ua=GMAIL_PROXY)
    assert verdict(judgement) == ("proxied", ("image_proxy",))
    assert delivery.memory.first_human is None  # a proxy tells us neither the reader's network nor client


def test_a_proxied_open_is_not_a_forward() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    assert verdict(delivery.open(LATER + 60, ip="66.249.84.10", ua=GMAIL_PROXY)) == ("proxied", ("image_proxy",))


# --- suspect_forward --------------------------------------------------------------------------


def test_an_open_on_another_network_in_another_client_is_a_suspect_forward() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    assert verdict(delivery.open(LATER + 600, ip=ELSEWHERE_IP, ua=OUTLOOK)) == ("suspect_forward", ("suspect_forward",))


def test_the_same_client_on_a_new_network_is_the_reader_travelling() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    other_version = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"
    assert verdict(delivery.open(LATER + 600, ip=ELSEWHERE_IP, ua=other_version)) == ("human", ())


def test_another_client_on_the_same_network_is_the_reader_at_another_device() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    assert verdict(delivery.open(LATER + 600, ip=READER_NEIGHBOUR_IP, ua=OUTLOOK)) == ("human", ())


def test_no_suspect_forward_without_a_prior_human_open() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip="17.58.101.12", ua=BARE)  # Apple's prefetch: a machine, not the reader
    assert verdict(delivery.open(LATER + 600, ip=ELSEWHERE_IP, ua=OUTLOOK)) == ("human", ())


def test_suspect_forward_compares_with_the_first_human_open_only() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    delivery.open(LATER + 60, ip=READER_NEIGHBOUR_IP, ua=OUTLOOK)  # the reader's other client: human
    assert delivery.memory.first_human == ["93.184.216.0/24", "Thunderbird"]
    assert verdict(delivery.open(LATER + 600, ip=ELSEWHERE_IP, ua=OUTLOOK)) == ("suspect_forward", ("suspect_forward",))


def test_a_click_is_never_a_suspect_forward() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    assert verdict(delivery.click(LATER + 600, ip=ELSEWHERE_IP, ua=CHROME)) == ("human", ())


# --- paired_click -----------------------------------------------------------------------------


def test_a_click_paired_with_one_from_another_network_reveals_the_earlier_as_a_machine() -> None:
    delivery = opened()
    scan = delivery.click(LATER, link=0, ip=ELSEWHERE_IP, ua=CHROME)
    assert verdict(scan) == ("human", ())  # on its own, it looks like a person
    person = delivery.click(LATER + POLICY.paired_window, link=0, ip=READER_IP, ua=CHROME)
    assert verdict(person) == ("human", ())
    assert revised(person) == [(2, "human", "machine", ["paired_click"])]
    assert delivery.verdicts()[1:] == [(2, "machine", ["paired_click"]), (3, "human", [])]


def test_clicks_further_apart_than_the_paired_window_are_two_people() -> None:
    delivery = opened()
    delivery.click(LATER, link=0, ip=ELSEWHERE_IP, ua=CHROME)
    later = delivery.click(LATER + POLICY.paired_window + 0.1, link=0, ip=READER_IP, ua=CHROME)
    assert verdict(later) == ("human", ()) and later.revisions == []


def test_a_repeat_click_on_the_same_network_is_not_a_pair() -> None:
    delivery = opened()
    delivery.click(LATER, link=0, ip=READER_NEIGHBOUR_IP, ua=CHROME)
    again = delivery.click(LATER + 2, link=0, ip=READER_IP, ua=CHROME)
    assert verdict(again) == ("human", ()) and again.revisions == []


def test_clicks_on_different_links_from_two_networks_are_not_a_pair() -> None:
    delivery = opened()
    delivery.click(LATER, link=0, ip=ELSEWHERE_IP, ua=CHROME)
    other = delivery.click(LATER + 5, link=1, ip=READER_IP, ua=CHROME)
    assert verdict(other) == ("human", ()) and other.revisions == []


def test_a_machine_second_click_does_not_pair() -> None:
    delivery = opened()
    delivery.click(LATER, link=0, ip=READER_IP, ua=CHROME)
    scanner = delivery.click(LATER + 3, link=0, ip="40.107.22.91", ua=CHROME)
    assert verdict(scanner) == ("machine", ("known_scanner_net",)) and scanner.revisions == []
    assert delivery.verdicts()[1] == (2, "human", [])


# --- precedence -------------------------------------------------------------------------------


def test_a_machine_reason_wins_over_sender() -> None:
    delivery = Delivery(submitted_from=READER_IP)
    assert verdict(delivery.open(ip=READER_IP, method="HEAD")) == ("machine", ("head_request",))
    assert verdict(delivery.click(ip=READER_IP, ua="python-requests/2.31.0")) == ("machine", ("http_library",))


def test_sender_wins_over_image_proxy() -> None:
    delivery = Delivery(submitted_from=READER_IP)
    assert verdict(delivery.open(ip=READER_IP, ua=GMAIL_PROXY)) == ("sender", ("sender",))


def test_image_proxy_wins_over_suspect_forward() -> None:
    delivery = Delivery()
    delivery.open(LATER, ip=READER_IP, ua=THUNDERBIRD)
    assert verdict(delivery.open(LATER + 60, ip=ELSEWHERE_IP, ua=GMAIL_PROXY)) == ("proxied", ("image_proxy",))


def test_a_sender_click_does_not_pair() -> None:
    delivery = Delivery(submitted_from=READER_IP)
    delivery.open(60, ip=ELSEWHERE_IP)
    delivery.click(LATER, link=0, ip=ELSEWHERE_IP)
    own = delivery.click(LATER + 2, link=0, ip=READER_IP)
    assert verdict(own) == ("sender", ("sender",)) and own.revisions == []


# --- Memory -----------------------------------------------------------------------------------


def _busy_memory() -> Memory:
    delivery = Delivery(submitted_from=READER_IP)
    delivery.open(30, ip=READER_IP)                                   # sender
    delivery.open(LATER, ip=ELSEWHERE_IP, ua=THUNDERBIRD)             # human, first_human
    delivery.click(LATER + 5, link=0, ip=ELSEWHERE_IP)                # human
    delivery.click(LATER + 6, link=1, ip=ELSEWHERE_IP)                # burst: revises the previous one
    delivery.click(LATER + 50, link=HONEYPOT_LINK, ip=CRAWLER_IP)      # trapped
    assert delivery.memory.trapped and delivery.memory.first_human
    return delivery.memory


def test_memory_round_trips_through_json() -> None:
    memory = _busy_memory()
    data = memory.to_json()
    text = json.dumps(data)  # the store keeps it as JSON
    again = Memory.from_json(json.loads(text))
    assert again == memory
    assert again.to_json() == data
    assert all(isinstance(seen, Seen) for seen in again.seen)


def test_an_empty_memory_round_trips() -> None:
    assert Memory.from_json(json.loads(json.dumps(Memory().to_json()))) == Memory()
    assert Memory.from_json({}) == Memory()


def test_a_restored_memory_judges_like_the_original() -> None:
    original = Delivery()
    original.open(LATER, ip=READER_IP)
    original.click(LATER + 100, link=0, ip=ELSEWHERE_IP)
    restored = Delivery(memory=Memory.from_json(json.loads(json.dumps(original.memory.to_json()))))
    for delivery in (original, restored):
        delivery._ids = itertools.count(3)
        judgement = delivery.click(LATER + 105, link=0, ip=READER_IP)
        assert verdict(judgement) == ("human", ())
        assert revised(judgement) == [(2, "human", "machine", ["paired_click"])]
    assert restored.memory == original.memory


def test_memory_keeps_only_the_latest_remembered_events() -> None:
    delivery = Delivery()
    for n in range(REMEMBERED + 10):
        delivery.open(LATER + n * 60)
    assert len(delivery.memory.seen) == REMEMBERED
    assert [seen.id for seen in delivery.memory.seen] == list(range(11, REMEMBERED + 11))
    assert len(json.loads(json.dumps(delivery.memory.to_json()))["seen"]) == REMEMBERED


def test_a_revision_updates_the_remembered_event_itself() -> None:
    delivery = opened()
    delivery.click(LATER, link=0)
    burst = delivery.click(LATER + 1, link=1)
    (revision,) = burst.revisions
    assert isinstance(revision, Revision)
    assert revision.seen is delivery.memory.seen[1]
    assert revision.old_cls == "human"
    assert delivery.memory.to_json()["seen"][1]["cls"] == "machine"
