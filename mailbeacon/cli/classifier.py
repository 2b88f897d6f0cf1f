"""What the classifier knows and judges with: reclassify, network ranges, do-not-track, link keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailbeacon.cli.options import data_option, db_option, open_store
from mailbeacon.errors import MailbeaconError
from mailbeacon.tokens import Keyring
from mailbeacon.wording import many

if TYPE_CHECKING:
    from mailbeacon.store import Store

@click.command()
@data_option
@db_option
def reclassify(data_dir: Path, db_url: str | None) -> None:
    """Judge every stored open and click again with today's rules, and recount everything from them."""
    from mailbeacon import service
    from mailbeacon.pipeline import Pipeline

    try:
        policy = service.classify_policy(service.Settings(data_dir=data_dir, db_url=db_url))
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    with open_store(data_dir, db_url) as store:
        derived = Pipeline(store, policy, batch=1000).reclassify()
    click.echo(f"reclassified {many(derived, 'event')}")


@click.group()
def ranges() -> None:
    """The networks the classifier knows: Apple's privacy proxies, mail security scanners."""


@ranges.command("import-apple")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
def import_apple(file: Path, data_dir: Path) -> None:
    """Replace the shipped Apple Mail Privacy Protection ranges with Apple's egress-ip-ranges.csv in FILE.

    Download https://mask-api.icloud.com/egress-ip-ranges.csv yourself; then run
    `mailbeacon reclassify` to judge past events with the new ranges.
    """
    from mailbeacon import service
    from mailbeacon.classify.networks import apple_csv_networks

    try:
        networks = apple_csv_networks(file.read_text("utf-8", errors="replace"))
    except ValueError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    if not networks:
        raise click.ClickException(f"{file}: no networks in it; the shipped ranges stay in use")
    target = data_dir / service.APPLE_RANGES
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(f"# imported from {file.name}\n" + "\n".join(networks) + "\n", "utf-8")
    tmp.replace(target)
    click.echo(f"{len(networks)} Apple networks in {target}; restart the server and run `mailbeacon reclassify`")


@click.group()
def dnt() -> None:
    """The do-not-track lists: these recipients always get an untouched copy.

    Each user has a list of their own (it applies to the mail they send); the admin-wide
    list (--global) applies to everyone's mail.
    """


def _whose(store: Store, user: str | None, everyone: bool) -> int | None:
    """The list named by --user EMAIL (that user's id) or --global (None); exactly one must be given."""
    if (user is None) == (not everyone):
        raise click.UsageError("say whose list: --user EMAIL (their own mail) or --global (everyone's mail)")
    if user is None:
        return None
    found = store.user_by_email(user)
    if found is None:
        raise click.ClickException(f"no user {user!r}; `mailbeacon user list` shows who there is")
    return found.id


def _list_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--global", "everyone", is_flag=True, help="The admin-wide list: everyone's mail.")(command)
    return click.option("--user", "user", metavar="EMAIL", default=None,
                        help="That user's own list: the mail they send.")(command)


@dnt.command("add")
@click.argument("addresses", nargs=-1, required=True)
@_list_options
@data_option
@db_option
def dnt_add(addresses: tuple[str, ...], user: str | None, everyone: bool, data_dir: Path, db_url: str | None) -> None:
    """Add ADDRESSES to a user's list (--user EMAIL) or the admin-wide one (--global)."""
    with open_store(data_dir, db_url) as store:
        user_id = _whose(store, user, everyone)
        for address in addresses:
            added = store.do_not_track_add(address, user_id=user_id)
            click.echo(f"{address.lower()}: {'added' if added else 'already on the list'}")


@dnt.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@_list_options
@data_option
@db_option
def dnt_remove(
    addresses: tuple[str, ...], user: str | None, everyone: bool, data_dir: Path, db_url: str | None
) -> None:
    """Take ADDRESSES off a user's list (--user EMAIL) or the admin-wide one (--global)."""
    with open_store(data_dir, db_url) as store:
        user_id = _whose(store, user, everyone)
        for address in addresses:
            removed = store.do_not_track_remove(address, user_id=user_id)
            click.echo(f"{address.lower()}: {'removed' if removed else 'was not on the list'}")


@dnt.command("list")
@_list_options
@data_option
@db_option
def dnt_list(user: str | None, everyone: bool, data_dir: Path, db_url: str | None) -> None:
    """Print one list, an address a line; without --user or --global every list, as ADDRESS<TAB>global|EMAIL."""
    with open_store(data_dir, db_url) as store:
        if user is not None or everyone:
            for address in store.do_not_track_list(user_id=_whose(store, user, everyone)):
                click.echo(address)
            return
        emails = {u.id: u.email for u in store.users()}
        for address, user_id in store.do_not_track_entries():
            click.echo(f"{address}\t{'global' if user_id is None else emails.get(user_id, user_id)}")


@click.group()
def keys() -> None:
    """The signing keys of tracking links."""


@keys.command("rotate")
@data_option
def rotate_keys(data_dir: Path) -> None:
    """Sign new links with a new key; links already sent keep working."""
    try:
        kid = Keyring.rotate(data_dir)
    except MailbeaconError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"new signing key {kid} in {data_dir / 'keys'}")
