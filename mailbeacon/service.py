"""The composition root: builds store, ingest and web from settings, and runs them.

`mailbeacon serve` and the tests start the system through exactly this code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from mailbeacon.errors import ConfigError
from mailbeacon.ingest import Batcher, Spool
from mailbeacon.store import Store, StoreUnavailable, open_store
from mailbeacon.tokens import Keyring
from mailbeacon.web.app import ASGIApp, create_app
from mailbeacon.web.fastpath import protocol_for
from mailbeacon.web.tracking import Tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./mailbeacon-data")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    base_url: str | None = None
    """Public URL of the tracking server; default http://HOST:PORT as bound."""
    db_url: str | None = None
    workers: int = 1

    @property
    def store_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'mailbeacon.db').resolve()}"


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


def open_data(settings: Settings) -> tuple[Store, Keyring]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = Keyring.load_or_create(settings.data_dir)
    store = open_store(settings.store_url)
    try:
        store.migrate()
    except StoreUnavailable as exc:
        store.close()
        raise ConfigError(f"cannot prepare the database at {settings.store_url}: {exc}") from exc
    return store, keyring


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


def build_app(settings: Settings, worker: int = 0) -> tuple[ASGIApp, Tracking, Store]:
    store, keyring = open_data(settings)
    batcher = Batcher(store.append_events, Spool(spool_path(settings, worker)), (StoreUnavailable,))
    tracking = Tracking(keyring, batcher)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if worker == 0:
            for orphan in orphan_spools(settings):
                try:
                    orphan.replay(store.append_events)
                except StoreUnavailable as exc:
                    log.warning("spool %s kept for the next start: %s", orphan.path, exc)
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    return create_app(tracking, store, lifespan=lifespan), tracking, store


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
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: ASGIApp, tracking: Tracking) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        lifespan="on",
        http=protocol_for(tracking),
        loop="uvloop",
        server_header=False,
        date_header=False,
        proxy_headers=False,  # the client address is the peer's, on both paths; no proxy support yet
    )


def serve(settings: Settings) -> None:
    """Listen, then run one server process, or fork `workers` that share the listening socket."""
    if settings.workers < 1:
        raise ConfigError("--workers must be at least 1")
    sock = bind(settings.http_host, settings.http_port)
    store, _ = open_data(settings)  # create keys and migrate once, before any worker starts
    store.close()
    host, port = sock.getsockname()[:2]
    base_url = settings.base_url or f"http://{host}:{port}"
    print(f"mailbeacon: tracking on http://{host}:{port} (links use {base_url})", flush=True)
    print(f"mailbeacon: data in {settings.data_dir}, store {settings.store_url.split('@')[-1]}", flush=True)
    if settings.workers == 1:
        _run_worker(settings, sock, 0)
        return
    children: list[int] = []
    for worker in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _run_worker(settings, sock, worker)
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


def _run_worker(settings: Settings, sock: socket.socket, worker: int) -> None:
    app, tracking, store = build_app(settings, worker)
    server = uvicorn.Server(uvicorn_config(app, tracking))
    try:
        server.run(sockets=[sock])  # run(), not serve(): it installs uvloop
    finally:
        store.close()
        sock.close()
