"""Flask CLI commands: thin wrappers over services."""
from __future__ import annotations

import sys

import click
from flask import Flask


def cli_text(message: object) -> str:
    """Render a translatable message for the command line, which speaks English."""
    from flask_babel import force_locale

    with force_locale("en"):
        return str(message)


def init_cli(app: Flask) -> None:
    """Register the project's commands on ``app``."""

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo series and events (safe to run again)."""
        from .demo import seed_demo_data

        created = seed_demo_data()
        if created:
            click.echo(f"Demo data loaded: {len(created)} events created ({', '.join(created)}).")
        else:
            click.echo("Demo data already present: nothing to do.")

    app.cli.add_command(organiser_cli)
    app.cli.add_command(export_command)


@click.group("organiser")
def organiser_cli() -> None:
    """Manage back-office accounts."""


@organiser_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "organiser", "staff"]), default="organiser", show_default=True)
@click.option("--name", default="", help="Display name.")
@click.option("--event", "event_slugs", multiple=True, help="Slug of an event the account works on (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def create_organiser_command(email: str, role: str, name: str, event_slugs: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account; asks for the password unless --password-stdin is given."""
    from .auth.models import Role
    from .auth.services import AuthError, assign_events, create_organiser

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        organiser = create_organiser(email, password, Role(role), name=name)
        if event_slugs:
            assign_events(organiser.id, list(event_slugs))
    except AuthError as error:
        raise click.ClickException(cli_text(error.message)) from error
    click.echo(f"Created {role} account {organiser.email}" + (f" for {', '.join(event_slugs)}" if event_slugs else "") + ".")


@organiser_cli.command("assign")
@click.argument("email")
@click.argument("event_slugs", nargs=-1, required=True)
def assign_organiser_command(email: str, event_slugs: tuple[str, ...]) -> None:
    """Give an account access to events."""
    from .auth.services import AuthError, assign_events, find_organiser

    try:
        organiser = find_organiser(email)
        assign_events(organiser.id, list(event_slugs))
    except AuthError as error:
        raise click.ClickException(cli_text(error.message)) from error
    click.echo(f"{organiser.email} now works on {', '.join(event_slugs)}.")


@click.command("export")
@click.argument("event_slug")
@click.option("--format", "kind", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--session", "session_id", type=int, help="Export one session's list.")
@click.option("--group", "group_id", type=int, help="Export one group's list.")
@click.option("--status", type=click.Choice(["all", "confirmed", "waitlisted", "requested", "cancelled"]), default="all", show_default=True)
@click.option("--delimiter", type=click.Choice([";", ","]), default=";", show_default=True, help="CSV separator.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write (CSV: standard output by default).")
def export_command(event_slug: str, kind: str, session_id: int | None, group_id: int | None, status: str,
                   delimiter: str, output: str | None) -> None:
    """Export an event's attendee list as CSV or XLSX."""
    import shutil

    from sqlalchemy import select

    from .events.models import Event
    from .exports.services import ExportError, audit_export, begin_snapshot, build_request, csv_chunks, end_snapshot, write_xlsx
    from .extensions import db

    event = db.session.execute(select(Event).where(Event.slug == event_slug)).scalar_one_or_none()
    if event is None:
        raise click.ClickException(f"No event has the slug {event_slug!r}.")
    try:
        request = build_request(event, session_id, group_id, status)
    except ExportError as error:
        raise click.ClickException(cli_text(error.message)) from error
    if kind == "xlsx" and not output:
        raise click.ClickException("XLSX needs a file: add -o FILE.xlsx.")
    audit_export(request, kind, actor="cli")
    begin_snapshot()
    try:
        if kind == "csv":
            stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
            try:
                for chunk in csv_chunks(request, delimiter):
                    stream.write(chunk)
            finally:
                if output:
                    stream.close()
        else:
            path = write_xlsx(request, event)
            shutil.move(path, output)
    finally:
        end_snapshot()
    if output:
        click.echo(f"Wrote {output}.", err=True)
