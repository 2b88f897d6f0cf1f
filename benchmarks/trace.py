"""A labelled trace of opens and clicks for `bench_classify.py`: who really made each request.

Every event carries its true actor (a person, the sender, or which machine) and
a short scenario, so the benchmark can say which behaviour a rule misses. The
model, its sources and its guesses are described in `bench_classify.py`'s
docstring; the numbers are the module constants below, each a stated
assumption, and nothing here looks at what the classifier decides.

User-Agent strings are the rows of the shared corpus (read in place, chosen by
their `expected_class`); IP addresses are drawn per actor from the networks
that actor really uses (Apple's 17.0.0.0/8 and Private Relay egress, the
gateways' published ranges, cloud ranges, residential and mobile ranges).
"""

from __future__ import annotations

import csv
import ipaddress
import math
import os
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailbeacon.classify import HONEYPOT_LINK, Networks

ROOT = Path(__file__).resolve().parents[1]

# --- who the recipients are -------------------------------------------------------------------

PROVIDERS = {  # mailbox behind each recipient address (a B2B-leaning mix of an organisation's outbound mail)
    "m365": 0.22,  # Microsoft 365 tenant; Defender (Safe Links) scans in SCANNED share of them
    "gateway": 0.10,  # corporate domain behind Proofpoint, Mimecast or Barracuda
    "gmail": 0.24,  # Gmail and Google Workspace
    "other_isp": 0.20,  # ISP mail, small hosts, own servers
    "icloud": 0.08,
    "outlook_com": 0.08,  # Outlook.com / Hotmail consumers
    "yahoo": 0.07,
    "fastmail": 0.01,
}
SCANNED = {"m365": 0.50, "gateway": 0.80}
"""Share of copies to such mailboxes whose gateway fetches the links (and maybe the pixel) on delivery:
not every tenant has Safe Links or a detonating policy, and not every message is detonated."""
GATEWAYS = {"proofpoint": 0.40, "mimecast": 0.35, "barracuda": 0.25}
LISTED = {"microsoft": 0.40, "proofpoint": 0.50, "mimecast": 0.50, "barracuda": 0.60}
"""Share of a gateway's fetches from its published mail ranges (the shipped list); the rest come from cloud
address space (Azure, AWS, GCP) not in any list. A guess: the list documents mail-handling ranges, and URL
detonation is widely reported from general cloud addresses."""
READERS = {  # which client reads the mail, per provider
    "m365": {"outlook": 0.60, "outlook_mobile": 0.10, "mpp": 0.20, "webmail": 0.10},
    "gateway": {"outlook": 0.60, "outlook_mobile": 0.10, "mpp": 0.20, "webmail": 0.05, "desktop_other": 0.05},
    "gmail": {"gmail_proxy": 0.88, "mpp": 0.10, "android_webview": 0.02},
    "other_isp": {"mpp": 0.35, "desktop_other": 0.25, "outlook": 0.20, "android_webview": 0.10, "apple_plain": 0.10},
    "icloud": {"mpp": 0.85, "apple_plain": 0.15},
    "outlook_com": {"outlook_mobile": 0.30, "webmail": 0.40, "mpp": 0.30},
    "yahoo": {"yahoo_proxy": 0.80, "yahoo_app": 0.10, "mpp": 0.10},
    "fastmail": {"fastmail_proxy": 1.0},
}
IMAGES_BLOCKED = {"outlook": 0.40}
"""Outlook desktop blocks external images by default in many organisations; elsewhere DEFAULT_BLOCKED."""
DEFAULT_BLOCKED = 0.08

# --- how people behave ------------------------------------------------------------------------

CAMPAIGNS = 0.02
"""Share of messages that are campaigns: with ~85 copies each, about half the deliveries."""
READ_RATE = {"campaign": 0.30, "direct": 0.70}
CLICK_RATE = {"campaign": 0.12, "direct": 0.25}
"""Share of readers who click at least one link (if the message has any)."""
AT_DESK = {"campaign": 0.10, "direct": 0.30}
"""Readers who see the mail as it arrives (exponential, mean AT_DESK_MEAN s); the rest read hours later.
For direct mail, Kooti et al. (WWW 2015, Yahoo Mail) found the most likely reply time to be about 2 minutes."""
AT_DESK_MEAN = {"campaign": 600.0, "direct": 300.0}
PUSH = 0.7
"""Clients told of new mail at once (IMAP IDLE, Exchange push: 1-5 s); the others poll every few minutes."""
NOTICE = (2.0, 6.0)
"""Seconds, uniform, at the least between a notification and the message being open on screen."""
LATER_MEDIAN, LATER_SIGMA = 3 * 3600.0, 1.5
CLICK_AFTER_READ = (25.0, 1.0)
"""Lognormal (median s, sigma) from opening to the first click."""
SECOND_CLICK = 0.30
SECOND_CLICK_GAP = (45.0, 1.2)
DOUBLE_CLICK = 0.05
"""A click on the same link again within a second (a double-click opening the browser twice)."""
REVIEW_RATE = 0.5
"""Per reading session, chance of each further pixel load from the same client (preview pane reselect, scroll back)."""
REVIEW_GAP = (40.0, 1.5)
OTHER_DEVICE = 0.15
"""Readers who open it again later on another device (usually the phone on a mobile network)."""
FORWARD = 0.03
"""Readers who forward it; the forwardee opens it from their own network and client."""
PROXY_REPEAT = 0.3
"""A repeat open through Gmail's/Yahoo's proxy reaches us only sometimes (the proxy caches)."""

