"""The `mailbeacon` command: thin wrappers that parse arguments and call one function each.

One module per command group; this one only assembles them under `main`.
"""

from __future__ import annotations

import click

from mailbeacon import __version__
from mailbeacon.cli import (
    campaigns,
    classifier,
    contacts,
    feed,
    mail,
    mailbox,
    operations,
    privacy,
    serve,
    suppression,
    users,
)


@click.group()
@click.version_option(__version__, prog_name="mailbeacon")
def main() -> None:
    """Email open and click tracking that never breaks the email."""


for command in (
    mail.instrument, mail.send, mail.captured, serve.serve, classifier.reclassify, classifier.ranges,
    classifier.dnt, classifier.keys, users.user, contacts.contacts, campaigns.campaign, privacy.privacy, feed.feed,
    mailbox.mailbox, suppression.suppression, operations.init, operations.migrate, operations.backup,
):
    main.add_command(command)
