"""The ``flask certificates`` commands: thin wrappers over the certificates' services."""

from __future__ import annotations

from pathlib import Path

import click
from flask_babel import force_locale

from .services import CertificateError, event_certificates_pdf, find_event, offer_certificates


def _message(error: CertificateError) -> str:
    """Return a refusal's message in English, as the command line speaks."""
    with force_locale("en"):
        return str(error.message)


@click.group("certificates")
def certificates_cli() -> None:
    """Certificates of attendance (after the event, for participants checked in)."""


@certificates_cli.command("send")
@click.argument("event")
def send_command(event: str) -> None:
    """Email every checked-in participant of EVENT (slug or id) not emailed yet a link to their certificate."""
    try:
        found = find_event(event)
        sent = offer_certificates(found.id, actor="cli")
    except CertificateError as error:
        raise click.ClickException(_message(error)) from error
    click.echo(f"{sent} email{'s' if sent != 1 else ''} queued (delivered by the outbox worker).")


@certificates_cli.command("download")
@click.argument("event")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="PDF to write.",
)
def download_command(event: str, output: Path) -> None:
    """Write every certificate of EVENT (slug or id) into one PDF, a page per checked-in participant."""
    try:
        body = event_certificates_pdf(find_event(event), "en")
    except CertificateError as error:
        raise click.ClickException(_message(error)) from error
    output.write_bytes(body)
    click.echo(f"Wrote {output}.")