# --- senders --------------------------------------------------------------------------------------

SENDER_COPY = 0.10
"""Direct mail with the sender among the recipients (Bcc to self, a team alias they are on)."""
COLLEAGUE_COPY = 0.05
"""Direct mail also copied to a colleague who reads it in the same office (behind the sender's public IP)."""
PRIVATE_SUBMITTER = 0.15
"""Relays reached over the LAN: the message's submitted_from is a private address."""
SENDER_AT_OFFICE = 0.75

# --- machines ---------------------------------------------------------------------------------------

HOP = (2.0, 0.9)
"""Lognormal (median s, sigma) from the upstream accepting the copy to the recipient's MX having it."""
QUEUED, QUEUED_DELAY = 0.05, (60.0, 900.0)
"""Copies held on the way (smarthost queue, greylisting, throttling): uniform extra delay."""
SCAN_LATENCY = (3.0, 1.0)
"""Gateway's time from receiving the message to fetching its URLs."""
SANDBOX, SANDBOX_DELAY = 0.12, (30.0, 900.0)
"""Scans that wait for a detonation queue or dynamic delivery."""
SCAN_OPENS = 0.40
"""Scans that render the HTML, loading the pixel too."""
PARALLEL_WALK = 0.5
"""Scans fetching all links at once; the others walk them one by one (gap lognormal LINK_GAP)."""
LINK_GAP = (1.0, 0.8)
PER_LINK_IP = 0.4
"""Scans spreading their fetches over several addresses."""
HEAD_FIRST = 0.08
HONEYPOT_FOLLOWED = 0.6
"""Link-walking scans that also fetch a display:none link (HTML parsers do; clicking renderers do not)."""
CLICK_CHECK = 0.35
"""Human clicks behind a URL-rewriting gateway that the gateway checks first, a second or two before."""
CHECK_LEAD = (1.2, 0.7)
RECHECK_ON_OPEN = 0.10
"""Gateway re-checks of a message's links when the reader opens it (reported by senders, not documented)."""
GMAIL_PREFETCH = 0.12
BING_PRECLICK = 0.25
"""Outlook.com mailboxes whose links BingPreview visits within minutes (phpList#415)."""
YAHOO_PROXY_SCAN = 0.15
"""Yahoo's proxy loading the pixel on delivery with no one reading (crawler-user-agents: it scans and renders)."""
SOC_ANALYSIS = 0.01
"""Delivered copies a user reports, or a SOC tool submits, to VirusTotal/urlscan-like analysers."""
LINK_SHARED = 0.015
"""Deliveries whose link or pixel URL ends up in a chat or social app (an unfurl) at some later time."""
SCRIPTED = 0.01
"""Deliveries fetched by a script or tool (CRM import, ticket system, archiver, link checker) at some later time."""
HOVER_PREVIEW = 0.05
"""Apple Mail (macOS) readers whose link preview fetches a link with Safari's UA from their own address (gophish#499)."""
MPP_COPIES = {1: 0.80, 2: 0.15, 3: 0.05}
"""Prefetches per MPP recipient (one per Apple device syncing the mailbox)."""
MPP_DELAY = (300.0, 1.5)
MPP_OTHER_EGRESS = 0.20
"""MPP fetches leaving through Private Relay egress outside 17.0.0.0/8 (Akamai, Cloudflare): same bare UA."""

LATEST = 4 * 86400.0
"""Nothing is modelled later than this after a message was accepted."""

MACHINE_ACTORS = frozenset({
    "apple_mpp", "gmail_prefetch", "gateway_scan", "click_check", "recheck_on_open", "named_scanner",
    "link_preview", "scripted", "hover_preview", "proxy_scan",
})
PERSON_ACTORS = ("human", "proxied", "forward", "colleague", "sender")


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: str
    key: bytes
    link: int | None
    ip: str
    ua: str
    method: str
    actor: str
    detail: str
    """The scenario: which behaviour of the actor produced the event."""

    @property
    def machine(self) -> bool:
        return self.actor in MACHINE_ACTORS


