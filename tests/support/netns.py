"""Hosts of their own for multi-node tests (issue #17): network namespaces on a bridge, one address each.

`network(n)` makes a bridge in this (the root) namespace with the gateway address, and n
namespaces, each joined to the bridge by a veth pair and given its own address; a process
runs on a host through `host.wrap` (`ip netns exec NAME`). Everything is deleted afterwards,
also when the test fails, and what a killed run left behind is deleted at the next start.
Where namespaces cannot be made (not root, no iproute2) the test skips with the reason, or
fails under MAILBEACON_REQUIRE_NETNS (CI).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import pytest

PREFIX = "mbn"
"""Names of our namespaces and links: mbn<pid>h<i> (hosts), mbn<pid>v<i> (veths), mbn<pid>br (the bridge)."""
SUBNETS = ipaddress.ip_network("10.231.0.0/16")
"""Where a run's /24 is picked: the first one no interface of this machine is on."""


@dataclass(frozen=True)
class Host:
    name: str
    """The namespace."""
    address: str

    @property
    def wrap(self) -> list[str]:
        """What goes before a command to run it on this host."""
        return ["ip", "netns", "exec", self.name]


@dataclass(frozen=True)
class Network:
    gateway: str
    """This machine's address on the bridge: what the hosts reach PostgreSQL, the upstream and receivers on."""
    prefix: int
    hosts: list[Host]

    @property
    def gateway_interface(self) -> str:
        return f"{self.gateway}/{self.prefix}"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("MAILBEACON_REQUIRE_NETNS"):
        pytest.fail(reason + "; MAILBEACON_REQUIRE_NETNS is set (CI), so this is a failure")
    pytest.skip(reason)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def _is_alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def remove_leftovers() -> None:
    """Namespaces and links of runs whose process is gone (killed before their cleanup ran)."""
    mine = re.compile(rf"{PREFIX}(\d+)[hvb]")
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        found = mine.match(name)
        if found and not _is_alive(int(found[1])):
            _ip("netns", "delete", name, check=False)
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":")
        name = parts[1].strip().split("@")[0] if len(parts) > 1 else ""
        found = mine.match(name)
        if found and not _is_alive(int(found[1])):
            _ip("link", "delete", name, check=False)


def _free_subnet() -> ipaddress.IPv4Network:
    taken = []
    for line in _ip("-o", "-4", "addr", "show", check=False).stdout.splitlines():
        found = re.search(r"inet (\S+)", line)
        if found:
            taken.append(ipaddress.ip_interface(found[1]).network)
    start = os.getpid() % 250
    candidates = list(SUBNETS.subnets(new_prefix=24))
    for offset in range(len(candidates)):
        subnet = candidates[(start + offset) % len(candidates)]
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise RuntimeError(f"no free /24 in {SUBNETS}")


@contextmanager
def network(count: int) -> Iterator[Network]:
    """`count` hosts on a bridge with this machine; deleted afterwards, whatever happens."""
    if os.geteuid() != 0:
        _unavailable("network namespaces need root (ip netns add)")
    if shutil.which("ip") is None:
        _unavailable("iproute2's ip not found: apt-get install iproute2")
    remove_leftovers()
    pid = os.getpid()
    bridge = f"{PREFIX}{pid}br"
    subnet = _free_subnet()
    addresses = list(subnet.hosts())
    gateway = str(addresses[0])
    hosts = [Host(f"{PREFIX}{pid}h{n}", str(addresses[10 + n])) for n in range(count)]
    made_bridge = False
    made: list[str] = []
    try:
        probe = _ip("link", "add", bridge, "type", "bridge", check=False)
        if probe.returncode != 0:
            _unavailable(f"cannot make a bridge for the test's hosts: {probe.stderr.strip()}")
        made_bridge = True
        _ip("addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for n, host in enumerate(hosts):
            added = _ip("netns", "add", host.name, check=False)
            if added.returncode != 0:
                _unavailable(f"cannot make a network namespace: {added.stderr.strip()}")
            made.append(host.name)
            veth = f"{PREFIX}{pid}v{n}"
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.name)
            _ip("link", "set", veth, "master", bridge, "up")
            _ip("-n", host.name, "addr", "add", f"{host.address}/{subnet.prefixlen}", "dev", "eth0")
            _ip("-n", host.name, "link", "set", "eth0", "up")
            _ip("-n", host.name, "link", "set", "lo", "up")
            _ip("-n", host.name, "route", "add", "default", "via", gateway)
        yield Network(gateway, subnet.prefixlen, hosts)
    finally:
        for name in made:  # the veth inside goes with its namespace, and its peer on the bridge with it
            for process in _ip("netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(process), 9)  # a node the test started and did not stop (a failed test)
                except (ProcessLookupError, ValueError):
                    pass
            _ip("netns", "delete", name, check=False)
        if made_bridge:
            _ip("link", "delete", bridge, check=False)
