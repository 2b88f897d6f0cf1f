"""The composition root: builds store, ingest and web from settings, and runs them.

`mailbeacon serve` and the tests start the system through exactly this code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import resource
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from mailbeacon.campaigns.runner import CampaignRunner
from mailbeacon import datadir, logs
from mailbeacon.errors import ConfigError
from mailbeacon.filemodes import PRIVATE_UMASK
from mailbeacon.ingest import MEMORY_BYTES, MEMORY_EVENTS, Batcher, HeldEvents, Spool
from mailbeacon.mailboxes import MailboxRoutes, SecretBox, SentFolderWorker
from mailbeacon.outbound import CaptureTransport, OutboundWorker, RetryPolicy, SmtpTransport, Transport, Upstream
from mailbeacon.relay import (
    DEFAULT_MAX_RECIPIENTS,
    DEFAULT_SIZE_LIMIT,
    Authenticator,
    RelayHandler,
    RelayOptions,
    check_plain_auth,
    self_signed,
    server_context,
    start_relay,
)
from mailbeacon.classify import Networks, Policy
from mailbeacon.pipeline import Pipeline
from mailbeacon.node import ALL_ROLES, CLASSIFY, FAN_OUT, PRIVACY, Role, Tending, default_node_name, describe
from mailbeacon.pipeline.privacy import PrivacyJob
from mailbeacon.store import LEASE_TTL, SessionLimits, Store, StoreUnavailable, Tenures
from mailbeacon.submission import Submitter, Switches
from mailbeacon.submission.dkim import DkimSigner
from mailbeacon.tokens import Keyring
from mailbeacon.web.app import ASGIApp, create_app
from mailbeacon.web.context import Web
from mailbeacon.web.fastpath import protocol_for
from mailbeacon.web.head_limits import HEAD_TIMEOUT
from mailbeacon.web.node_health import create_health_app
from mailbeacon.web.tracking import LOOPBACK, Tracking
from mailbeacon.webhooks import Backoff, Destinations, WebhookFanOut, WebhookWorker

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 10_000
"""Keep-alive connections of a busy campaign's readers fit (500 opens/s for 5 s), slow clients cannot take all."""
_FILES_RESERVE = 256
"""Descriptors kept for the store, the spool, the relay and the outbound worker beside HTTP connections."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./mailbeacon-data")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    relay: bool = True
    """Run the SMTP relay (`--smtp off` turns it off)."""
    base_url: str | None = None
    """Public URL of the tracking server; default http://HOST:PORT as bound."""
    db_url: str | None = None
    workers: int = 1
    upstream: str | None = None
    """smtp://host:port of the real mail server; None delivers to the capture mailbox."""
    retry_first: float = 60.0
    """Seconds before the first retry of a temporary upstream failure."""
    outbound_lease: float = 120.0
    """How long a sender holds a copy; a crashed server's copies are sent again after it."""
    webhook_retry_first: float = 5.0
    """Seconds before a failed webhook is tried again; the later waits (5 min ... 10 h) scale with it."""
    smtp_plain_auth: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    smtp_size_limit: int = DEFAULT_SIZE_LIMIT
    smtp_max_recipients: int = DEFAULT_MAX_RECIPIENTS
    """RCPT past it answers 452 4.5.3 (issue #12, item 9)."""
    dkim_key: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    switches: Switches = Switches()
    scanner_networks: Path | None = None
    """More scanner networks, one CIDR a line, besides the shipped list and DATA/scanner_networks.txt."""
    trusted_proxies: tuple[str, ...] = LOOPBACK
    """Peers whose X-Forwarded-For names the reader (nginx or a load balancer in front)."""
    memory_events: int = MEMORY_EVENTS
    """Events held in memory while neither store nor spool can take them (disk full); past it clicks get 503."""
    session_limits: SessionLimits = SessionLimits()
    """How long a dashboard session lives idle, and at most."""
    public_metrics: bool = False
    """`/metrics` without an admin's API key (`--public-metrics`)."""
    head_timeout: float = HEAD_TIMEOUT
    """Seconds a request head may take from its first byte (issue #12: slow heads are closed with 408)."""
    max_connections: int = MAX_CONNECTIONS
    """Open HTTP connections per server process past which requests get 503 (uvicorn's limit_concurrency)."""
    webhook_allowed_networks: tuple[str, ...] = ()
    """Non-public networks webhooks may be sent to (local receivers); by default public addresses only."""
    roles: frozenset[Role] = ALL_ROLES
    """What this node runs (issue #17): web (tracking, API, dashboard), smtp (the relay), worker (background jobs)."""
    node_name: str = ""
    """Recorded as the holder of the leases this node takes; "" means the hostname."""
    lease_ttl: float = LEASE_TTL
    """Seconds a job's lease lasts unrenewed: a dead node's jobs move to another node after it."""
    webhook_lease: float | None = None
    """Seconds a webhook delivery holds the messages it claimed; None: what a whole batch may take, plus a margin."""
    log_format: str = "text"
    """`text` or `json` (one object a line, for collectors); either way each line names the node."""
    log_level: str = "info"

    @property
    def store_url(self) -> str:
        return datadir.store_url(self.data_dir, self.db_url)

    @property
    def links_base_url(self) -> str:
        return self.base_url or f"http://{self.http_host}:{self.http_port}"

    @property
    def capture_dir(self) -> Path:
        return self.data_dir / "captured"

    @property
    def node(self) -> str:
        return self.node_name or default_node_name()


