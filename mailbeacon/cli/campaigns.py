"""`mailbeacon campaign`: preview a copy, send a campaign (pause, resume, cancel it), see how far campaigns got."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailbeacon.cli.options import DEFAULT_BASE_URL, data_option, db_option, open_store, when
from mailbeacon.cli.reportview import campaign_report
from mailbeacon.errors import MailbeaconError
from mailbeacon.tokens import Keyring
from mailbeacon.wording import many

if TYPE_CHECKING:
    from mailbeacon.store import CampaignProgress, CampaignRow, Store

F = TypeVar("F", bound=Callable[..., Any])

@click.group()
def campaign() -> None:
    """Campaigns: one template to a contact list, personalised per contact, always tracked."""


campaign.add_command(campaign_report)


@campaign.command("preview")
@click.option("--template", "html_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML template (Jinja2: {{ contact.first_name | default('there') }}, {{ unsubscribe_url }}).")
@click.option("--text", "text_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The plain-text template, if the mail has a text part.")
@click.option("--subject", required=True, help="The subject, a template too.")
@click.option("--list", "list_name", default=None, help="Preview for the first subscribed contact of this list.")
@click.option("--contact", "email", default=None, help="Preview for this contact.")
@click.option("--open", "open_browser", is_flag=True, help="Write the HTML to a temporary file and open it in a browser.")
@data_option
@db_option
@click.option("--base-url", default=DEFAULT_BASE_URL, envvar="MAILBEACON_BASE_URL", show_default=True,
              help="Public URL of the tracking server, used in the unsubscribe link.")
def campaign_preview(
    html_path: Path, text_path: Path | None, subject: str, list_name: str | None, email: str | None,
    open_browser: bool, data_dir: Path, db_url: str | None, base_url: str,
) -> None:
    """Print one contact's copy (subject, headers, text and HTML) as a send would render it."""
    import tempfile

    from mailbeacon.campaigns.preview import format_preview, preview_contact, render_preview
    from mailbeacon.campaigns.templates import CampaignTemplate

    try:
        template = CampaignTemplate.load(html_path, text_path, subject=subject)  # errors before any lookup
        keyring = Keyring.load_or_create(data_dir)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    with open_store(data_dir, db_url) as store:
        shown = render_preview(template, preview_contact(store, list_name, email), keyring, base_url)
    click.echo(format_preview(shown), nl=False)
    if open_browser:
        with tempfile.NamedTemporaryFile("w", suffix=".html", prefix="mailbeacon-preview-", delete=False) as out:
            out.write(shown.rendered.html)
        click.echo(f"HTML written to {out.name}")
        click.launch(out.name)


