"""The SMTP relay: authenticated submission on aiosmtpd, never an open relay."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import warnings
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP

from mailbeacon.errors import ConfigError
from mailbeacon.relay.auth import Authenticator
from mailbeacon.relay.handler import DEFAULT_MAX_RECIPIENTS, RelayHandler
from mailbeacon.relay.tls import self_signed, server_context

__all__ = [
    "DEFAULT_MAX_RECIPIENTS", "Authenticator", "RelayHandler", "RelayOptions", "self_signed", "server_context",
    "start_relay",
]

DEFAULT_SIZE_LIMIT = 25 * 1024 * 1024


class _QuietDeprecation(logging.Filter):
    """aiosmtpd 1.4 logs a deprecation warning of its own API at every AUTH; we do not use that API."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietDeprecation())


@dataclass(frozen=True, slots=True)
class RelayOptions:
    hostname: str
    tls: ssl.SSLContext
    size_limit: int = DEFAULT_SIZE_LIMIT
    plain_auth: bool = False
    """Allow AUTH without STARTTLS: only for tests on a loopback address."""
    backlog: int = 2048
    """The listen backlog `sock` was given: create_server would listen again with 100 (issue #12, item 10)."""


def check_plain_auth(host: str) -> None:
    """AUTH over plain text only on loopback, where no password crosses a network."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigError(f"AUTH without TLS is allowed only on a loopback address, not on {host}")


async def start_relay(sock: socket.socket, handler: RelayHandler, options: RelayOptions) -> asyncio.Server:
    """Serve SMTP on the listening `sock`; AUTH is the handler's (its auth_PLAIN and auth_LOGIN)."""

    def session() -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns when AUTH may run without TLS; the option is loopback-only and explicit.
            warnings.simplefilter("ignore")
            return SMTP(
                handler,
                data_size_limit=options.size_limit,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=options.hostname,
                ident="mailbeacon relay",
                tls_context=options.tls,
                auth_required=True,
                auth_require_tls=not options.plain_auth,
            )

    return await asyncio.get_running_loop().create_server(session, sock=sock, backlog=options.backlog)
