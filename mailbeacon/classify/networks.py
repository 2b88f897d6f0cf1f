"""IP networks as data: Apple's privacy-proxy ranges, scanner networks, and the /24 or /48 a reader is on."""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Networks:
    """A set of CIDRs with a fast `in` for addresses (sorted ranges, binary search)."""

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        networks = list(networks)
        self._starts: dict[int, list[int]] = {4: [], 6: []}
        self._ends: dict[int, list[int]] = {4: [], 6: []}
        self._count = 0
        for version in (4, 6):
            spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in networks if n.version == version)
            for first, last in spans:  # merged, so at most one span can hold an address
                self._count += 1
                if self._ends[version] and first <= self._ends[version][-1] + 1:
                    self._ends[version][-1] = max(self._ends[version][-1], last)
                else:
                    self._starts[version].append(first)
                    self._ends[version].append(last)

    @classmethod
    def parse(cls, text: str) -> Networks:
        """One CIDR a line; blank lines and `#` comments ignored; a bad line raises ValueError naming it.

        >>> "17.1.2.3" in Networks.parse("# apple\\n17.0.0.0/8\\n")
        True
        """
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            try:
                found.append(ipaddress.ip_network(entry.split(",", 1)[0].strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
        return cls(found)

    @classmethod
    def shipped(cls, name: str) -> Networks:
        return cls.parse(cls.shipped_text(name))

    @staticmethod
    def shipped_text(name: str) -> str:
        return resources.files("mailbeacon.classify").joinpath("data").joinpath(name).read_text("utf-8")

    @classmethod
    def from_files(cls, *paths: Path) -> Networks:
        return cls.parse("\n".join(p.read_text("utf-8") for p in paths))

    def __contains__(self, address: object) -> bool:
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            return False
        value = int(ip)
        at = bisect.bisect_right(self._starts[ip.version], value) - 1
        return at >= 0 and value <= self._ends[ip.version][at]

    def __len__(self) -> int:
        return self._count


@lru_cache(maxsize=65536)
def network_of(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address is on: what "the same network" means for a reader.

    >>> network_of("192.0.2.77"), network_of("2001:db8:1:2::5"), network_of("not an ip")
    ('192.0.2.0/24', '2001:db8:1::/48', 'not an ip')
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def is_private(address: str) -> bool:
    """Loopback, private and link-local addresses: not evidence of who someone is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    return ip.is_private or ip.is_loopback or ip.is_link_local


def apple_csv_networks(text: str) -> list[str]:
    """The networks of Apple's egress-ip-ranges.csv (network, country, region, city), checked and deduplicated.

    >>> apple_csv_networks("17.0.0.0/8,US,US-CA,Cupertino\\n2a02:26f7:b3c0:4000::/64,DE,DE-BE,Berlin\\n")
    ['17.0.0.0/8', '2a02:26f7:b3c0:4000::/64']
    """
    found: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        first = line.split(",", 1)[0].strip()
        if not first or first.startswith("#"):
            continue
        try:
            found[str(ipaddress.ip_network(first, strict=False))] = None
        except ValueError:
            raise ValueError(f"line {number}: {first!r} is not a network") from None
    return list(found)
