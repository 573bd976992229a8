"""Flask CLI commands: thin wrappers over services."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import Flask

from .i18n import TIMEZONE


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
    from .notifications.cli import outbox_cli

    app.cli.add_command(outbox_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(gdpr_cli)
    app.cli.add_command(allocate_command)
    app.cli.add_command(offers_cli)
    app.cli.add_command(holds_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(check_cli)
    from .certificates.cli import certificates_cli

    app.cli.add_command(certificates_cli)


@click.group("organiser")
def organiser_cli() -> None:
    """Manage back-office accounts."""


@organiser_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "organiser", "staff"]), default="organiser", show_default=True)
@click.option("--name", default="", help="Display name.")
@click.option("--event", "event_slugs", multiple=True, help="Slug of an event the account works on (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def create_organiser_command(
    email: str, role: str, name: str, event_slugs: tuple[str, ...], password_stdin: bool
) -> None:
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
    click.echo(
        f"Created {role} account {organiser.email}" + (f" for {', '.join(event_slugs)}" if event_slugs else "") + "."
    )


@organiser_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def set_password_command(email: str, password_stdin: bool) -> None:
    """Set an account's password (asked twice, not shown); its open sessions end."""
    from .auth.services import AuthError, find_organiser, set_password

    try:
        organiser = find_organiser(email)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        set_password(organiser.id, password)
    except AuthError as error:
        raise click.ClickException(cli_text(error.message)) from error
    click.echo(f"New password set for {organiser.email}; its open sessions have ended.")


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
@click.option(
    "--status",
    type=click.Choice(["all", "confirmed", "waitlisted", "requested", "cancelled"]),
    default="all",
    show_default=True,
)
@click.option("--delimiter", type=click.Choice([";", ","]), default=";", show_default=True, help="CSV separator.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write (CSV: standard output by default).",
)
def export_command(
    event_slug: str,
    kind: str,
    session_id: int | None,
    group_id: int | None,
    status: str,
    delimiter: str,
    output: str | None,
) -> None:
    """Export an event's attendee list as CSV or XLSX."""
    import shutil

    from sqlalchemy import select

    from .events.models import Event
    from .exports.services import ExportError, csv_stream, start_export, xlsx_export
    from .extensions import db

    event = db.session.execute(select(Event).where(Event.slug == event_slug)).scalar_one_or_none()
    if event is None:
        raise click.ClickException(f"No event has the slug {event_slug!r}.")
    if kind == "xlsx" and not output:
        raise click.ClickException("XLSX needs a file: add -o FILE.xlsx.")
    try:
        request = start_export(event, session_id, group_id, status, kind, actor="cli")
    except ExportError as error:
        raise click.ClickException(cli_text(error.message)) from error
    if kind == "csv":
        stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            for chunk in csv_stream(request, delimiter):
                stream.write(chunk)
        finally:
            if output:
                stream.close()
    else:
        shutil.move(xlsx_export(request, event), output)
    if output:
        click.echo(f"Wrote {output}.", err=True)


@click.group("gdpr")
def gdpr_cli() -> None:
    """Personal data (GDPR / RODO) tools."""


def _start_of_day(day: str) -> datetime:
    """Return the start of ``day`` (YYYY-MM-DD, an option --before) in Warsaw time."""
    try:
        return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=TIMEZONE)
    except ValueError as error:
        raise click.BadParameter("use the form YYYY-MM-DD, e.g. 2025-12-31", param_hint="--before") from error


@gdpr_cli.command("purge")
@click.option(
    "--before",
    "before",
    default=None,
    help="Anonymise registrations of events that ended before this date (YYYY-MM-DD). "
    "Default: GDPR_RETENTION_DAYS before now.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be anonymised.")
def gdpr_purge_command(before: str | None, dry_run: bool) -> None:
    """Anonymise the registrations of past events, keeping the aggregate counts."""
    from flask import current_app

    from .registration.gdpr import purge_before, retention_cutoff

    if before is not None:
        cutoff = _start_of_day(before)
        described = before
    else:
        retention = retention_cutoff()
        if retention is None:
            raise click.UsageError(
                "Give --before YYYY-MM-DD, or set GDPR_RETENTION_DAYS to purge by age (it is 0: off)."
            )
        cutoff = retention
        days = current_app.config["GDPR_RETENTION_DAYS"]
        described = f"{cutoff:%Y-%m-%d %H:%M} UTC ({days} days ago, GDPR_RETENTION_DAYS)"
    result = purge_before(cutoff, dry_run=dry_run)
    verb = "Would anonymise" if dry_run else "Anonymised"
    click.echo(f"{verb} {result.registrations} registrations of {result.events} events that ended before {described}.")


