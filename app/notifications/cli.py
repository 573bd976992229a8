"""The ``flask outbox`` commands: thin wrappers over delivery."""
from __future__ import annotations

import math
import signal
import time
from types import FrameType

import click
from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..registration.counters import audit_counters
from .delivery import DeliveryReport, deliver_all_due, deliver_due, worker_name
from .models import MessageStatus, OutboxMessage


@click.group("outbox")
def outbox_cli() -> None:
    """Deliver the queued participant emails."""


def _summary(report: DeliveryReport) -> str:
    """Describe a delivery round in one line."""
    return f"{report.sent} sent, {report.retried} to retry, {report.failed} failed."


@outbox_cli.command("send")
@click.option("--batch-size", type=int, default=None, help="Messages per SMTP connection.")
def send_command(batch_size: int | None) -> None:
    """Deliver every message that is due now, once."""
    report = deliver_all_due(batch_size)
    click.echo(_summary(report))
    if report.retried and not report.sent:
        raise click.ClickException(f"Nothing could be delivered: {report.errors[-1]}")


@outbox_cli.command("work")
@click.option("--batch-size", type=int, default=None, help="Messages per SMTP connection.")
@click.option("--interval", type=float, default=None, help="Seconds to wait when nothing is due.")
def work_command(batch_size: int | None, interval: float | None) -> None:
    """Deliver due messages in a loop until interrupted (SIGINT or SIGTERM)."""
    interval = interval if interval is not None else current_app.config["OUTBOX_POLL_INTERVAL"]
    worker = worker_name()
    stopping = {"now": False}

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"Outbox worker {worker} started.")
    audit_due = time.monotonic()  # the first audit right away, then every COUNTER_AUDIT_INTERVAL
    while not stopping["now"]:
        try:
            _expire_holds()
            report = deliver_due(batch_size, worker=worker)
        except Exception:  # noqa: BLE001 - e.g. the database restarting: wait and try again
            current_app.logger.exception("Outbox delivery round failed")
            db.session.remove()
            report = DeliveryReport()
        if report.claimed:
            click.echo(_summary(report))
        audit_due = audit_counters_when_due(audit_due)
        if report.sent + report.failed == 0:
            time.sleep(interval)
    click.echo("Outbox worker stopped.")


def _expire_holds() -> None:
    """Pass on offered places and release unconfirmed holds whose time ran out (the worker loop is the scheduler)."""
    from ..db import utcnow
    from ..ranking.offers import expire_offers
    from ..registration.holds import expire_holds

    expire_offers(utcnow())
    expire_holds(utcnow())


LOGGED_DRIFTS = 20  # a log line stays readable however many counters drifted


def audit_counters_when_due(due_at: float, now: float | None = None) -> float:
    """Audit the place counters if ``due_at`` (monotonic seconds) has come; return when to audit next.

    Drift is logged as one ERROR line of kinds, ids and numbers (no personal data, no titles);
    ``flask check counters --repair`` repairs it. COUNTER_AUDIT_INTERVAL 0 switches the audit off.
    """
    interval = current_app.config["COUNTER_AUDIT_INTERVAL"]
    if interval <= 0:
        return math.inf
    now = time.monotonic() if now is None else now
    if now < due_at:
        return due_at
    try:
        audit = audit_counters()
        db.session.rollback()  # end the read: the worker holds no snapshot while it sleeps
    except Exception:  # noqa: BLE001 - e.g. the database restarting: the next audit comes anyway
        current_app.logger.exception("Counter audit failed")
        db.session.remove()
        return now + interval
    if audit.drifts:
        shown = "; ".join(
            f"{d.kind.value} {d.id} of event {d.event_id}: taken {d.taken}, bookings {d.counted}, "
            f"capacity {'unlimited' if d.capacity is None else d.capacity}"
            for d in audit.drifts[:LOGGED_DRIFTS]
        )
        more = len(audit.drifts) - LOGGED_DRIFTS
        current_app.logger.error(
            "Counter audit: %d counters disagree with their bookings (of %d sessions and %d groups; "
            "flask check counters --repair repairs them): %s%s",
            len(audit.drifts), audit.sessions, audit.groups, shown, f"; and {more} more" if more > 0 else "",
        )
    return now + interval


@outbox_cli.command("status")
@click.option("--failed", "show_failed", type=int, default=10, show_default=True, help="How many failed messages to list.")
def status_command(show_failed: int) -> None:
    """Count messages by status and list the latest failed ones with their errors."""
    counts = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    click.echo(", ".join(f"{status.value}: {counts.get(status, 0)}" for status in MessageStatus))
    failed = db.session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.status == MessageStatus.FAILED)
        .order_by(OutboxMessage.id.desc())
        .limit(show_failed)
    ).scalars()
    for message in failed:
        click.echo(f"#{message.id} {message.kind.value} to {message.recipient_email}: {message.last_error}")