def parse_hostport(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = default_host, value
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"{value!r} is not HOST:PORT") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"port {number} is out of range")
    return host.strip("[]") or default_host, number


def webhook_destinations(settings: Settings) -> Destinations:
    """Where webhooks may go: public addresses and the allowed networks, never this server (issue #12)."""
    base = urlsplit(settings.links_base_url)
    own = [(settings.http_host, settings.http_port)]
    if base.hostname:
        own.append((base.hostname, base.port or (443 if base.scheme == "https" else 80)))
    if settings.http_host in ("0.0.0.0", "::", ""):  # listening everywhere: on loopback too
        own += [("127.0.0.1", settings.http_port), ("::1", settings.http_port)]
    try:
        return Destinations.of_server(settings.webhook_allowed_networks, own)
    except ValueError as exc:
        raise ConfigError(f"--webhook-allow-network: {exc}") from None


def open_data(settings: Settings) -> tuple[Store, Keyring]:
    """Keys and the migrated store of the data directory, made private first (issue #12, item 17)."""
    return datadir.open_data(settings.data_dir, settings.db_url)


def spool_path(settings: Settings, worker: int) -> Path:
    return settings.data_dir / ("spool.jsonl" if worker == 0 else f"spool-{worker}.jsonl")


def orphan_spools(settings: Settings) -> list[Spool]:
    """Spools of worker numbers this run does not have (the server ran with more workers before)."""
    found = []
    for path in sorted(settings.data_dir.glob("spool-*.jsonl*")):
        number = path.name.removeprefix("spool-").split(".", 1)[0]
        if number.isdigit() and int(number) >= settings.workers:
            found.append(Spool(settings.data_dir / f"spool-{number}.jsonl"))
    return found


APPLE_RANGES = "apple_mpp_ranges.txt"
SCANNER_NETWORKS = "scanner_networks.txt"


