"""An HTTP transport that connects only where `Destinations` allows, to the very address it checked (issue #12).

httpcore asks its network backend for each new connection by host name; `GuardedBackend`
resolves that name itself, checks every address and opens the socket to a checked address,
so no second lookup (DNS rebinding) can lead elsewhere. TLS still gets the URL's host for
SNI and certificate checks: httpcore passes it to `start_tls` on the stream we return.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx

from mailbeacon.webhooks.destinations import DestinationRefused, Destinations


class RefusedConnect(httpcore.ConnectError):
    """The destination is refused; httpx hands it on as httpx.ConnectError with this as its cause."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, destinations: Destinations, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._destinations = destinations
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._destinations.resolve(host, port)
        except DestinationRefused as exc:
            raise RefusedConnect(str(exc)) from None
        failure: Exception | None = None
        for address in addresses:  # in the resolver's order, as a client without happy eyeballs would
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedConnect("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request mapping and errors) over a pool whose network backend is guarded.

    httpx does not take a network backend yet (encode/httpx#3749), so the pool it built is replaced
    by one with the same settings and ours; if httpx ever stops keeping it in `_pool`, this fails
    at once rather than sending unguarded."""

    def __init__(
        self, destinations: Destinations, limits: httpx.Limits = httpx.Limits(), verify: ssl.SSLContext | None = None
    ) -> None:
        """`verify`: the certificates to trust; default the system's (certifi's), as httpx has it."""
        super().__init__(trust_env=False, limits=limits)  # trust_env: no proxy from the environment either
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx no longer keeps its connection pool in _pool: the webhook guard cannot be fitted")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(destinations),
        )