@gdpr_cli.command("purge-special")
@click.option(
    "--before",
    "before",
    default=None,
    help="Erase special-category answers of events that ended before this date (YYYY-MM-DD). "
    "Default: GDPR_SPECIAL_RETENTION_DAYS before now (0: every event that has ended).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be erased.")
def gdpr_purge_special_command(before: str | None, dry_run: bool) -> None:
    """Erase the answers to special-category questions (health) of past events, before the general purge."""
    from flask import current_app

    from .registration.questions import purge_special_answers, special_cutoff

    if before is not None:
        cutoff = _start_of_day(before)
        described = before
    else:
        cutoff = special_cutoff()
        days = current_app.config["GDPR_SPECIAL_RETENTION_DAYS"]
        described = f"{cutoff:%Y-%m-%d %H:%M} UTC ({days} days ago, GDPR_SPECIAL_RETENTION_DAYS)"
    count = purge_special_answers(cutoff, dry_run=dry_run)
    verb = "Would erase" if dry_run else "Erased"
    click.echo(f"{verb} {count} special-category answers of events that ended before {described}.")


@click.command("allocate")
@click.argument("event_slug")
@click.option("--preview", "mode", flag_value="preview", default=True, help="Compute and store a preview (default).")
@click.option(
    "--publish",
    "mode",
    flag_value="publish",
    help="Publish the newest preview (or --run) exactly: book its places and email every participant.",
)
@click.option("--run", "run_id", type=int, default=None, help="With --publish: the preview to publish.")
@click.option(
    "--objective",
    type=click.Choice(["fair", "linear", "rank-maximal"]),
    default=None,
    help="Objective of a preview (default fair).",
)
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None, help="Lottery seed (random when omitted).")
@click.option(
    "--mix", "mix_attribute", type=click.Choice(["city", "category"]), default=None, help="Mix rule attribute."
)
@click.option("--max-per-group", type=click.IntRange(1, 1000), default=None, help="Mix rule: at most N per group.")
def allocate_command(
    event_slug: str,
    mode: str,
    run_id: int | None,
    objective: str | None,
    seed: int | None,
    mix_attribute: str | None,
    max_per_group: int | None,
) -> None:
    """Allocate an event's ranked workshops: compute a preview, or publish one exactly, and print the figures."""
    from .allocation import Objective
    from .ranking import services
    from .ranking.errors import RankingError
    from .ranking.models import RunStatus

    event = services.find_event(event_slug)
    if event is None:
        raise click.ClickException(f"No event has the slug {event_slug!r}.")
    try:
        if mode == "publish":
            if objective or seed is not None or mix_attribute or max_per_group:
                raise click.UsageError(
                    "--publish publishes a preview as it was computed: give the settings to the preview."
                )
            if run_id is None:
                run_id = next((r.id for r in services.runs(event.id) if r.status == RunStatus.PREVIEW), None)
                if run_id is None:
                    raise click.ClickException("No preview to publish: run a preview first.")
            run = services.publish(event, run_id, actor="cli")
        else:
            if run_id is not None:
                raise click.UsageError("--run goes with --publish.")
            options = services.Options(
                Objective(objective or "fair"), seed, mix_attribute, max_per_group if mix_attribute else None
            )
            run = services.preview(event, options, actor="cli")
    except RankingError as error:
        raise click.ClickException(cli_text(error.message)) from error
    click.echo(f"Run {run.id} ({run.status.value}) of {event.slug}: objective {run.objective}, seed {run.seed}.")
    click.echo(f"{'method':<14}{'1st choice':>12}{'any choice':>12}{'nothing':>9}")
    for key, label in (("optimal", "optimised"), ("first_come", "first-come"), ("lottery", "lottery")):
        overall = run.figures[key]["overall"]
        click.echo(
            f"{label:<14}{overall['first_choice_share']:>11.1%}{overall['any_choice_share']:>12.1%}"
            f"{overall['left_with_nothing']:>9}"
        )
    for workshop in run.figures["optimal"]["workshops"]:
        click.echo(
            f"  workshop {workshop['id']}: {workshop['assigned']}/{workshop['capacity']} given, "
            f"1st-choice demand {workshop['first_choice_demand']}"
        )


