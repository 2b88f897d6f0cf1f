"""`mailbeacon serve`: every option of the server, passed on as Settings."""

from __future__ import annotations

from pathlib import Path

import click

from mailbeacon.cli.options import data_option, db_option
from mailbeacon.errors import MailbeaconError

@click.command()
@data_option
@click.option("--http", "http", default="127.0.0.1:8080", show_default=True, envvar="MAILBEACON_HTTP",
              help="Address of the tracking server.")
@click.option("--smtp", "smtp", default="127.0.0.1:2525", show_default=True, envvar="MAILBEACON_SMTP",
              help="Address of the SMTP relay, or off.")
@click.option("--base-url", default=None, envvar="MAILBEACON_BASE_URL",
              help="Public URL of the tracking server (default: http://HTTP).")
@db_option
@click.option("--workers", default=1, show_default=True, type=int,
              help="Server processes sharing the port (each with its own group commit and spool).")
@click.option("--upstream", default=None, envvar="MAILBEACON_UPSTREAM",
              help="Real mail server, smtp://[user:pass@]host:port[?starttls=require|never&verify=false] or "
                   "smtps://...; default: the capture mailbox in the data directory.")
@click.option("--upstream-password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="MAILBEACON_UPSTREAM_PASSWORD_FILE",
              help="A file whose first line is the upstream's password (for --upstream's user), so that it is "
                   "not on the command line, where ps shows it; MAILBEACON_UPSTREAM_PASSWORD gives it too.")
@click.option("--retry-after", "retry_first", default=60.0, show_default=True, type=float,
              help="Seconds before the first retry of a temporary upstream failure (each later wait doubles).")
@click.option("--webhook-retry-after", "webhook_retry_first", default=5.0, type=float, hidden=True,
              envvar="MAILBEACON_WEBHOOK_RETRY_AFTER",
              help="Seconds before a failed webhook is tried again (later waits scale with it); for tests.")
@click.option("--outbound-lease", default=120.0, show_default=True, type=float,
              help="Seconds a sender holds a copy it is delivering; after a crash, copies are sent again after it.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Relay certificate (PEM); default: a self-signed one made in the data directory.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Private key (PEM) of --tls-cert; the two go together.")
@click.option("--smtp-plain-auth", is_flag=True,
              help="Allow AUTH without STARTTLS; only on a loopback address, for testing.")
@click.option("--max-message-size", "size_limit", default=25 * 1024 * 1024, show_default=True, type=int,
              help="Larger messages are refused with 552.")
@click.option("--max-recipients", default=100, show_default=True, type=click.IntRange(min=1),
              help="Recipients of one message through the relay; past it RCPT answers 452 4.5.3.")
@click.option("--dkim-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Private key (PEM) to DKIM-sign every copy after instrumenting it.")
@click.option("--dkim-selector", default=None,
              help="DKIM selector of --dkim-key: its public key is published at SELECTOR._domainkey.DOMAIN.")
@click.option("--dkim-domain", default=None, help="Signing domain; default: the domain of the From address.")
@click.option("--no-tracking", is_flag=True, help="Kill switch: relay every copy untouched.")
@click.option("--no-open-tracking", is_flag=True, help="Add no pixel: links are still tracked.")
@click.option("--no-click-tracking", is_flag=True, help="Leave links as they are: opens are still tracked.")
@click.option("--no-split", is_flag=True,
              help="One copy for all recipients with one shared pixel (opens are 'one of the recipients').")
@click.option("--scanner-networks", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="More networks of link scanners, one CIDR a line (DATA/scanner_networks.txt is read too).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, default=["127.0.0.0/8", "::1/128"],
              show_default=True, help="Network whose X-Forwarded-For header is believed (repeat for several).")
@click.option("--memory-buffer", "memory_events", default=100_000, show_default=True, type=click.IntRange(min=0),
              help="Events held in memory while neither the database nor the spool can take them (disk full); "
                   "past it clicks are answered 503 and opens are lost (counted).")