@dataclass(slots=True)
class Delivery:
    key: bytes
    recipient: str
    accepted_at: float
    links: list[int]
    honeypot: bool
    provider: str = ""
    reader: str = ""
    role: str = "recipient"  # or "sender", "colleague"


@dataclass(slots=True)
class Message:
    kind: str  # "campaign" or "direct"
    sender: str
    submitted_from: str
    office_ip: str
    """Where the sender (and colleagues) read mail: the office's public address."""
    links: list[tuple[int, str]]
    deliveries: list[Delivery] = field(default_factory=list)


@dataclass(slots=True)
class Trace:
    messages: list[Message]
    events: list[Event]
    """In time order: the order the log receives them."""
    corpus: Path


# --- User-Agents from the corpus ------------------------------------------------------------------


def corpus_dir() -> Path:
    return Path(os.environ.get("MAILBEACON_CORPUS", ROOT.parent / "shared" / "corpus"))


@dataclass(frozen=True, slots=True)
class Row:
    ua: str
    cls: str
    automated: str
    event: str


def load_user_agents(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        col = {name: header.index(name) for name in ("user_agent", "expected_class", "automated", "typical_event")}
        return [
            Row(r[col["user_agent"]], r[col["expected_class"]], r[col["automated"]], r[col["typical_event"]])
            for r in reader if len(r) >= len(header)
        ]


class Agents:
    """The corpus's UAs grouped for the actors that send them."""

    def __init__(self, rows: list[Row]) -> None:
        by: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by[row.cls].append(row)
        self.rows = rows

        def uas(cls: str, *, where: str | None = None, unless: str | None = None) -> list[str]:
            found = [r.ua for r in by[cls] if (where is None or re.search(where, r.ua))
                     and (unless is None or not re.search(unless, r.ua))]
            if not found:
                raise SystemExit(f"corpus: no {cls!r} user agent{' matching ' + where if where else ''}")
            return found

        self.mpp = uas("apple-mpp-proxy")
        self.gmail_proxy = uas("gmail-image-proxy")
        self.gmail_prefetch = uas("gmail-prefetch")
        self.yahoo_proxy = uas("yahoo-proxy")
        self.fastmail_proxy = uas("fastmail-proxy")
        self.yahoo_app = uas("yahoo-mail-app")
        self.outlook = uas("outlook-desktop", unless=r"^Mozilla/4\.0 \(compatible; ms-office; MSOffice 16\)$")
        self.msoffice_bare = uas("outlook-desktop", where=r"^Mozilla/4\.0 \(compatible; ms-office; MSOffice 16\)$")
        self.outlook_mac = uas("outlook-mac")
        self.outlook_mobile = uas("outlook-mobile")
        self.apple_mail = uas("apple-mail")
        self.iphone_mail = uas("iphone-mail")
        self.desktop_other = uas("thunderbird") + uas("other-mail-client") + uas("windows-live-mail")
        self.android_webview = uas("android-webview")
        self.windows_browser = uas("browser", where=r"Windows NT")
        self.mac_browser = uas("browser", where=r"Macintosh")
        self.mac_safari = uas("browser", where=r"Macintosh.*Version/[\d.]+ Safari/")
        self.android_browser = uas("browser", where=r"Android") + self.android_webview
        self.desktop_browser = self.windows_browser + self.mac_browser
        self.bing = uas("security-scanner", where=r"BingPreview")
        self.analysers = uas("security-scanner", unless=r"BingPreview")
        self.previews = [r for r in by["link-preview"]]
        self.scripted = [r for cls in ("http-library", "generic-bot") for r in by[cls]]
        self.headless = uas("headless-browser")
        self.empty = [r.ua for r in by["unknown"] if not r.ua.strip()] or [""]

    def used(self) -> int:
        return len(self.rows)


# --- addresses ------------------------------------------------------------------------------------

_RESIDENTIAL = [24, 31, 37, 46, 47, 50, 62, 68, 69, 71, 72, 73, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86,
                87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 99, 108, 109, 173, 174, 176, 178, 184, 185, 188, 189,
                190, 201, 212, 213, 217]
_MOBILE = [37, 46, 80, 92, 100, 107, 166, 172, 174, 176, 188, 208]  # carriers' CGNAT egress pools
_V6 = ["2a01", "2a02", "2600", "2601", "2a00", "2003"]
_CLOUD = {  # address space of Azure, AWS and GCP outside the shipped scanner list
    "azure": ["20.0.0.0/11", "20.64.0.0/10", "13.64.0.0/11", "40.74.0.0/15", "52.136.0.0/13", "51.104.0.0/15"],
    "aws": ["3.0.0.0/9", "18.128.0.0/9", "34.192.0.0/10", "54.144.0.0/12", "52.0.0.0/11"],
    "gcp": ["34.64.0.0/10", "35.184.0.0/13", "104.196.0.0/14"],
}
_GOOGLE = ["66.249.80.0/20", "66.102.0.0/20", "74.125.0.0/16"]
_YAHOO = ["98.137.0.0/16", "74.6.0.0/16", "106.10.0.0/16"]
_FASTMAIL = ["66.111.4.0/24", "103.168.172.0/22"]
_APPLE = ["17.0.0.0/8"]
_PRIVATE_RELAY = ["104.28.0.0/16", "172.224.0.0/12"]  # Cloudflare and Akamai egress of iCloud Private Relay
_SOCIAL = ["31.13.24.0/21", "69.171.224.0/19", "66.220.144.0/20", "173.252.64.0/18"]  # Meta's crawlers


def _gateway_ranges() -> dict[str, list[str]]:
    """The shipped scanner list, grouped by the comment heading each block."""
    groups: dict[str, list[str]] = defaultdict(list)
    heading = ""
    for line in Networks.shipped_text("scanner_networks.txt").splitlines():
        if line.startswith("#"):
            heading = line.lower()
            continue
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        for name in ("microsoft", "mimecast", "proofpoint", "barracuda"):
            if name in heading:
                groups[name].append(entry)
    return groups


class Addresses:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.apple = Networks.shipped("apple_mpp_ranges.txt")
        self.scanners = Networks.shipped("scanner_networks.txt")
        self.listed = _gateway_ranges()
        missing = {"microsoft", "mimecast", "proofpoint", "barracuda"} - set(self.listed)
        if missing:
            raise SystemExit(f"scanner_networks.txt: no block for {', '.join(sorted(missing))}")

    def _in(self, cidrs: list[str]) -> str:
        net = ipaddress.ip_network(self.rng.choice(cidrs))
        host = self.rng.randrange(1, net.num_addresses - 1) if net.num_addresses > 2 else 0
        return str(net.network_address + host)

    def _clean(self, make: Callable[[], str]) -> str:
        """A public address in none of the classifier's lists (a person's, or an unlisted machine's)."""
        for _ in range(100):
            ip = make()
            parsed = ipaddress.ip_address(ip)
            if parsed.is_global and ip not in self.apple and ip not in self.scanners:
                return ip
        raise RuntimeError("no clean address found")

    def residential(self) -> str:
        if self.rng.random() < 0.25:
            prefix = self.rng.choice(_V6)
            groups = [prefix] + [f"{self.rng.randrange(0x10000):x}" for _ in range(3)]
            return ":".join(groups) + f"::{self.rng.randrange(1, 0xFFFF):x}"
        return self._clean(lambda: f"{self.rng.choice(_RESIDENTIAL)}.{self.rng.randrange(256)}."
                                   f"{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}")

    def mobile(self) -> str:
        if self.rng.random() < 0.4:  # most mobile networks hand out IPv6 now
            return f"2600:{self.rng.randrange(0x10000):x}:{self.rng.randrange(0x10000):x}:" \
                   f"{self.rng.randrange(0x10000):x}::{self.rng.randrange(1, 0xFFFF):x}"
        return self._clean(lambda: f"{self.rng.choice(_MOBILE)}.{self.rng.randrange(256)}."
                                   f"{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}")

    def office(self) -> str:
        return self._clean(lambda: f"{self.rng.choice(_RESIDENTIAL)}.{self.rng.randrange(256)}."
                                   f"{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}")

    def cloud(self, which: str | None = None) -> str:
        pool = _CLOUD[which] if which else [c for cs in _CLOUD.values() for c in cs]
        return self._clean(lambda: self._in(pool))

    def gateway(self, name: str, listed: bool) -> str:
        if listed:
            ip = self._in(self.listed[name])
            assert ip in self.scanners, ip
            return ip
        return self.cloud("azure" if name == "microsoft" else self.rng.choice(["aws", "azure", "gcp"]))

    def google(self) -> str:
        return self._in(_GOOGLE)

    def yahoo(self) -> str:
        return self._in(_YAHOO)

    def fastmail(self) -> str:
        return self._in(_FASTMAIL)

    def mpp(self) -> str:
        if self.rng.random() < MPP_OTHER_EGRESS:
            return self._in(_PRIVATE_RELAY)
        return self._in(_APPLE)

    def social(self) -> str:
        return self._in(_SOCIAL)


# --- the generator --------------------------------------------------------------------------------


class Generator:
    def __init__(self, seed: int, honeypot_share: float, corpus: Path) -> None:
        self.rng = random.Random(seed)
        self.agents = Agents(load_user_agents(corpus / "user-agents" / "user-agents.tsv"))
        self.addr = Addresses(self.rng)
        self.honeypot_share = honeypot_share
        self.corpus = corpus
        self.events: list[Event] = []

    # helpers
    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def logn(self, median_sigma: tuple[float, float]) -> float:
        median, sigma = median_sigma
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def emit(self, d: Delivery, at: float, kind: str, ip: str, ua: str, actor: str, detail: str,
             link: int | None = None, method: str = "GET") -> None:
        if at - d.accepted_at > LATEST:
            return
        self.events.append(Event(at, kind, d.key, link if kind == "click" else None, ip, ua, method, actor, detail))

    def arrival(self, d: Delivery) -> float:
        """When the recipient's mail system has the copy."""
        delay = self.logn(HOP)
        if self.rng.random() < QUEUED:
            delay += self.rng.uniform(*QUEUED_DELAY)
        return d.accepted_at + delay

    # the trace
    def build(self, deliveries: int, start: float) -> Trace:
        messages: list[Message] = []
        count = 0
        clock = start
        while count < deliveries:
            message = self.message(clock, deliveries - count)
            messages.append(message)
            count += len(message.deliveries)
            clock += self.rng.expovariate(1 / 60.0)  # a message a minute on average, over about a day or more
        for message in messages:
            for d in message.deliveries:
                self.delivery(message, d)
        self.events.sort(key=lambda e: e.at)
        return Trace(messages, self.events, self.corpus)

    def message(self, at: float, room: int) -> Message:
        rng = self.rng
        campaign = rng.random() < CAMPAIGNS
        kind = "campaign" if campaign else "direct"
        office = self.addr.office()
        if campaign:
            submitted = self.addr.cloud()  # an application or marketing server
            n_links = rng.randint(4, 12)
            recipients = min(room, rng.randint(20, 150))
        else:
            submitted = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" \
                if rng.random() < PRIVATE_SUBMITTER else office
            n_links = rng.choices([0, 1, 2, 3, 4, 5], [0.25, 0.25, 0.20, 0.15, 0.10, 0.05])[0]
            recipients = min(room, rng.choices([1, 2, 3, 4], [0.70, 0.15, 0.10, 0.05])[0])
        honeypot = n_links > 0 and rng.random() < self.honeypot_share
        links = [(i, f"https://example.com/{kind}/{i}") for i in range(n_links)]
        if honeypot:
            links.append((HONEYPOT_LINK, "https://honeypot.invalid/"))
        message = Message(kind, f"s{rng.randrange(10**6)}@sender.example", submitted, office, links)
        # a campaign goes out one copy after another: the relay's worker hands them over in turn
        accepted = at
        roles = ["recipient"] * recipients
        if not campaign and recipients < room:
            if rng.random() < SENDER_COPY:
                roles.append("sender")
            if rng.random() < COLLEAGUE_COPY and len(roles) < room:
                roles.append("colleague")
        elif campaign and rng.random() < 0.3:
            roles[0] = "sender"  # the sender is on their own list
        for n, role in enumerate(roles):
            key = rng.randbytes(12)
            if role == "sender":
                provider = rng.choice(["m365", "m365", "gateway", "gmail"])
            elif role == "colleague":
                provider = "m365" if message.deliveries and rng.random() < 0.5 else self.pick(PROVIDERS)
            else:
                provider = self.pick(PROVIDERS)
            reader = self.pick(READERS[provider])
            message.deliveries.append(Delivery(
                key, f"r{n}@{provider}.example", accepted, [i for i, _ in links if i != HONEYPOT_LINK], honeypot,
                provider, reader, role,
            ))
            accepted += rng.uniform(0.05, 0.4) if campaign else 0.0
        return message

    def delivery(self, message: Message, d: Delivery) -> None:
        arrived = self.arrival(d)
        gateway: str | None = None
        if d.provider in SCANNED and self.rng.random() < SCANNED[d.provider]:
            gateway = "microsoft" if d.provider == "m365" else self.pick(GATEWAYS)
            scanned = arrived + self.scan_latency()
            self.gateway_scan(d, scanned, gateway, "on delivery")
            arrived = scanned + self.rng.uniform(0.5, 3.0)  # the gateway delivers to the mailbox once it has looked
        if d.provider == "gmail" and self.rng.random() < GMAIL_PREFETCH:
            self.emit(d, arrived + self.rng.uniform(1.0, 15.0), "open", self.addr.google(),
                      self.rng.choice(self.agents.gmail_prefetch), "gmail_prefetch", "prefetch on delivery")
        if d.provider == "outlook_com" and d.links and self.rng.random() < BING_PRECLICK:
            self.named_scan(d, arrived + self.logn((120.0, 1.0)), self.agents.bing, "BingPreview pre-click")
        if d.reader == "yahoo_proxy" and self.rng.random() < YAHOO_PROXY_SCAN:
            self.emit(d, arrived + self.logn((8.0, 1.0)), "open", self.addr.yahoo(),
                      self.rng.choice(self.agents.yahoo_proxy), "proxy_scan", "Yahoo proxy fetch on delivery")
        if d.reader == "mpp":
            self.mpp(d, arrived)
        if gateway is not None and self.rng.random() < SOC_ANALYSIS and d.links:
            self.named_scan(d, arrived + self.logn((3600.0, 1.5)), self.agents.analysers, "URL analyser (report)")
        if self.rng.random() < LINK_SHARED:
            self.link_preview(d, arrived + self.logn((6 * 3600.0, 1.5)))
        if self.rng.random() < SCRIPTED:
            self.scripted(d, arrived + self.rng.uniform(0, 3 * 86400.0))
        self.person(message, d, arrived, gateway)

    def scan_latency(self) -> float:
        delay = self.logn(SCAN_LATENCY)
        if self.rng.random() < SANDBOX:
            delay += self.rng.uniform(*SANDBOX_DELAY)
        return delay

    # machines
    def gateway_ua(self, gateway: str) -> tuple[str, str]:
        a, rng = self.agents, self.rng
        weights = {
            "microsoft": {"browser": 0.50, "empty": 0.25, "msoffice": 0.20, "headless": 0.05},
            "proofpoint": {"browser": 0.70, "headless": 0.20, "empty": 0.10},
            "mimecast": {"browser": 0.80, "empty": 0.20},
            "barracuda": {"browser": 0.60, "headless": 0.20, "empty": 0.20},
        }[gateway]
        kind = self.pick(weights)
        pool = {"browser": a.desktop_browser, "empty": a.empty, "msoffice": a.msoffice_bare, "headless": a.headless}
        return kind, rng.choice(pool[kind])

    def gateway_scan(self, d: Delivery, at: float, gateway: str, why: str, *, links: list[int] | None = None,
                     actor: str = "gateway_scan", pixel: bool | None = None) -> None:
        rng = self.rng
        listed = rng.random() < LISTED[gateway]
        ua_kind, ua = self.gateway_ua(gateway)
        ip = self.addr.gateway(gateway, listed)
        per_link_ip = rng.random() < PER_LINK_IP
        head = rng.random() < HEAD_FIRST
        where = "listed net" if listed else "unlisted net"
        targets = list(d.links if links is None else links)
        if links is None and d.honeypot and rng.random() < HONEYPOT_FOLLOWED:
            targets.append(HONEYPOT_LINK)
        late = " late" if at - d.accepted_at >= 120 else (" >10s" if at - d.accepted_at >= 10 else "")
        base = f"{gateway} {why}{late}, {where}, {ua_kind} UA"
        if pixel if pixel is not None else rng.random() < SCAN_OPENS:
            self.emit(d, at, "open", ip, ua, actor, f"{base}: pixel")
            at += rng.uniform(0.1, 1.5)
        parallel = rng.random() < PARALLEL_WALK
        t = at
        single = " (only link)" if len(targets) == 1 else ""
        for link in targets:
            t = at + rng.uniform(0.0, 0.8) if parallel else t + (self.logn(LINK_GAP) if link != targets[0] else 0.0)
            where_ip = self.addr.gateway(gateway, listed) if per_link_ip else ip
            what = "honeypot" if link == HONEYPOT_LINK else f"link{single}"
            if head:
                self.emit(d, t, "click", where_ip, ua, actor, f"{base}: HEAD {what}", link, "HEAD")
                t += rng.uniform(0.05, 0.3)
            self.emit(d, t, "click", where_ip, ua, actor, f"{base}: {what}", link)

    def named_scan(self, d: Delivery, at: float, uas: list[str], why: str) -> None:
        ua = self.rng.choice(uas)
        ip = self.addr.cloud()
        t = at
        for link in d.links:
            self.emit(d, t, "click", ip, ua, "named_scanner", why, link)
            t += self.logn((0.8, 1.0))

    def mpp(self, d: Delivery, arrived: float) -> None:
        copies = int(self.pick({str(k): v for k, v in MPP_COPIES.items()}))
        for _ in range(copies):
            self.emit(d, arrived + self.logn(MPP_DELAY), "open", self.addr.mpp(), self.rng.choice(self.agents.mpp),
                      "apple_mpp", "prefetch")

    def link_preview(self, d: Delivery, at: float) -> None:
        row = self.rng.choice(self.agents.previews)
        kind = "open" if row.event == "open" or not d.links else "click"
        ip = self.addr.social() if re.search(r"facebook|Facebot", row.ua) else self.addr.cloud()
        link = self.rng.choice(d.links) if kind == "click" else None
        for n in range(self.rng.choice([1, 1, 2, 3])):  # an unfurl often fetches twice or more
            self.emit(d, at + n * self.rng.uniform(0.2, 30.0), kind, ip, row.ua, "link_preview",
                      f"unfurl ({row.ua.split('/')[0][:24]})", link)

    def scripted(self, d: Delivery, at: float) -> None:
        row = self.rng.choice(self.agents.scripted)
        kind = "open" if row.event == "open" or not d.links or self.rng.random() < 0.5 else "click"
        ip = self.addr.cloud() if self.rng.random() < 0.7 else self.addr.residential()
        for link in (d.links if kind == "click" else [None]):
            self.emit(d, at, kind, ip, row.ua, "scripted", f"{row.cls} {kind}", link)
            at += self.logn((0.5, 1.0))

    # people
    def person(self, message: Message, d: Delivery, arrived: float, gateway: str | None) -> None:
        rng = self.rng
        if rng.random() >= READ_RATE[message.kind] and d.role == "recipient":
            return
        actor = {"recipient": "human", "sender": "sender", "colleague": "colleague"}[d.role]
        if d.reader in ("gmail_proxy", "yahoo_proxy", "fastmail_proxy") and actor == "human":
            actor_open = "proxied"
        else:
            actor_open = actor
        if d.role == "sender":
            read_at = d.accepted_at + rng.uniform(5.0, 1800.0)  # checking how it looks, soon after sending
        elif rng.random() < AT_DESK[message.kind]:
            synced = rng.uniform(1.0, 5.0) if rng.random() < PUSH else rng.uniform(0.0, 300.0)
            read_at = arrived + synced + rng.uniform(*NOTICE) + rng.expovariate(1 / AT_DESK_MEAN[message.kind])
        else:
            read_at = arrived + self.logn((LATER_MEDIAN, LATER_SIGMA))
        at_office = d.role == "colleague" or (d.role == "sender" and rng.random() < SENDER_AT_OFFICE)
        device, ip = self.device(d.reader, message.office_ip if at_office else None)
        open_ua = self.open_ua(d.reader, device)
        blocked = rng.random() < IMAGES_BLOCKED.get(d.reader, DEFAULT_BLOCKED)
        if d.reader == "mpp":
            blocked = True  # the person's own loads never reach us: the prefetch's copy is shown
        if not blocked:
            self.reading_session(d, read_at, d.reader, open_ua, ip, actor_open, "reads")
        if gateway is not None and d.links and rng.random() < RECHECK_ON_OPEN:
            self.gateway_scan(d, read_at + rng.uniform(0.0, 5.0), gateway, "re-check on open", actor="recheck_on_open",
                              links=d.links, pixel=False)
        clicks = d.links and rng.random() < (CLICK_RATE[message.kind] if d.role != "sender" else 0.2)
        if clicks:
            self.clicks(d, read_at, device, ip, actor, gateway, blocked)
        if d.reader == "apple_plain" and device == "mac" and d.links and rng.random() < HOVER_PREVIEW:
            t = read_at + self.logn((15.0, 1.0))
            self.emit(d, t, "click", ip, rng.choice(self.agents.mac_safari), "hover_preview",
                      "Apple Mail link preview", rng.choice(d.links))
        if rng.random() < OTHER_DEVICE:
            later = read_at + self.logn((4 * 3600.0, 1.2))
            if d.reader in ("gmail_proxy", "yahoo_proxy", "fastmail_proxy"):
                self.reading_session(d, later, d.reader, self.open_ua(d.reader, "phone"), "", actor_open,
                                     "reads again on the phone")
            elif d.reader != "mpp":
                phone = rng.choice(["iphone", "android"])
                ua = rng.choice(self.agents.iphone_mail + self.agents.outlook_mobile) if phone == "iphone" \
                    else rng.choice(self.agents.android_webview + self.agents.outlook_mobile)
                self.reading_session(d, later, "phone", ua, self.addr.mobile(), actor,
                                     "reads again on another device")
        if actor == "human" and rng.random() < FORWARD:
            self.forwardee(d, read_at + self.logn((600.0, 1.5)))

    def device(self, reader: str, office_ip: str | None) -> tuple[str, str]:
        rng = self.rng
        device = {
            "outlook": "windows", "desktop_other": rng.choice(["windows", "linux", "mac"]),
            "outlook_mobile": "iphone", "android_webview": "android", "yahoo_app": "android",
            "apple_plain": rng.choice(["mac", "iphone"]), "mpp": rng.choice(["iphone", "iphone", "mac"]),
            "webmail": rng.choice(["windows", "mac"]),
            "gmail_proxy": rng.choice(["windows", "mac", "android", "iphone"]),
            "yahoo_proxy": rng.choice(["windows", "android", "iphone"]), "fastmail_proxy": rng.choice(["mac", "iphone"]),
        }[reader]
        if office_ip is not None:  # at the desk: the computer, not the phone
            return ("mac" if reader == "mpp" else "windows" if device in ("iphone", "android") else device), office_ip
        if device in ("iphone", "android") and rng.random() < 0.5:
            return device, self.addr.mobile()
        return device, self.addr.residential()

    def open_ua(self, reader: str, device: str) -> str:
        a, rng = self.agents, self.rng
        if reader == "outlook":
            return rng.choice(a.outlook * 6 + a.msoffice_bare + a.outlook_mac)
        pools = {
            "gmail_proxy": a.gmail_proxy, "yahoo_proxy": a.yahoo_proxy, "fastmail_proxy": a.fastmail_proxy,
            "yahoo_app": a.yahoo_app, "outlook_mobile": a.outlook_mobile, "desktop_other": a.desktop_other,
            "android_webview": a.android_webview, "mpp": a.mpp,
            "apple_plain": a.apple_mail if device == "mac" else a.iphone_mail,
            "webmail": a.windows_browser if device == "windows" else a.mac_browser,
        }
        return rng.choice(pools[reader])

    def proxy_ip(self, reader: str) -> str:
        return {"gmail_proxy": self.addr.google, "yahoo_proxy": self.addr.yahoo,
                "fastmail_proxy": self.addr.fastmail}[reader]()

    def reading_session(self, d: Delivery, at: float, reader: str, ua: str, ip: str, actor: str, why: str) -> None:
        rng = self.rng
        proxy = reader in ("gmail_proxy", "yahoo_proxy", "fastmail_proxy")
        self.emit(d, at, "open", self.proxy_ip(reader) if proxy else ip, ua, actor, why)
        t = at
        while rng.random() < REVIEW_RATE:
            t += self.logn(REVIEW_GAP)
            if proxy and rng.random() >= PROXY_REPEAT:
                continue
            self.emit(d, t, "open", self.proxy_ip(reader) if proxy else ip, ua, actor, f"{why}, again")

    def click_ua(self, device: str) -> str:
        a = self.agents
        return self.rng.choice({
            "windows": a.windows_browser, "mac": a.mac_browser, "linux": a.desktop_browser,
            "android": a.android_browser, "iphone": a.iphone_mail + a.outlook_mobile[-1:],
        }[device])

    def clicks(self, d: Delivery, read_at: float, device: str, ip: str, actor: str, gateway: str | None,
               blocked: bool) -> None:
        rng = self.rng
        ua = self.click_ua(device)
        t = read_at + max(2.0, self.logn(CLICK_AFTER_READ))
        chosen = [rng.choice(d.links)]
        if len(d.links) > 1 and rng.random() < SECOND_CLICK:
            chosen.append(rng.choice([link for link in d.links if link != chosen[0]]))
        why = "clicks, images off" if blocked else "clicks"
        if d.reader == "mpp":
            why = "clicks (MPP reader)"
        for n, link in enumerate(chosen):
            if n:
                t += self.logn(SECOND_CLICK_GAP)
            if gateway is not None and rng.random() < CLICK_CHECK:
                listed = rng.random() < LISTED[gateway]
                kind, check_ua = self.gateway_ua(gateway)
                lead = min(9.0, self.logn(CHECK_LEAD))
                self.emit(d, t - lead, "click", self.addr.gateway(gateway, listed), check_ua, "click_check",
                          f"{gateway} time-of-click check, {'listed' if listed else 'unlisted'} net, {kind} UA", link)
            self.emit(d, t, "click", ip, ua, actor, why, link)
            if rng.random() < DOUBLE_CLICK:
                self.emit(d, t + rng.uniform(0.2, 1.0), "click", ip, ua, actor, f"{why}, double-click", link)

    def forwardee(self, d: Delivery, at: float) -> None:
        rng = self.rng
        reader = rng.choice(["outlook", "desktop_other", "apple_plain", "webmail", "android_webview"])
        device, ip = self.device(reader, None)
        self.reading_session(d, at, reader, self.open_ua(reader, device), ip, "forward", "forwardee reads")
        if d.links and rng.random() < 0.3:
            t = at + max(2.0, self.logn(CLICK_AFTER_READ))
            self.emit(d, t, "click", ip, self.click_ua(device), "forward", "forwardee clicks", rng.choice(d.links))


def build_trace(seed: int, deliveries: int, start: float, honeypot_share: float = 0.5,
                corpus: Path | None = None) -> Trace:
    return Generator(seed, honeypot_share, corpus or corpus_dir()).build(deliveries, start)
