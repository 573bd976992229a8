"""Flask CLI commands: thin wrappers over services."""
from __future__ import annotations

import sys

import click
from flask import Flask


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
        raise click.ClickException(str(error.message)) from error
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
        raise click.ClickException(str(error.message)) from error
    click.echo(f"{organiser.email} now works on {', '.join(event_slugs)}.")
