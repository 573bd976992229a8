"""The ``flask outbox`` commands: thin wrappers over delivery."""

from __future__ import annotations

import signal
import time
from types import FrameType

import click
from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from .delivery import DeliveryReport, deliver_all_due, deliver_due, redact_addresses, worker_name
from .models import MessageStatus, OutboxMessage
from .worker import run_due_tasks


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
    while not stopping["now"]:
        try:
            run_due_tasks()
            report = deliver_due(batch_size, worker=worker)
        except Exception:  # noqa: BLE001 - e.g. the database restarting: wait and try again
            current_app.logger.exception("Outbox delivery round failed")
            db.session.remove()
            report = DeliveryReport()
        if report.claimed:
            click.echo(_summary(report))
        if report.sent + report.failed == 0:
            time.sleep(interval)
    click.echo("Outbox worker stopped.")


@outbox_cli.command("status")
@click.option(
    "--failed", "show_failed", type=int, default=10, show_default=True, help="How many failed messages to list."
)
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
        # No address: this output ends up in terminals, cron mails and tickets.
        click.echo(
            f"#{message.id} {message.kind.value}: {redact_addresses(message.last_error, message.recipient_email)}"
        )
