"""GDPR housekeeping: the retention purge (command line and worker), SMTP errors erased, no addresses in logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import utcnow
from app.notifications import delivery
from app.notifications.models import MessageStatus
from app.notifications.worker import run_due_tasks, tasks
from app.registration import gdpr
from app.registration.models import Registration

ADDRESS = "Jan.Kowalski@example.com"


def _end(db, event, days_ago: float) -> None:  # type: ignore[no-untyped-def]
    """Move the event into the past: it ended ``days_ago`` days ago."""
    ends = utcnow() - timedelta(days=days_ago)
    event.registration_opens_at = event.registration_closes_at = None
    event.starts_at, event.ends_at = ends - timedelta(hours=8), ends
    db.session.commit()


def _anonymised(db) -> set[int]:  # type: ignore[no-untyped-def]
    """Return the ids of the anonymised registrations."""
    db.session.rollback()
    return set(db.session.execute(select(Registration.id).where(Registration.anonymised_at.is_not(None))).scalars())


@pytest.fixture
def past_events(db, make_event, make_session, register):  # type: ignore[no-untyped-def]
    """Register two people at an event that ended 400 days ago, one at 300 days ago, one upcoming."""
    events = {}
    people: dict[str, list[int]] = {}
    for name, days_ago in (("old", 400), ("recent", 300), ("upcoming", None)):
        event = make_event()
        session = make_session(event, capacity=5)
        people[name] = [register(event, session).id for _ in range(2 if name == "old" else 1)]
        if days_ago is not None:
            _end(db, event, days_ago)
        events[name] = event
    return people


# --- the retention purge -------------------------------------------------------------


@pytest.mark.app_config(GDPR_RETENTION_DAYS=365)
def test_purge_without_a_date_uses_the_retention_period(runner, db, past_events):
    dry = runner.invoke(args=["gdpr", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would anonymise 2 registrations of 1 events that ended before" in dry.output
    assert "365 days ago" in dry.output
    assert _anonymised(db) == set()

    result = runner.invoke(args=["gdpr", "purge"])
    assert result.exit_code == 0 and "Anonymised 2 registrations of 1 events" in result.output
    assert _anonymised(db) == set(past_events["old"])
    again = runner.invoke(args=["gdpr", "purge"])
    assert "Anonymised 0 registrations" in again.output


@pytest.mark.app_config(GDPR_RETENTION_DAYS=365)
def test_an_explicit_date_still_wins_over_the_retention_period(runner, db, past_events):
    cutoff = (utcnow() - timedelta(days=200)).strftime("%Y-%m-%d")
    result = runner.invoke(args=["gdpr", "purge", "--before", cutoff])
    assert result.exit_code == 0 and "Anonymised 3 registrations of 2 events" in result.output
    assert _anonymised(db) == set(past_events["old"] + past_events["recent"])


@pytest.mark.app_config(GDPR_RETENTION_DAYS=0)
def test_purge_without_a_date_or_a_retention_period_explains_itself(runner, db, past_events):
    result = runner.invoke(args=["gdpr", "purge"])
    assert result.exit_code == 2
    assert "Give --before YYYY-MM-DD, or set GDPR_RETENTION_DAYS" in result.output
    assert _anonymised(db) == set()


@pytest.mark.parametrize("value, days", [("", 0), ("0", 0), (" 30 ", 30)])
def test_the_retention_setting_reads_empty_as_off(monkeypatch, value, days):
    from config import _days

    monkeypatch.setenv("GDPR_RETENTION_DAYS", value)
    assert _days("GDPR_RETENTION_DAYS", 365) == days


@pytest.mark.parametrize("value", ["a year", "-1", "1.5"])
def test_a_bad_retention_setting_is_refused_with_a_message(monkeypatch, value):
    from config import _days

    monkeypatch.setenv("GDPR_RETENTION_DAYS", value)
    with pytest.raises(ValueError, match="GDPR_RETENTION_DAYS must be a whole number of days"):
        _days("GDPR_RETENTION_DAYS", 365)


DAY = 24 * 3600.0


def _purged(clock: float) -> bool:
    """Run the worker's due tasks at ``clock`` (monotonic seconds); tell whether the retention purge ran."""
    return "purge past retention" in run_due_tasks(lambda: clock)


@pytest.mark.app_config(GDPR_RETENTION_DAYS=365)
def test_the_worker_purges_when_it_starts_then_once_a_day(db, past_events, make_event, make_session, register, caplog):
    caplog.set_level(logging.INFO)
    assert _purged(1000.0)
    assert _anonymised(db) == set(past_events["old"])
    assert "GDPR retention purge: anonymised 2 registrations of 1 events" in caplog.text
    [entry] = db.session.execute(select(AuditEntry).where(AuditEntry.action == "gdpr_purge")).scalars()
    assert entry.actor_label == "retention" and entry.details["registrations"] == 2

    # Another event passes the retention period an hour later: it waits for the next day's purge.
    late = make_event()
    late_id = register(late, make_session(late)).id
    _end(db, late, 366)
    assert not _purged(1000.0 + 3600)
    assert late_id not in _anonymised(db)
    assert _purged(1000.0 + DAY)
    assert _anonymised(db) == {*past_events["old"], late_id}