dkim_options = [
    click.option("--dkim-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 envvar="MAILBEACON_DKIM_KEY", help="Private key (PEM) to DKIM-sign every copy, as `serve --dkim-key`."),
    click.option("--dkim-selector", default=None, envvar="MAILBEACON_DKIM_SELECTOR",
                 help="DKIM selector of --dkim-key (SELECTOR._domainkey.DOMAIN)."),
    click.option("--dkim-domain", default=None, envvar="MAILBEACON_DKIM_DOMAIN",
                 help="Signing domain; default: the domain of the From address."),
]
run_options = [
    click.option("--rate", default=None, help="At most this many copies a second leave the queue: 10, 10/s, 600/min, "
                 "20000/h (default: as fast as the upstream takes them)."),
    click.option("--wait", is_flag=True, help="After queueing, show delivery until every copy is sent or bounced, "
                 "or only copies waiting for a retry are left (exit status 75)."),
    click.option("--batch", default=250, type=click.IntRange(1, 5000), hidden=True, envvar="MAILBEACON_CAMPAIGN_BATCH",
                 help="Members queued per transaction."),
    click.option("--stall-warning", "stall", default=30.0, type=float, hidden=True,
                 help="Seconds without a delivery before --wait says so."),
]


def _options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@campaign.command("send")
@click.option("--name", required=True, help="The campaign's name; the same command with the same name resumes it.")
@click.option("--list", "list_name", required=True, help="The contact list to send to.")
@click.option("--template", "html_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML template (Jinja2).")
@click.option("--text", "text_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The plain-text template; without it each copy's text alternative is made from its HTML.")
@click.option("--subject", required=True, help="The subject, a template too.")
@click.option("--from", "from_address", required=True, help="The From address, e.g. 'News <news@example.com>'.")
@click.option("--as", "as_user", default=None,
              help="Email of the mailbeacon user whose campaign it is (default: the first admin).")
@_options(run_options)
@data_option
@db_option
@click.option("--base-url", default=DEFAULT_BASE_URL, envvar="MAILBEACON_BASE_URL", show_default=True,
              help="Public URL of the tracking server, used in every tracking and unsubscribe link.")
@_options(dkim_options)
def campaign_send(
    name: str, list_name: str, html_path: Path, text_path: Path | None, subject: str, from_address: str,
    as_user: str | None, rate: str | None, wait: bool, batch: int, stall: float, data_dir: Path, db_url: str | None,
    base_url: str, dkim_key: Path | None, dkim_selector: str | None, dkim_domain: str | None,
) -> None:
    """Queue one personalised, tracked copy for every subscribed member of a list, exactly once.

    Copies go into the outbound queue a batch at a time; the running `mailbeacon serve`
    on the same data delivers them. Stopped anywhere (Ctrl-C, a crash, kill -9), the
    same command, or `mailbeacon campaign resume NAME`, goes on where it stopped:
    nobody gets two copies. A name already used with other templates, list, subject
    or sender is refused. `mailbeacon campaign pause NAME` (or the dashboard, or the
    API) stops it between two batches and holds the copies not sent yet.

    \b
    Exit status:
      0    every member queued (with --wait: every copy sent or bounced)
      1    an error (the message says what to do)
      3    the campaign was paused meanwhile (resume it to go on)
      4    the campaign was cancelled meanwhile
      75   with --wait: only copies waiting for a retry are left (the server retries them)
      130  stopped by Ctrl-C (resume it to go on)
    """
    from mailbeacon.campaigns.sending import CampaignSpec, open_campaign
    from mailbeacon.campaigns.templates import read_source

    try:
        spec = CampaignSpec(
            name=name, list_name=list_name, html=read_source(html_path), text=read_source(text_path) if text_path else None,
            subject=subject, from_address=from_address, base_url=base_url, rate=_parse_rate(rate), user_email=as_user,
        )
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    with open_store(data_dir, db_url) as store:
        row, resumed = open_campaign(store, spec)
        _send(store, row, resumed, data_dir, db_url, wait, batch, stall, dkim_key, dkim_selector, dkim_domain)


@campaign.command("resume")
@click.argument("name")
@_options(run_options)
@data_option
@db_option
@_options(dkim_options)
def campaign_resume(
    name: str, rate: str | None, wait: bool, batch: int, stall: float, data_dir: Path, db_url: str | None,
    dkim_key: Path | None, dkim_selector: str | None, dkim_domain: str | None,
) -> None:
    """Go on with campaign NAME where it stopped or was paused: its held copies go out, and the rest of
    the list is queued here, with its stored templates (and a new --rate if given). Exit status as for
    `campaign send`."""
    from mailbeacon.campaigns.sending import resumable

    with open_store(data_dir, db_url) as store:
        found = _campaign_named(store, name)
        row = resumable(store, found, _parse_rate(rate), unpause=True)
        if found.paused_at is not None:
            click.echo(f"campaign {name}: resumed; its held copies go out again")
        _send(store, row, True, data_dir, db_url, wait, batch, stall, dkim_key, dkim_selector, dkim_domain)


@campaign.command("pause")
@click.argument("name")
@data_option
@db_option
def campaign_pause(name: str, data_dir: Path, db_url: str | None) -> None:
    """Pause campaign NAME: nothing more is queued (the sender stops before its next batch, wherever it
    runs) and its copies queued but not sent yet are held; `campaign resume NAME` sends them."""
    from mailbeacon.campaigns import control

    with open_store(data_dir, db_url) as store:
        found = _campaign_named(store, name)
        row = control.pause(store, found)
        progress = store.campaign_progress(row.id)
    assert progress is not None
    if found.paused_at is not None:
        click.echo(f"campaign {name} was paused already")
    click.echo(f"campaign {name}: paused; {progress.sent} sent, {progress.pending} held "
               f"(copies a sender had taken already still go out); go on with: mailbeacon campaign resume {name}")


@campaign.command("cancel")
@click.argument("name")
@data_option
@db_option
def campaign_cancel(name: str, data_dir: Path, db_url: str | None) -> None:
    """Cancel campaign NAME for good: nothing more is queued, and its copies queued but not sent yet are
    withdrawn (never sent; the report counts them as withdrawn). It cannot be resumed."""
    from mailbeacon.campaigns import control

    with open_store(data_dir, db_url) as store:
        row = control.cancel(store, _campaign_named(store, name))
        progress = store.campaign_progress(row.id)
    assert progress is not None
    click.echo(f"campaign {name}: cancelled; {progress.sent} sent, {progress.bounced} bounced, "
               f"{progress.withdrawn} withdrawn" + (f", {progress.pending} being sent now" if progress.pending else ""))


def _send(
    store: Store, row: CampaignRow, resumed: bool, data_dir: Path, db_url: str | None, wait: bool, batch: int,
    stall: float, dkim_key: Path | None, dkim_selector: str | None, dkim_domain: str | None,
) -> None:
    from rich.console import Console

    from mailbeacon import service
    from mailbeacon.campaigns.sending import CampaignSender
    from mailbeacon.cli.sendview import (
        CANCELLED,
        INTERRUPTED,
        PAUSED,
        RETRYING,
        copies,
        queue_with_progress,
        retry_note,
        wait_for_delivery,
    )

    settings = service.Settings(data_dir=data_dir, db_url=db_url, dkim_key=dkim_key, dkim_selector=dkim_selector,
                                dkim_domain=dkim_domain)
    dkim = service.dkim_signer(settings)
    keyring = Keyring.load_or_create(data_dir)
    console = Console(stderr=True, highlight=False)
    if not resumed:
        click.echo(f"campaign {row.name}: {many(row.total, 'member')} on the list")
    elif row.status == "sending":
        click.echo(f"campaign {row.name}: resuming after contact {row.cursor} "
                   f"({row.queued} queued and {row.skipped} skipped before)")
    sender = CampaignSender(store, keyring, row, dkim=dkim, batch=batch)
    result = queue_with_progress(sender, row, console)
    if result.stopped:
        click.echo(f"campaign {row.name}: stopped between two batches, {result.queued} queued and {result.skipped} "
                   f"skipped so far; go on with: mailbeacon campaign resume {row.name}", err=True)
        raise SystemExit(INTERRUPTED)
    if result.paused or result.cancelled:
        how = "paused" if result.paused else "cancelled"
        click.echo(f"campaign {row.name} was {how} meanwhile: {copies(result.queued)} queued and {result.skipped} "
                   f"skipped so far" + (f"; go on with: mailbeacon campaign resume {row.name}" if result.paused else ""),
                   err=True)
        raise SystemExit(PAUSED if result.paused else CANCELLED)
    click.echo(f"campaign {row.name}: {copies(result.queued)} queued, {many(result.skipped, 'member')} skipped")
    if wait:
        waited = wait_for_delivery(store, row, console, stall)
        final = waited.progress
        click.echo(f"campaign {row.name}: {final.sent} sent, {final.bounced} bounced")
        if waited.ending == "retrying":
            click.echo(f"campaign {row.name}: {retry_note(final)}; the running `mailbeacon serve` retries "
                       f"{'it' if final.retrying == 1 else 'them'} (mailbeacon campaign status {row.name})")
            raise SystemExit(RETRYING)
        if waited.ending == "paused":
            click.echo(f"campaign {row.name} was paused: {copies(final.pending)} held; they go out after "
                       f"mailbeacon campaign resume {row.name}", err=True)
            raise SystemExit(PAUSED)
        if waited.ending == "cancelled":
            click.echo(f"campaign {row.name} was cancelled: {copies(final.withdrawn)} withdrawn, never sent", err=True)
            raise SystemExit(CANCELLED)


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_option
@db_option
def campaign_list(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Every campaign, newest first, with how far it got."""
    with open_store(data_dir, db_url) as store:
        rows = [store.campaign_progress(row.id) for row in store.campaigns()]
    for found in rows:
        assert found is not None
        if as_json:
            click.echo(json.dumps(_status(found)))
            continue
        c = found.campaign
        click.echo(f"{c.name}\t{_status(found)['status']}\t{c.queued}/{c.total} queued\t{found.sent} sent\t{found.bounced} bounced"
                   f"\tsince {when(c.created_at)}")
    if not rows and not as_json:
        click.echo("no campaigns yet: mailbeacon campaign send --name NAME --list LIST --template FILE.html ...")


@campaign.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@data_option
@db_option
def campaign_status(name: str, as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """How far campaign NAME got: queued, sent, bounced and pending copies, skipped members and why."""
    from mailbeacon.cli.sendview import retry_note

    with open_store(data_dir, db_url) as store:
        found = store.campaign_progress(_campaign_named(store, name).id)
        assert found is not None
        skips = store.campaign_skips(found.campaign.id)
    status = {**_status(found), "skips": [{"email": e, "reason": r} for e, r in skips]}
    if as_json:
        click.echo(json.dumps(status))
        return
    c = found.campaign
    click.echo(f"campaign {c.name}: {status['status']}")
    click.echo(f"  {many(c.total, 'member')}, {c.queued} queued, {c.skipped} skipped; {found.sent} sent, {found.bounced} "
               f"bounced, {found.pending} pending ({found.retrying} retrying)"
               + (f", {found.withdrawn} withdrawn" if found.withdrawn else ""))
    if found.retrying:
        click.echo(f"  {retry_note(found)}")
    click.echo(f"  rate: {'as fast as it goes' if c.rate is None else f'{c.rate:g}/s'}; message {c.message_id}")
    for label, at in (("started", c.started_at), ("queued", c.queued_at), ("paused", c.paused_at),
                      ("finished", c.finished_at)):
        if at is not None:
            click.echo(f"  {label} {when(at)}")
    for email, reason in skips:
        click.echo(f"  skipped {email}: {reason}")
    if c.paused_at is not None:
        click.echo(f"  paused: mailbeacon campaign resume {c.name} goes on")
    elif c.status == "sending":
        click.echo(f"  not all queued yet: mailbeacon campaign resume {c.name}")


def _status(found: CampaignProgress) -> dict[str, object]:
    c = found.campaign
    return {
        "name": c.name, "status": "paused" if c.paused_at is not None and c.status in ("sending", "queued") else c.status,
        "list_id": c.list_id, "message_id": c.message_id, "total": c.total,
        "queued": c.queued, "skipped": c.skipped, "sent": found.sent, "bounced": found.bounced,
        "pending": found.pending, "retrying": found.retrying, "withdrawn": found.withdrawn,
        "next_retry_at": found.next_retry_at, "retry_reply": found.retry_reply, "rate": c.rate, "cursor": c.cursor,
        "created_at": c.created_at, "started_at": c.started_at, "queued_at": c.queued_at,
        "finished_at": c.finished_at, "paused_at": c.paused_at,
    }


def _campaign_named(store: Store, name: str) -> CampaignRow:
    found = store.campaign_named(name)
    if found is None:
        raise click.ClickException(f"no campaign {name!r}; `mailbeacon campaign list` shows them")
    return found


_RATE_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
               "h": 3600.0, "hour": 3600.0}


def _parse_rate(text: str | None) -> float | None:
    """`10`, `10/s`, `600/min`, `20000/h` -> copies a second."""
    if text is None:
        return None
    number, _, unit = text.strip().lower().partition("/")
    try:
        rate = float(number) / _RATE_UNITS[unit.strip()]
    except (ValueError, KeyError):
        raise click.BadParameter(f"{text!r}: give copies a second (10 or 10/s), a minute (600/min) or an hour "
                                 "(20000/h)", param_hint="--rate") from None
    if not rate > 0 or rate == float("inf"):
        raise click.BadParameter(f"{text!r}: the rate must be more than 0", param_hint="--rate")
    return rate
