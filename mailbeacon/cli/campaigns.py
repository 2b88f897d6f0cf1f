"""`mailbeacon campaign`: preview one contact's copy."""

from __future__ import annotations

from pathlib import Path

import click

from mailbeacon.cli.options import DEFAULT_BASE_URL, data_option, db_option, open_store
from mailbeacon.errors import MailbeaconError
from mailbeacon.tokens import Keyring

@click.group()
def campaign() -> None:
    """Campaigns: one template to a contact list, personalised per contact, always tracked."""


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