@pytest.mark.app_config(GDPR_RETENTION_DAYS=0)
def test_the_worker_does_not_purge_with_retention_off(db, past_events):
    assert "purge past retention" not in [task.name for task in tasks()]
    assert not _purged(5.0)
    assert _anonymised(db) == set()


@pytest.mark.app_config(GDPR_RETENTION_DAYS=365)
def test_a_failed_purge_is_logged_and_tried_again_an_hour_later(db, past_events, monkeypatch, caplog):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database restarting")

    monkeypatch.setattr(gdpr, "purge_before", broken)
    with caplog.at_level(logging.ERROR):
        assert _purged(50.0)
    assert "Outbox worker task 'purge past retention' failed" in caplog.text
    assert _anonymised(db) == set()
    monkeypatch.undo()
    assert not _purged(50.0 + 3000)
    assert _purged(50.0 + 3600)
    assert _anonymised(db) == set(past_events["old"])


# --- no address left behind: erasure and the worker's logs ---------------------------


def _failed_delivery(app, smtp_server, register, make_event, make_session, reply: str):  # type: ignore[no-untyped-def]
    """Register ADDRESS, have the SMTP server refuse it with ``reply``, and deliver; return the registration."""
    app.config.update(OUTBOX_MAX_ATTEMPTS=1)
    event = make_event()
    registration = register(event, make_session(event), email=ADDRESS)
    smtp_server.handler.rcpt_replies[ADDRESS] = reply
    delivery.deliver_all_due()
    return registration


def test_erasure_blanks_the_smtp_error_that_quoted_the_address(
    app, db, smtp_server, register, make_event, make_session, outbox
):
    registration = _failed_delivery(
        app, smtp_server, register, make_event, make_session, f"550 5.1.1 <{ADDRESS}>: Recipient address rejected"
    )
    [row] = outbox.messages()
    assert row.status == MessageStatus.FAILED and ADDRESS in row.last_error  # the organisers see the reply
    gdpr.erase_registration(registration)
    [row] = outbox.messages()
    assert row.last_error == "" and ADDRESS not in row.recipient_email


@pytest.mark.parametrize(
    "reply",
    [
        f"550 5.1.1 <{ADDRESS}>: Recipient address rejected",  # failed for good
        f"452 4.2.2 <{ADDRESS.lower()}>: mailbox full",  # given up after the last attempt
    ],
)
def test_the_log_of_a_failed_delivery_names_the_message_not_the_address(
    app, db, smtp_server, register, make_event, make_session, outbox, caplog, reply
):
    with caplog.at_level(logging.INFO, logger="app.notifications.delivery"):
        _failed_delivery(app, smtp_server, register, make_event, make_session, reply)
    [row] = outbox.messages()
    [record] = [r for r in caplog.records if r.name == "app.notifications.delivery"]
    assert record.levelno == logging.WARNING and f"Outbox message {row.id} failed" in record.getMessage()
    assert reply.split()[0] in record.getMessage()  # the reply code stays
    assert "example.com" not in caplog.text.lower()


def test_the_log_of_a_retry_and_the_send_command_do_not_carry_the_address(
    app, db, smtp_server, register, make_event, make_session, caplog
):
    event = make_event()
    register(event, make_session(event), email=ADDRESS)
    smtp_server.handler.rcpt_replies[ADDRESS] = f"451 4.7.1 <{ADDRESS}>: greylisted, try again later"
    with caplog.at_level(logging.INFO, logger="app.notifications.delivery"):
        result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert "will be retried: 451 4.7.1 <[recipient]>: greylisted" in caplog.text
    assert result.exit_code == 1 and "Nothing could be delivered: 451" in result.output
    assert "example.com" not in (caplog.text + result.output).lower()


def test_an_unexpected_error_is_logged_with_its_traceback_but_without_the_address(
    app, db, register, make_event, make_session, outbox, caplog, monkeypatch
):
    event = make_event()
    register(event, make_session(event), email=ADDRESS)

    def broken(claim):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"cannot write a message to {claim.recipient_email} (cc other@example.org)")

    monkeypatch.setattr(delivery, "build_message", broken)
    with caplog.at_level(logging.INFO, logger="app.notifications.delivery"):
        delivery.deliver_due()
    [row] = outbox.messages()
    assert f"Unexpected error delivering outbox message {row.id}" in caplog.text
    assert (
        "Traceback" in caplog.text
        and "RuntimeError: cannot write a message to [recipient] (cc [address])" in caplog.text
    )
    assert "example" not in caplog.text.lower()
    assert row.status == MessageStatus.PENDING  # retried, as before


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"550 <{ADDRESS}> unknown", "550 <[recipient]> unknown"),
        (f"550 {ADDRESS.upper()}... unknown", "550 [recipient]... unknown"),
        ("550 mailbox jan@xn--d1acufc.xn--p1ai unknown", "550 mailbox [address] unknown"),
        ("421 service not available", "421 service not available"),
    ],
)
def test_addresses_are_masked_in_error_texts(text, expected):
    assert delivery.redact_addresses(text, ADDRESS) == expected
