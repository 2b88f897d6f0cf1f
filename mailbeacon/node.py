"""One node of many on one store (issue #17): its roles, its name, and the leases its jobs run under.

As Postal splits them: `web` is tracking, API and dashboard; `smtp` the relay; `worker` the
background jobs. Work that parts well runs on every worker node at once (outbound senders
and webhook deliveries claim rows with leases of their own). Work that must run once, in
order, runs on the node holding its lease in the store (`LEASED`), and another node takes
it over when that one dies. A new job of that kind (the inbound readers) adds its lease
name here and a `may_run=lambda: tenures.holds(NAME)` to its loop, as the readers have.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
from collections.abc import Callable, Iterable

from mailbeacon.campaigns.runner import CampaignRunner
from mailbeacon.errors import ConfigError
from mailbeacon.store import StoreUnavailable, Tenures

log = logging.getLogger(__name__)


class Role(enum.Enum):
    WEB = "web"
    SMTP = "smtp"
    WORKER = "worker"


ALL_ROLES = frozenset(Role)

CLASSIFY = "reader:classify"
"""The classify reader of the events log (mailbeacon.pipeline)."""
FAN_OUT = "reader:webhooks"
"""The webhook fan-out, a reader of the judged feed (mailbeacon.webhooks.fanout)."""
PRIVACY = "privacy"
"""The hourly retention and IP truncation (mailbeacon.pipeline.privacy)."""
LEASED = (CLASSIFY, FAN_OUT, PRIVACY)
"""The jobs every worker node wants and one holds at a time; campaigns have one lease each (`campaign:ID`)."""


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """`--role web --role smtp`, `--role web,smtp` or `--role all`; none given means all.

    >>> sorted(role.value for role in parse_roles(["web, smtp"]))
    ['smtp', 'web']
    >>> parse_roles(["mail"])
    Traceback (most recent call last):
    ...
    mailbeacon.errors.ConfigError: --role mail: a role is web, smtp, worker or all
    """
    roles: set[Role] = set()
    for value in values:
        for word in filter(None, (part.strip().lower() for part in value.split(","))):
            if word == "all":
                roles.update(Role)
                continue
            try:
                roles.add(Role(word))
            except ValueError:
                raise ConfigError(f"--role {word}: a role is web, smtp, worker or all") from None
    return frozenset(roles) if roles else ALL_ROLES


def default_node_name() -> str:
    return socket.gethostname() or "localhost"


def describe(roles: frozenset[Role]) -> str:
    return ", ".join(role.value for role in Role if role in roles)


class Tending:
    """The worker role's lease keeper: every `tenures.every` seconds, renew and take leases, and adopt
    the campaigns another node left (died, or stopped and released them)."""

    def __init__(self, tenures: Tenures, campaigns: CampaignRunner, queued: Callable[[], None]) -> None:
        """`queued` is called from a campaign's thread after each batch (wakes the outbound worker)."""
        self._tenures = tenures
        self._campaigns = campaigns
        self._queued = queued
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Want every leased job and take what is free now, so this node's jobs start at once if it may."""
        for name in LEASED:
            self._tenures.want(name)
        await asyncio.to_thread(self._tenures.tend)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """After the jobs stopped: release every lease, so another node goes on at once, not after the ttl."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self._tenures.release_all)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()

        def queued() -> None:  # from a campaign's thread
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                loop.call_soon_threadsafe(self._queued)

        while True:
            await asyncio.sleep(self._tenures.every)
            try:
                await asyncio.to_thread(self._tenures.tend)
                await asyncio.to_thread(self._campaigns.adopt, queued)
            except StoreUnavailable as exc:
                log.warning("leases: store unavailable: %s", exc)
            except Exception:  # noqa: BLE001 - the keeper of every lease must not die of one bad round
                log.exception("leases: a round failed")