def classify_policy(settings: Settings) -> Policy:
    """Shipped data, replaced (Apple's ranges) or extended (scanner networks) by files in the data directory."""
    apple = settings.data_dir / APPLE_RANGES
    extra_scanners = [p for p in (settings.data_dir / SCANNER_NETWORKS, settings.scanner_networks) if p and p.exists()]
    try:
        return Policy(
            apple=Networks.from_files(apple) if apple.exists() else Networks.shipped(APPLE_RANGES),
            scanners=Networks.parse(
                "\n".join([Networks.shipped_text(SCANNER_NETWORKS), *(p.read_text("utf-8") for p in extra_scanners)])
            ),
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the classifier's networks: {exc}") from exc


def submitter(settings: Settings, store: Store, keyring: Keyring) -> Submitter:
    return Submitter(store, keyring, settings.links_base_url, settings.switches, dkim_signer(settings))


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The signer of `--dkim-key` (serve, campaign send), or None without one."""
    if settings.dkim_key is None:
        return None
    if not settings.dkim_selector:
        raise ConfigError("--dkim-key needs --dkim-selector")
    return DkimSigner.from_file(settings.dkim_key, settings.dkim_selector, settings.dkim_domain)


def transport_factory(settings: Settings) -> Callable[[], Transport]:
    if settings.upstream is None:
        capture = CaptureTransport(settings.capture_dir)
        return lambda: capture
    upstream = Upstream.parse(settings.upstream)
    timeout = max(1.0, min(30.0, settings.outbound_lease / 3))  # a send ends well within its lease
    return lambda: SmtpTransport(upstream, timeout=timeout)


def relay_options(settings: Settings) -> RelayOptions:
    if settings.smtp_plain_auth:
        check_plain_auth(settings.smtp_host)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    cert, key = (settings.tls_cert, settings.tls_key) if settings.tls_cert else self_signed(settings.data_dir)
    assert cert is not None and key is not None
    return RelayOptions(
        hostname=socket.getfqdn() or "localhost",
        tls=server_context(cert, key),
        size_limit=settings.smtp_size_limit,
        plain_auth=settings.smtp_plain_auth,
        backlog=LISTEN_BACKLOG,
    )


def hot_path_busy(batcher: Batcher | None) -> Callable[[], bool]:
    """Whether the tracking hot path committed within 50 ms: the readers then step gently (never, without one)."""
    if batcher is None:
        return lambda: False
    return lambda: time.monotonic() - batcher.last_commit < 0.05


def build_app(
    settings: Settings, worker: int = 0, smtp_sock: socket.socket | None = None,
    stopping: asyncio.Event | None = None,
) -> tuple[ASGIApp, Tracking | None, Store]:
    """The app of one server process; worker 0 also runs the relay (on `smtp_sock`) and, on a node with
    the worker role, the background jobs (issue #17: those that must run once, under leases).

    `stopping` is set when the server begins to shut down (StoppingServer): the live streams end then."""
    store, keyring = open_data(settings)
    roles = settings.roles
    tenures = Tenures(store, settings.node, settings.lease_ttl)
    jobs = worker == 0 and Role.WORKER in roles
    batcher = tracking = None
    if Role.WEB in roles:
        memory = HeldEvents(settings.memory_events, MEMORY_BYTES)
        batcher = Batcher(store.append_events, Spool(spool_path(settings, worker)), (StoreUnavailable,), memory=memory)
        tracking = Tracking(keyring, batcher, settings.trusted_proxies)
    busy = hot_path_busy(batcher)
    submit = submitter(settings, store, keyring)
    # A process without the jobs hands the campaigns it starts to the worker nodes (issue #17).
    campaigns = CampaignRunner(store, keyring, settings.links_base_url, dkim_signer(settings), tenures, local=jobs)
    outbound = sent_folder = pipeline = privacy = webhooks = fan_out = tending = None
    destinations = webhook_destinations(settings)
    if jobs:
        box = SecretBox.load_or_create(settings.data_dir)  # connected mailboxes' passwords (issue #14)
        outbound = OutboundWorker(
            store,
            transport_factory(settings),
            lease=settings.outbound_lease,
            retry=RetryPolicy(first=settings.retry_first),
            mailboxes=MailboxRoutes(store, box),
        )
        sent_folder = SentFolderWorker(store, box, lease=settings.outbound_lease,
                                       retry=RetryPolicy(first=settings.retry_first))
        pipeline = Pipeline(store, classify_policy(settings), busy=busy, may_run=lambda: tenures.holds(CLASSIFY))
        privacy = PrivacyJob(store, may_run=lambda: tenures.holds(PRIVACY))  # retention and IP truncation, hourly
        webhooks = WebhookWorker(store, backoff=Backoff(first=settings.webhook_retry_first), lease=settings.webhook_lease,
                                 destinations=destinations)
        fan_out = WebhookFanOut(store, queued=webhooks.wake, busy=busy, may_run=lambda: tenures.holds(FAN_OUT))
        tending = Tending(tenures, campaigns, queued=outbound.wake)
    options = relay_options(settings) if worker == 0 and smtp_sock is not None else None

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if batcher is not None and worker == 0:
            for orphan in orphan_spools(settings):
                try:
                    orphan.replay(store.append_events)
                except StoreUnavailable as exc:
                    log.warning("spool %s kept for the next start: %s", orphan.path, exc)
        if batcher is not None:
            await batcher.start()
        relay = handler = None
        if tending is not None:
            await tending.start()  # takes the leases that are free before the jobs look
        if pipeline is not None:
            await pipeline.start()
        if privacy is not None:
            await privacy.start()
        if webhooks is not None and fan_out is not None:
            await webhooks.start()
            await fan_out.start()
        if outbound is not None and sent_folder is not None:
            await outbound.start()
            await sent_folder.start()
        if options is not None and smtp_sock is not None:
            handler = RelayHandler(
                submit, Authenticator(store), queued=outbound.wake if outbound else lambda: None,
                max_recipients=settings.smtp_max_recipients,
            )
            relay = await start_relay(smtp_sock, handler, options)
        try:
            yield
        finally:
            await asyncio.to_thread(campaigns.stop)  # between two batches; Resume goes on from the cursor
            if relay is not None:
                relay.close()
                await relay.wait_closed()
            if handler is not None:
                handler.close()
            if sent_folder is not None:
                await sent_folder.stop()
            if outbound is not None:
                await outbound.stop()
            if fan_out is not None:
                await fan_out.stop()
            if webhooks is not None:
                await webhooks.stop()  # hands its claims back: the next start sends them at once
            if batcher is not None:
                await batcher.stop()
            if privacy is not None:
                await privacy.stop()
            if pipeline is not None:
                await pipeline.stop()
            if tending is not None:
                await tending.stop()  # the jobs have stopped: another node takes their leases now

    if tracking is None:
        def health() -> dict[str, object]:
            return {"node": settings.node, "roles": sorted(r.value for r in roles), "leases": tenures.held()}

        return create_health_app(store.ping, health, lifespan), None, store
    web = Web(
        store,
        tracking,
        session_secret=keyring.derive("dashboard sessions"),
        submitter=submit,
        queued=outbound.wake if outbound else lambda: None,
        webhooks_queued=webhooks.wake if webhooks else lambda: None,
        outbound=outbound.stats if outbound else None,
        data_dir=settings.data_dir,
        secure_cookies=settings.links_base_url.startswith("https://"),
        stopping=stopping if stopping is not None else asyncio.Event(),
        campaigns=campaigns,
        session_limits=settings.session_limits,
        public_metrics=settings.public_metrics,
        webhook_destinations=destinations,
    )
    app = create_app(web, lifespan=lifespan)
    return app, tracking, store


LISTEN_BACKLOG = 2048
"""Connections the kernel holds before they are accepted (the relay keeps it too: issue #12, item 10)."""


def bind(host: str, port: int) -> socket.socket:
    """Listen before starting, so port 0 works and the real port can be printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family in (socket.AF_INET, socket.AF_INET6):
        # Accepted sockets inherit it: the pixel's headers and body go out as two writes,
        # and Nagle plus delayed ACK would hold the second one for 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: ASGIApp, tracking: Tracking | None, settings: Settings | None = None) -> uvicorn.Config:
    """`tracking` None: a node without the web role, whose HTTP side is /healthz only (no fast path)."""
    settings = settings or Settings()
    return uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        log_config=None,  # its records go to the handler of mailbeacon.logs, formatted like every other
        lifespan="on",
        http=protocol_for(tracking, settings.head_timeout) if tracking is not None else "h11",
        loop="uvloop",
        server_header=False,
        date_header=False,
        proxy_headers=False,  # the client address is the peer's, on both paths; no proxy support yet
        limit_concurrency=connection_limit(settings.max_connections),  # issue #12
    )


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard one (often 1,024 of 524,288): each connection is a file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError) as exc:
            log.warning("open files limit stays at %d: %s", soft, exc)
    return soft


def connection_limit(wanted: int) -> int:
    """`wanted`, or fewer where the open files limit would refuse connections before it (accept() failing)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft - _FILES_RESERVE >= wanted:
        return wanted
    log.warning("at most %d connections: the open files limit is %d", max(soft - _FILES_RESERVE, 16), soft)
    return max(soft - _FILES_RESERVE, 16)


def serve(settings: Settings) -> None:
    """Listen, then run one server process, or fork `workers` that share the listening socket."""
    if settings.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if settings.workers > 1 and Role.WEB not in settings.roles:
        raise ConfigError("--workers shares the tracking port: it needs the web role")
    if settings.lease_ttl < 1:
        raise ConfigError("--job-lease must be at least 1 second")
    logs.configure(settings.node, settings.log_format, settings.log_level)
    os.umask(PRIVATE_UMASK)  # every file the server makes is its own: database, spool, captured mail
    raise_open_files_limit()  # issue #12: before forking, so every worker has it
    sock = bind(settings.http_host, settings.http_port)
    relay = settings.relay and Role.SMTP in settings.roles
    smtp_sock = bind(settings.smtp_host, settings.smtp_port) if relay else None
    store, keyring = open_data(settings)  # create keys and migrate once, before any worker starts
    try:
        submitter(settings, store, keyring)  # refuse bad DKIM or TLS options now, not in a worker
        if smtp_sock is not None:
            relay_options(settings)
        transport_factory(settings)
        webhook_destinations(settings)
    except BaseException:
        sock.close()
        if smtp_sock is not None:
            smtp_sock.close()
        raise
    finally:
        store.close()
    host, port = sock.getsockname()[:2]
    settings = dataclasses.replace(settings, http_host=host, http_port=port)
    print(f"mailbeacon: node {settings.node}, roles {describe(settings.roles)}", flush=True)
    if Role.WEB in settings.roles:
        print(f"mailbeacon: tracking on http://{host}:{port} (links use {settings.links_base_url})", flush=True)
    else:
        print(f"mailbeacon: health on http://{host}:{port}/healthz (no web role: no tracking, API or dashboard)",
              flush=True)
    if smtp_sock is not None:
        smtp_host, smtp_port = smtp_sock.getsockname()[:2]
        settings = dataclasses.replace(settings, smtp_host=smtp_host, smtp_port=smtp_port)
        where = f"upstream {Upstream.parse(settings.upstream)!r}" if settings.upstream else (
            f"the capture mailbox {settings.capture_dir}"
        )
        print(f"mailbeacon: SMTP relay on {smtp_host}:{smtp_port} (STARTTLS, AUTH), delivering to {where}", flush=True)
    print(f"mailbeacon: data in {settings.data_dir}, store {settings.store_url.split('@')[-1]}", flush=True)
    if settings.workers == 1:
        _run_worker(settings, sock, 0, smtp_sock)
        return
    children: list[int] = []
    for worker in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                if worker and smtp_sock is not None:
                    smtp_sock.close()  # the relay and the outbound worker run in worker 0
                _run_worker(settings, sock, worker, smtp_sock if worker == 0 else None)
            except BaseException:  # noqa: BLE001 - a worker reports and exits, never returns into the parent's loop
                log.exception("worker %d failed", worker)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        os.waitpid(child, 0)
    sock.close()
    if smtp_sock is not None:
        smtp_sock.close()


class StoppingServer(uvicorn.Server):
    """Tells the app's long-lived responses that shutdown began.

    uvicorn waits for every open response before it runs the lifespan's shutdown,
    so an open live stream would hold a stopping server forever (Ctrl-C twice).
    """

    def __init__(self, config: uvicorn.Config, stopping: asyncio.Event) -> None:
        super().__init__(config)
        self._stopping = stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._stopping.set()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """A SIGTERM or Ctrl-C is the way to stop the server: after a clean shutdown it exits 0.

        uvicorn raises the captured signal again once it has shut down, which kills the
        process by that signal (status -15, or a KeyboardInterrupt traceback for Ctrl-C)."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def _run_worker(settings: Settings, sock: socket.socket, worker: int, smtp_sock: socket.socket | None = None) -> None:
    stopping = asyncio.Event()
    app, tracking, store = build_app(settings, worker, smtp_sock, stopping)
    server = StoppingServer(uvicorn_config(app, tracking, settings), stopping)
    try:
        server.run(sockets=[sock])  # run(), not serve(): it installs uvloop
    finally:
        store.close()
        sock.close()
        if smtp_sock is not None:
            smtp_sock.close()
