"""Where a webhook may be sent: public addresses only, unless the operator allows a network (issue #12).

A receiver URL names the server that mailbeacon will POST to, so a user could point it at
this machine, its network or a cloud metadata service. `Destinations` refuses those when an
endpoint is saved (every spelling of an address, names such as localhost, the server's own
URL) and again at each connection, after resolving the name (`guarded.py` connects to the
very address that was checked). Metadata services stay refused even in an allowed network.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""(host, port) -> every address the host has; raises OSError when it has none."""

METADATA_ADDRESSES = frozenset(ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle...
    "169.254.170.2",  # AWS ECS task metadata
    "169.254.169.253",  # AWS resolver
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "fd00:ec2::253",
    "100.100.100.200",  # Alibaba Cloud
))
METADATA_NAMES = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal",
})
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
"""With any name under .localhost (RFC 6761 §6.3): this machine, whatever a resolver says."""
SHARED = ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
NAT64 = ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
COMPATIBLE = ip_network("::/96")  # RFC 4291 §2.5.5.1: deprecated IPv4-compatible addresses
_INET_ATON = re.compile(r"[0-9a-fA-FxX.]+")


class DestinationRefused(Exception):
    """A webhook may not go there; the message says what the address is."""


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as one stands for, however spelt: '127.1', '2130706433', '0x7f000001',
    '[::ffff:127.0.0.1]' (resolvers read the short and numeric IPv4 forms as inet_aton(3) does)."""
    bare = host.strip("[]").split("%", 1)[0]  # an IPv6 zone id names an interface, not another address
    try:
        return ip_address(bare)
    except ValueError:
        pass
    if _INET_ATON.fullmatch(bare) and any(c.isdigit() for c in bare):
        try:
            return IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, -compatible, 6to4 or NAT64 IPv6 address, else None."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64 or (address in COMPATIBLE and int(address) > 1):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def kind_of(address: IPAddress) -> str | None:
    """What makes an address non-public ('a loopback address', ...); None for a public one."""
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, IPv4Address) and address in SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, IPv6Address) and (address.is_site_local or address in ip_network("fc00::/7")):
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def host_key(host: str) -> str:
    """How two spellings of one host compare: an address in its normal form (an IPv4 one inside IPv6 as
    IPv4), a name lower-cased without its final dot."""
    found = literal_address(host)
    if found is None:
        return host.lower().rstrip(".")
    return str(embedded_ipv4(found) or found)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        found[ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(found)


@dataclass(frozen=True)
class Destinations:
    """The webhook destination policy of one server."""

    allowed: tuple[IPNetwork, ...] = ()
    """Networks an operator allows although they are not public (`--webhook-allow-network`)."""
    own: frozenset[tuple[str, int]] = frozenset()
    """(host_key, port) of this server: its base URL and where it listens. Never a receiver."""
    resolver: Resolver = field(default=system_resolver, compare=False)
    """How names are resolved at delivery (tests give their own)."""

    @classmethod
    def of_server(cls, allowed: Iterable[str], own: Iterable[tuple[str, int]] = ()) -> Destinations:
        """From CIDR strings (ValueError for a bad one) and this server's (host, port) pairs."""
        networks = tuple(ip_network(value, strict=False) for value in allowed)
        return cls(networks, frozenset((host_key(host), port) for host, port in own))

    def refused_address(self, address: IPAddress) -> str | None:
        """Why a webhook may not connect to `address`; None if it may."""
        plain = embedded_ipv4(address) or address
        if address in METADATA_ADDRESSES or plain in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if any(a.version == n.version and a in n for a in (address, plain) for n in self.allowed):
            return None
        return kind_of(plain) or kind_of(address)

    def check_name(self, host: str, port: int) -> None:
        """DestinationRefused for a host that is never a receiver, whatever it resolves to."""
        key = host_key(host)
        if (key, port) in self.own:
            raise DestinationRefused(f"{host} is this server's own address")
        if key in LOCAL_NAMES or key.endswith(".localhost"):
            raise DestinationRefused(f"{host} names this machine")
        if key in METADATA_NAMES:
            raise DestinationRefused(f"{host} is a cloud metadata service")
        literal = literal_address(host)
        if literal is not None and (reason := self.refused_address(literal)) is not None:
            raise DestinationRefused(f"{host} is {reason}")

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`, each checked; DestinationRefused if any is refused (or it has none)."""
        self.check_name(host, port)
        literal = literal_address(host)
        try:
            addresses = [literal] if literal is not None else await self.resolver(host, port)
        except OSError as exc:
            raise DestinationRefused(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise DestinationRefused(f"{host} has no address")
        for address in addresses:
            if (host_key(str(address)), port) in self.own:
                raise DestinationRefused(f"{host} resolves to {address}, this server's own address")
            reason = self.refused_address(address)
            if reason is not None:
                # Any refused address refuses the name: a resolver answering a public and a private one is a trick.
                raise DestinationRefused(f"{host} resolves to {address}, {reason}")
        return addresses