@click.option("--head-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a request head may take from its first byte; a slower one is closed with 408.")
@click.option("--max-connections", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Open HTTP connections per server process past which requests get 503.")
@click.option("--webhook-allow-network", "webhook_networks", multiple=True, metavar="CIDR",
              help="A non-public network webhooks may be sent to, e.g. 127.0.0.0/8 for a local receiver "
                   "(repeat for several); by default only public addresses are.")
@click.option("--honeypot", is_flag=True,
              help="Add an invisible link no person can reach to tracked copies: a click on it marks a scanner.")
@click.option("--instrument-dkim-signed", is_flag=True,
              help="Instrument mail that arrives DKIM-signed (its signature then fails unless --dkim-key re-signs).")
@click.option("--session-idle", "session_idle", default=72.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Hours after its last request that a dashboard session ends.")
@click.option("--session-lifetime", "session_lifetime", default=14 * 24.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Hours after login that a dashboard session ends.")
@click.option("--public-metrics", is_flag=True,
              help="Serve /metrics to anyone; by default it needs an admin's API key (Authorization: Bearer).")
@click.option("--role", "roles", multiple=True, envvar="MAILBEACON_ROLE", show_default="all",
              help="What this node runs: web (tracking, API, dashboard), smtp (the relay), worker (background jobs), "
                   "or all; repeat it or give a comma list.")
@click.option("--node-name", default=None, envvar="MAILBEACON_NODE_NAME",
              help="This node's name among the nodes on one database, recorded with the jobs it holds "
                   "[default: the hostname].")
@click.option("--job-lease", "lease_ttl", default=15.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds a node holds a job that runs on one node at a time (the pipeline, webhook fan-out, "
                   "privacy, each campaign) without renewing it: a node that dies leaves its jobs to another after it.")
@click.option("--webhook-lease", default=None, type=click.FloatRange(min=5), hidden=True,
              help="Seconds a webhook delivery holds the messages it claimed; for tests.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              envvar="MAILBEACON_LOG_FORMAT", help="Log lines as text, or JSON lines for a log collector; "
                                                  "each names the node.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, envvar="MAILBEACON_LOG_LEVEL",
              help="The least severe records logged: info has a line per accepted message and per delivery.")
def serve(
    data_dir: Path,
    http: str,
    smtp: str,
    base_url: str | None,
    db_url: str | None,
    workers: int,
    upstream: str | None,
    upstream_password_file: Path | None,
    retry_first: float,
    webhook_retry_first: float,
    outbound_lease: float,
    tls_cert: Path | None,
    tls_key: Path | None,
    smtp_plain_auth: bool,
    size_limit: int,
    max_recipients: int,
    dkim_key: Path | None,
    dkim_selector: str | None,
    dkim_domain: str | None,
    no_tracking: bool,
    no_open_tracking: bool,
    no_click_tracking: bool,
    no_split: bool,
    scanner_networks: Path | None,
    trusted_proxies: tuple[str, ...],
    memory_events: int,
    head_timeout: float,
    max_connections: int,
    webhook_networks: tuple[str, ...],
    honeypot: bool,
    instrument_dkim_signed: bool,
    session_idle: float,
    session_lifetime: float,
    public_metrics: bool,
    roles: tuple[str, ...],
    node_name: str | None,
    lease_ttl: float,
    webhook_lease: float | None,
    log_format: str,
    log_level: str,
) -> None:
    """Run the tracking server and the SMTP relay: pixel, redirect, API, relay, outbound queue."""
    from mailbeacon import service
    from mailbeacon.node import parse_roles
    from mailbeacon.store import SessionLimits
    from mailbeacon.submission import Switches

    try:
        http_host, http_port = service.parse_hostport(http)
        relay = smtp.lower() != "off"
        smtp_host, smtp_port = service.parse_hostport(smtp) if relay else ("127.0.0.1", 0)
        settings = service.Settings(
            data_dir=data_dir,
            http_host=http_host,
            http_port=http_port,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            relay=relay,
            base_url=base_url,
            db_url=db_url,
            workers=workers,
            upstream=_with_password(upstream, upstream_password_file),
            retry_first=retry_first,
            webhook_retry_first=webhook_retry_first,
            outbound_lease=outbound_lease,
            smtp_plain_auth=smtp_plain_auth,
            tls_cert=tls_cert,
            tls_key=tls_key,
            smtp_size_limit=size_limit,
            smtp_max_recipients=max_recipients,
            dkim_key=dkim_key,
            dkim_selector=dkim_selector,
            dkim_domain=dkim_domain,
            trusted_proxies=_networks(trusted_proxies, "--trusted-proxy"),
            webhook_allowed_networks=_networks(webhook_networks, "--webhook-allow-network"),
            scanner_networks=scanner_networks,
            memory_events=memory_events,
            session_limits=SessionLimits(idle=session_idle * 3600, lifetime=session_lifetime * 3600),
            public_metrics=public_metrics,
            head_timeout=head_timeout,
            max_connections=max_connections,
            roles=parse_roles(roles),
            node_name=node_name or "",
            lease_ttl=lease_ttl,
            webhook_lease=webhook_lease,
            log_format=log_format,
            log_level=log_level,
            switches=Switches(
                tracking=not no_tracking,
                opens=not no_open_tracking,
                clicks=not no_click_tracking,
                split=not no_split,
                instrument_dkim_signed=instrument_dkim_signed,
                honeypot=honeypot,
            ),
        )
        service.serve(settings)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc


def _networks(values: tuple[str, ...], option: str) -> tuple[str, ...]:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from exc
    return values


def _with_password(upstream: str | None, password_file: Path | None) -> str | None:
    """--upstream with its password from a file or MAILBEACON_UPSTREAM_PASSWORD (issue #13, item 7).

    >>> _with_password("smtp://ann@mail.example:587", None)  # no password given anywhere: as it was
    'smtp://ann@mail.example:587'
    """
    import os
    from urllib.parse import quote, urlsplit, urlunsplit

    password = os.environ.get("MAILBEACON_UPSTREAM_PASSWORD")
    if password_file is not None:
        try:
            password = (password_file.read_text("utf-8").splitlines() or [""])[0]
        except OSError as exc:
            raise click.BadParameter(f"cannot read it: {exc.strerror}", param_hint="--upstream-password-file") from exc
    if password is None:
        return upstream
    if upstream is None:
        raise click.UsageError("an upstream password needs --upstream (with its user: smtp://USER@host:port)")
    parts = urlsplit(upstream)
    if not parts.username:
        raise click.UsageError("--upstream names no user for the password: smtp://USER@host:port")
    if parts.password:
        raise click.UsageError("--upstream has a password already; give it in one place only")
    user, _, host = parts.netloc.rpartition("@")  # the user as written (already %-encoded where it must be)
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
