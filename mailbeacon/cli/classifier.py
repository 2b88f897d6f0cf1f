"""What the classifier knows and judges with: reclassify, network ranges, do-not-track, link keys."""

from __future__ import annotations

from pathlib import Path

import click

from mailbeacon.cli.options import data_option, db_option, open_store
from mailbeacon.errors import MailbeaconError
from mailbeacon.tokens import Keyring

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
    click.echo(f"reclassified {derived} events")


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
    """The do-not-track list: these recipients always get an untouched copy."""


@dnt.command("add")
@click.argument("addresses", nargs=-1, required=True)
@data_option
@db_option
def dnt_add(addresses: tuple[str, ...], data_dir: Path, db_url: str | None) -> None:
    """Add ADDRESSES to the do-not-track list."""
    with open_store(data_dir, db_url) as store:
        for address in addresses:
            added = store.do_not_track_add(address)
            click.echo(f"{address.lower()}: {'added' if added else 'already on the list'}")


@dnt.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@data_option
@db_option
def dnt_remove(addresses: tuple[str, ...], data_dir: Path, db_url: str | None) -> None:
    """Take ADDRESSES off the do-not-track list."""
    with open_store(data_dir, db_url) as store:
        for address in addresses:
            removed = store.do_not_track_remove(address)
            click.echo(f"{address.lower()}: {'removed' if removed else 'was not on the list'}")


@dnt.command("list")
@data_option
@db_option
def dnt_list(data_dir: Path, db_url: str | None) -> None:
    """Print the do-not-track list, one address a line."""
    with open_store(data_dir, db_url) as store:
        for address in store.do_not_track():
            click.echo(address)


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