@click.group("offers")
def offers_cli() -> None:
    """Places of ranked workshops offered from the waiting lists."""


@offers_cli.command("expire")
def expire_offers_command() -> None:
    """Pass on every offer whose time to accept is over."""
    from .registration.offers import expire_offers

    click.echo(f"Expired {expire_offers()} offers.")


@click.group("holds")
def holds_cli() -> None:
    """Places held for registrations awaiting email confirmation."""


@holds_cli.command("expire")
def expire_holds_command() -> None:
    """Cancel every registration not confirmed by email in time, releasing its places."""
    from .registration.holds import expire_holds

    click.echo(f"Expired {expire_holds()} unconfirmed registrations.")


@click.group("reminders")
def reminders_cli() -> None:
    """Reminder emails before events and the organisers' daily approval digest."""


@reminders_cli.command("send")
def send_reminders_command() -> None:
    """Queue every reminder that is due now (each person gets each reminder once)."""
    from .registration.reminders import send_due_reminders

    click.echo(f"Queued {send_due_reminders()} reminders.")


@reminders_cli.command("digest")
def send_digest_command() -> None:
    """Queue today's digest of requests awaiting approval to the organisers who have not had it."""
    from .registration.approval_digest import send_approval_digests

    click.echo(f"Queued {send_approval_digests()} approval digests.")


@click.group("check")
def check_cli() -> None:
    """Consistency checks of the stored data."""


def _count(number: int, noun: str) -> str:
    """Spell ``number noun`` with the noun in the plural unless the number is one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _agree(number: int) -> str:
    """Conjugate "disagree" for ``number`` counters."""
    return "disagrees" if number == 1 else "disagree"


@check_cli.command("counters")
@click.option(
    "--repair",
    is_flag=True,
    help="Set each drifting counter to its bookings (never above its capacity), then check again.",
)
def check_counters_command(repair: bool) -> None:
    """Compare the places taken in every session and group with the bookings that hold them."""
    from .registration.counters import RepairOutcome, audit_counters, repair_counters

    audit = audit_counters()
    if audit.is_consistent:
        click.echo(
            f"All {_count(audit.sessions, 'session')} and {_count(audit.groups, 'group')} agree with their bookings."
        )
        return
    if not repair:
        click.echo(f"{_count(len(audit.drifts), 'counter')} {_agree(len(audit.drifts))} with the bookings:")
        for drift in audit.drifts:
            click.echo(f"  {drift.describe()}")
        raise click.ClickException(
            "Counters drifted: `flask --app app check counters --repair` sets them to the bookings."
        )
    done = {
        RepairOutcome.REPAIRED: "Repaired",
        RepairOutcome.OVERBOOKED: "OVERBOOKED, needs an organiser (cancel bookings or raise the capacity, then repair again)",
        RepairOutcome.ALREADY_CONSISTENT: "Agreed again by itself",
        RepairOutcome.GONE: "Deleted meanwhile",
    }
    for item in repair_counters(audit.drifts, actor="cli"):
        changed = (
            item.outcome in (RepairOutcome.REPAIRED, RepairOutcome.OVERBOOKED) and item.taken_after != item.drift.taken
        )
        click.echo(
            f"{done[item.outcome]}: {item.drift.describe()}" + (f" -> taken {item.taken_after}" if changed else "")
        )
    after = audit_counters()
    if after.drifts:
        for drift in after.drifts:
            click.echo(f"  still: {drift.describe()}")
        raise click.ClickException(
            f"{_count(len(after.drifts), 'counter')} still {_agree(len(after.drifts))} with the bookings."
        )
    click.echo(
        f"All {_count(after.sessions, 'session')} and {_count(after.groups, 'group')} agree with their bookings now."
    )
