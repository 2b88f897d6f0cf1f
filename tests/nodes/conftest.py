"""Three `mailbeacon serve` nodes on hosts of their own, on one PostgreSQL (issue #17).

Each node runs in a network namespace with its own address (tests/support/netns.py) and its
own data directory, with the signing keys the first one made. PostgreSQL is a private cluster
listening on the bridge, which is also where the SMTP upstream and webhook receivers listen.
Leases are short here (--job-lease 3), so a dead node's jobs move within seconds.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import threading
import time
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import make_url

from mailbeacon.store import Store, open_store
from mailbeacon.tokens import Keyring
from tests.support.dashboard import PASSWORD, cli
from tests.support.databases import throwaway_postgres
from tests.support.netns import Host, Network, network
from tests.support.pg_cluster import Cluster, private_cluster
from tests.support.servers import Server, start_server
from tests.support.smtp import Received, Sink, SinkHandler

JOB_LEASE = 3.0
NAMES = ("a", "b", "c")


@pytest.fixture(scope="session")
def hosts() -> Iterator[Network]:
    with network(len(NAMES)) as made:
        yield made


@pytest.fixture(scope="session")
def postgres(hosts: Network) -> Iterator[Cluster]:
    with private_cluster(also_on=[hosts.gateway_interface]) as cluster:
        yield cluster


@dataclass
class Nodes:
    """The three nodes of one test: node-a, node-b, node-c, each on its host; started with `start`."""

    root: Path
    net: Network
    db_url: str
    """The database as the nodes reach it (on the bridge); this test process reaches it there too."""
    running: dict[str, Server] = field(default_factory=dict)

    def host(self, name: str) -> Host:
        return self.net.hosts[NAMES.index(name)]

    def data(self, name: str) -> Path:
        return self.root / f"node-{name}"

    def start(self, names: Sequence[str] = NAMES, *args: str, roles: dict[str, str] | None = None) -> list[Server]:
        """Start these nodes at once (each as `mailbeacon serve ... ARGS`), waiting until every one answers."""

        def one(name: str) -> Server:
            host = self.host(name)
            role = ("--role", roles[name]) if roles and name in roles else ()
            server = start_server(
                self.data(name), "--db", self.db_url, "--smtp", f"{host.address}:2525", "--node-name", f"node-{name}",
                "--job-lease", str(JOB_LEASE), "--public-metrics", *role, *args,
                http=f"{host.address}:8080", wrap=host.wrap, timeout=60,
            )
            self.running[name] = server
            return server

        with ThreadPoolExecutor(len(names)) as pool:
            return list(pool.map(one, names))

    def kill(self, name: str) -> None:
        """kill -9: no shutdown runs, its leases are left to expire."""
        self.running[name].kill()

    def stop_all(self) -> None:
        with ThreadPoolExecutor(len(NAMES)) as pool:
            list(pool.map(lambda server: server.stop(), self.running.values()))

    def store(self) -> Store:
        found = open_store(self.db_url)
        found.migrate()
        return found

    def cli(self, *args: str, input: str | None = None) -> str:
        """A command against the shared database, as an operator on node a would run it."""
        return cli(*args, "--data", str(self.data("a")), "--db", self.db_url, input=input)

    def add_user(self, email: str, *flags: str) -> dict[str, str]:
        """`mailbeacon user add` and `user password` (tests.support.dashboard.PASSWORD); the credentials."""
        created: dict[str, str] = json.loads(self.cli("user", "add", email, *flags, "--json"))
        self.cli("user", "password", email, "--password-stdin", input=PASSWORD + "\n")
        return created

    def output(self) -> str:
        return "\n".join(f"--- node-{name}\n{server.output()[-4000:]}" for name, server in self.running.items())


@pytest.fixture()
def nodes(hosts: Network, postgres: Cluster, tmp_path: Path) -> Iterator[Nodes]:
    with throwaway_postgres(postgres.url) as url:
        shared = make_url(url).set(host=hosts.gateway).render_as_string(hide_password=False)
        made = Nodes(tmp_path, hosts, shared)
        first = made.data("a")
        first.mkdir(mode=0o700)
        Keyring.load_or_create(first)  # one set of signing keys: a token signed on one node verifies on all
        for name in NAMES[1:]:
            made.data(name).mkdir(mode=0o700)
            shutil.copy2(first / "keys", made.data(name) / "keys")
        try:
            yield made
        finally:
            made.stop_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test shows the end of every node's output."""
    report: pytest.TestReport = yield
    made = getattr(item, "funcargs", {}).get("nodes")
    if report.when == "call" and report.failed and isinstance(made, Nodes):
        report.sections.append(("nodes", made.output()))
    return report


def api(server: Server, key: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                         **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Tracked:
    """What one delivered copy lets a reader request: its pixel and its links' redirects (paths only)."""

    recipient: str
    pixel: str
    links: tuple[str, ...]


def tracked(received: Sequence[Received]) -> list[Tracked]:
    found = []
    for copy in received:
        message = email.message_from_bytes(copy.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(("html",))
        assert part is not None
        html = str(part.get_content())
        pixel = re.search(r'src="https?://[^/"]+(/o/[^"]+\.gif)"', html)
        assert pixel, html
        links = tuple(re.findall(r'href="https?://[^/"]+(/c/[^"]+)"', html))
        found.append(Tracked(copy.rcpt_tos[0], pixel.group(1), links))
    return found


@dataclass
class NodeSinkHandler(SinkHandler):
    """The upstream, answering by the node a copy comes from (its peer address)."""

    refused: set[str] = field(default_factory=set)
    """Nodes answered 451: their copies must come from another node."""
    held: set[str] = field(default_factory=set)
    """Nodes whose DATA is never answered: a node that hangs mid-delivery (until the test kills it)."""
    holding: threading.Event = field(default_factory=threading.Event)
    """Set once a copy is held."""
    let_go: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        peer = str(session.peer[0]) if session.peer else ""
        if peer in self.held:
            self.holding.set()
            deadline = time.monotonic() + 60
            while not self.let_go.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return "451 4.4.2 held"
        if peer in self.refused:
            return "451 4.3.2 not from this node"
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def upstream(net: Network, handler: NodeSinkHandler | None = None) -> Iterator[Sink]:
    """The SMTP upstream every node delivers to, on the bridge."""
    sink = Sink(host=net.gateway)
    sink.handler = handler or NodeSinkHandler()
    sink.start()
    try:
        yield sink
    finally:
        if isinstance(sink.handler, NodeSinkHandler):
            sink.handler.let_go.set()
        sink.stop()
