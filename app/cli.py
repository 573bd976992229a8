"""Flask CLI commands: thin wrappers over services."""
from __future__ import annotations

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
