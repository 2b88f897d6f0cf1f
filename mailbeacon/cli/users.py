"""`mailbeacon user`: who sends tracked mail, their seats, keys and passwords."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailbeacon.cli.options import data_option, db_option, open_store
from mailbeacon.errors import MailbeaconError
from mailbeacon.wording import many

if TYPE_CHECKING:
    from mailbeacon.store import Store, UserRow

@click.group()
def user() -> None:
    """Users: who sends tracked mail, with which seat."""


@user.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Sees every message, not only their own.")
@click.option("--seat", type=click.Choice(["basic", "sales"]), default="basic", show_default=True,
              help="sales adds click tracking of one-to-one mail.")
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON.")
@data_option
@db_option
def add_user(email: str, admin: bool, seat: str, as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Create a user; prints their API key and SMTP password once (only hashes are kept)."""
    from mailbeacon import accounts, service

    try:
        store, _ = service.open_data(service.Settings(data_dir=data_dir, db_url=db_url))
        try:
            created = accounts.create_user(store, email, is_admin=admin, seat=seat)
        finally:
            store.close()
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"email": email, "api_key": created.api_key, "smtp_password": created.smtp_password}))
    else:
        click.echo(f"user {email} ({'admin, ' if admin else ''}{seat} seat)")
        click.echo(f"API key:       {created.api_key}")
        click.echo(f"SMTP password: {created.smtp_password}")
        click.echo("Keep them now: only their hashes are stored.")


def _user_named(store: Store, email: str) -> UserRow:
    found = store.user_by_email(email)
    if found is None:
        raise click.ClickException(f"no user {email!r}; see `mailbeacon user list`")
    return found


@user.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@data_option
@db_option
def user_password(email: str, password_stdin: bool, data_dir: Path, db_url: str | None) -> None:
    """Set the password EMAIL logs in to the dashboard with; their other sessions end."""
    from mailbeacon import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_store(data_dir, db_url) as store:
        accounts.set_dashboard_password(store, _user_named(store, email).id, password)
    click.echo(f"password of {email} set")


@user.command("new-key")
@click.argument("email")
@data_option
@db_option
def user_new_key(email: str, data_dir: Path, db_url: str | None) -> None:
    """Give EMAIL a new API key (printed once); the old key stops working at once."""
    from mailbeacon import accounts

    with open_store(data_dir, db_url) as store:
        click.echo(accounts.replace_api_key(store, _user_named(store, email).id))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_option
@db_option
def user_list(as_json: bool, data_dir: Path, db_url: str | None) -> None:
    """Every user with their seat, and whether they are an admin and can log in to the dashboard."""
    with open_store(data_dir, db_url) as store:
        for u in store.users():
            row = {"id": u.id, "email": u.email, "seat": u.seat, "admin": u.is_admin,
                   "dashboard": u.password_hash is not None, "disabled": not u.enabled}
            if as_json:
                click.echo(json.dumps(row))
            else:
                flags = ", ".join(f for f in ("admin" if u.is_admin else "", "no password" if
                                              u.password_hash is None else "", "" if u.enabled else "disabled") if f)
                click.echo(f"{u.email}  {u.seat}{'  (' + flags + ')' if flags else ''}")


@user.command("set")
@click.argument("email")
@click.option("--seat", type=click.Choice(["basic", "sales"]), default=None, help="sales: click tracking of one-to-one mail.")
@click.option("--admin/--no-admin", default=None, help="Sees every message, and manages users.")
@data_option
@db_option
def user_set(email: str, seat: str | None, admin: bool | None, data_dir: Path, db_url: str | None) -> None:
    """Change a user's seat or admin role."""
    changes: dict[str, object] = {}
    if seat is not None:
        changes["seat"] = seat
    if admin is not None:
        changes["is_admin"] = admin
    if not changes:
        raise click.UsageError("nothing to change: give --seat or --admin/--no-admin")
    with open_store(data_dir, db_url) as store:
        store.update_user(_user_named(store, email).id, **changes)
        changed = _user_named(store, email)
    click.echo(f"user {email}: {changed.seat} seat{', admin' if changed.is_admin else ''}")


@user.command("disable")
@click.argument("email")
@data_option
@db_option
def user_disable(email: str, data_dir: Path, db_url: str | None) -> None:
    """Stop EMAIL at once: no dashboard login (their sessions end), API key or relay AUTH. Their data stays."""
    with open_store(data_dir, db_url) as store:
        store.set_user_disabled(_user_named(store, email).id, True)
    click.echo(f"user {email} disabled: their sessions ended; their messages and events stay "
               f"(`mailbeacon user enable {email}` lets them back in)")


@user.command("enable")
@click.argument("email")
@data_option
@db_option
def user_enable(email: str, data_dir: Path, db_url: str | None) -> None:
    """Let a disabled user log in, use their API key and send again, with the credentials they had."""
    with open_store(data_dir, db_url) as store:
        store.set_user_disabled(_user_named(store, email).id, False)
    click.echo(f"user {email} enabled")


@user.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_option
@db_option
def user_delete(email: str, yes: bool, data_dir: Path, db_url: str | None) -> None:
    """Delete EMAIL: their sessions end at once, their webhooks and connected mailbox go, the address is free
    again. Their messages, events and campaigns stay, under "deleted user": admins still see them, and
    reports do not change. `user disable` stops a user and keeps everything."""
    from mailbeacon import accounts

    with open_store(data_dir, db_url) as store:
        found = _user_named(store, email)
        messages, campaigns = store.user_holdings(found.id)
        kept = f"{many(messages, 'message')} and {many(campaigns, 'campaign')}"
        if not yes:
            click.confirm(f"Delete user {email}? Their {kept} stay under \"deleted user\"", abort=True)
        gone = accounts.delete_user(store, found)
    extra = "".join([f", {many(gone.webhooks, 'webhook')} deleted" if gone.webhooks else "",
                     ", their mailbox disconnected" if gone.mailbox else ""])
    click.echo(f"user {email} deleted{extra}; their {kept} stay, with their events, under \"deleted user\"")
