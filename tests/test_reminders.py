"""Reminders before an event, and the organisers' daily approval digest: once per person, in their language."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app.db import utcnow, write_transaction
from app.events.models import Event
from app.i18n import TIMEZONE
from app.notifications.models import MessageKind, MessageStatus
from app.registration import admin_services, approval_digest, reminders
from app.registration.models import ApprovalDigestSent, Registration, RegistrationStatus, ReminderSent
from tests.conftest import submit
from tests.test_admin_events import _event_form

DAY = timedelta(days=1)


@pytest.fixture
def soon(make_event):  # type: ignore[no-untyped-def]
    """Return a factory of published events starting in ten days (reminders 7 days and 1 day before)."""

    def factory(**overrides):  # type: ignore[no-untyped-def]
        starts = (utcnow() + 10 * DAY).replace(hour=8, minute=0, second=0, microsecond=0)
        values = {"starts_at": starts, "ends_at": starts + DAY, "venue": "Zamek Królewski", "city": "Sandomierz"}
        return make_event(**{**values, **overrides})

    return factory


def _week_before(event: Event) -> datetime:
    """Return a moment just after the event's 7-day reminder fell due."""
    return event.starts_at - 7 * DAY + timedelta(minutes=5)


def _day_before(event: Event) -> datetime:
    """Return a moment just after the event's 1-day reminder fell due."""
    return event.starts_at - DAY + timedelta(minutes=5)


def _ledger(db) -> list[tuple[int, int, bool]]:  # type: ignore[no-untyped-def]
    """Return (registration, hours before, superseded) of every reminder given, in order."""
    db.session.rollback()
    rows = db.session.execute(
        select(ReminderSent.registration_id, ReminderSent.hours_before, ReminderSent.is_superseded).order_by(
            ReminderSent.registration_id, ReminderSent.hours_before.desc()
        )
    )
    return [tuple(row) for row in rows]


def _link(body: str) -> str:
    """Return the path of the private link in an email body."""
    [url] = set(re.findall(r"http://zapisy\.test(/r/[\w-]+)", body))
    return url


def test_a_reminder_carries_sessions_group_place_code_link_and_calendar_in_english(
    app, db, client, soon, make_session, register, outbox
):
    event = soon()
    workshop = make_session(event, start_hour=10, groups=[6], room="Sala A")
    registration = register(event, workshop, language="en", first_name="Anne")
    old_link = _link(outbox.messages(kind="registration_received")[0].body_text)

    assert reminders.send_due_reminders(_week_before(event) - timedelta(minutes=10)) == 0  # not due yet
    assert reminders.send_due_reminders(_week_before(event)) == 1
    [row] = outbox.messages(kind="reminder")
    assert row.language == "en" and row.subject == f"Reminder: {event.title_en}"
    assert "Hello Anne" in row.body_text
    assert "Session 10" in row.body_text and "Group: Grupa 1" in row.body_text
    assert "Zamek Królewski, Sandomierz" in row.body_text
    assert registration.checkin_code in row.body_text and registration.checkin_code in row.body_html
    assert event.starts_at.astimezone(TIMEZONE).strftime("%A, %-d %B %Y, %H:%M") in row.body_text
    [calendar] = [a for a in row.attachments if a["content_type"] == "text/calendar"]
    assert "Session 10" in calendar["content"] and "STATUS:CONFIRMED" in calendar["content"]
    assert any(a.get("qr_code") == registration.checkin_code for a in row.attachments)
    # The reminder's private link works and replaces the earlier one (only a hash is kept).
    new_link = _link(row.body_text)
    assert client.get(new_link).status_code == 200
    assert client.get(old_link).status_code == 404
    assert row.redact and row.redact[0] in new_link

    outbox.deliver(now=_week_before(event))
    [sent] = outbox.messages(kind="reminder")
    assert sent.status == MessageStatus.SENT and new_link not in sent.body_text  # the link is gone from the row


def test_a_reminder_in_polish_for_a_polish_participant(app, db, soon, make_session, register, outbox):
    event = soon()
    register(event, make_session(event), language="pl", first_name="Zofia")
    assert reminders.send_due_reminders(_day_before(event)) == 1
    [row] = outbox.messages(kind="reminder")
    assert row.language == "pl" and row.subject == f"Przypomnienie: {event.title_pl}"
    assert "Dzień dobry" in row.body_text or "Zofia" in row.body_text
    assert "Sesja 10" in row.body_text and "Session 10" not in row.body_text
    assert "Przypominamy" in row.body_text and "Miejsce: Zamek Królewski, Sandomierz" in row.body_text
    assert "zastępuje ten z wcześniejszych e-maili" in row.body_text and "Twój prywatny link" in row.body_text


def test_each_reminder_goes_out_once_then_the_next_one_and_none_after_the_start(
    app, db, soon, make_session, register, outbox
):
    event = soon()
    session = make_session(event)
    first = register(event, session)
    second = register(event, session)
    assert reminders.send_due_reminders(_week_before(event)) == 2
    assert reminders.send_due_reminders(_week_before(event) + timedelta(hours=1)) == 0  # run again: nothing
    assert reminders.send_due_reminders(_day_before(event)) == 2
    assert reminders.send_due_reminders(_day_before(event) + timedelta(hours=3)) == 0
    assert reminders.send_due_reminders(event.starts_at + timedelta(minutes=1)) == 0
    assert _ledger(db) == [
        (first.id, 168, False),
        (first.id, 24, False),
        (second.id, 168, False),
        (second.id, 24, False),
    ]
    assert len(outbox.messages(kind="reminder")) == 4


def test_cancelled_unconfirmed_and_late_registrations_get_none(
    app, db, soon, make_session, register, outbox, participant
):
    event = soon()
    session = make_session(event, capacity=10)
    staying = register(event, session)
    leaving = register(event, session)
    admin_services.cancel_registration(event.id, leaving.id)
    assert db.session.get(Registration, leaving.id).status == RegistrationStatus.CANCELLED
    waiting = register(event, session)
    with write_transaction():  # as if the event asked for confirmation by email: not confirmed yet
        db.session.get(Registration, waiting.id).confirmation_expires_at = event.starts_at
    # Registered after the 7-day reminder was due: the confirmation said it all.
    late = register(event, session)
    with write_transaction():
        db.session.get(Registration, late.id).created_at = _week_before(event) + timedelta(minutes=1)

    assert reminders.send_due_reminders(_week_before(event) + timedelta(minutes=2)) == 1
    assert [r.recipient_email for r in outbox.messages(kind="reminder")] == [staying.email]
    # The late one gets the 1-day reminder: they registered before it was due.
    assert reminders.send_due_reminders(_day_before(event)) == 2
    assert sorted(r.recipient_email for r in outbox.messages(kind="reminder"))[1:] == sorted(
        [staying.email, late.email]
    )


def test_after_a_stopped_worker_only_the_latest_due_reminder_goes_out_late(
    app, db, soon, make_session, register, outbox
):
    event = soon()
    registration = register(event, make_session(event))
    # The worker was down from before the week-before reminder until after the day-before one.
    assert reminders.send_due_reminders(_day_before(event) + timedelta(hours=2)) == 1
    [row] = outbox.messages(kind="reminder")
    assert _ledger(db) == [(registration.id, 168, True), (registration.id, 24, False)]
    [overview_week, overview_day] = reminders.reminder_overview(db.session.get(Event, event.id))
    assert (overview_week.hours_before, overview_week.sent, overview_week.superseded) == (168, 0, 1)
    assert (overview_day.hours_before, overview_day.sent, overview_day.last_sent_at) == (
        24,
        1,
        _day_before(event) + timedelta(hours=2),
    )
    assert reminders.send_due_reminders(_day_before(event) + timedelta(hours=3)) == 0


def test_drafts_and_events_without_reminders_send_none(app, db, soon, make_session, register, outbox):
    from app.events.models import EventStatus

    silent = soon(reminder_hours=[])
    register(silent, make_session(silent))
    draft = soon(status=EventStatus.DRAFT)
    with write_transaction():  # a registration made while it was published
        db.session.get(Event, draft.id).status = EventStatus.PUBLISHED
    register(draft, make_session(draft))
    with write_transaction():
        db.session.get(Event, draft.id).status = EventStatus.DRAFT
    assert reminders.send_due_reminders(_day_before(silent)) == 0
    assert outbox.messages(kind="reminder") == []


# -- several workers at once ------------------------------------------------------------------


def _race(app, monkeypatch, now: datetime, workers: int = 2) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run ``workers`` reminder runs in threads that all read who is owed a reminder before any writes."""
    barrier = threading.Barrier(workers)
    original = reminders.owed_reminders
    errors: list[BaseException] = []

    def read_then_wait(event, at):  # type: ignore[no-untyped-def]
        owed = original(event, at)
        barrier.wait(timeout=60)
        return owed

    monkeypatch.setattr(reminders, "owed_reminders", read_then_wait)

    def work() -> None:
        try:
            with app.app_context():
                reminders.send_due_reminders(now)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def _reminder_emails_per_person(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Count the reminder emails queued per recipient."""
    from app.notifications.models import OutboxMessage

    db.session.rollback()
    rows = db.session.execute(
        select(OutboxMessage.recipient_email, func.count())
        .where(OutboxMessage.kind == MessageKind.REMINDER)
        .group_by(OutboxMessage.recipient_email)
    )
    return dict(rows.all())


def test_two_workers_at_once_send_each_reminder_once(app, db, soon, make_session, register, monkeypatch):
    event = soon()
    session = make_session(event)
    people = [register(event, session).email for _ in range(8)]
    assert _race(app, monkeypatch, _week_before(event)) == []
    assert _reminder_emails_per_person(db) == {email: 1 for email in people}


def test_twin_without_the_unique_guard_two_workers_send_reminders_twice(
    app, db, backend, soon, make_session, register, monkeypatch
):
    """The twin of the test above: with the unique index dropped, both workers queue every reminder."""
    event = soon()
    session = make_session(event)
    people = [register(event, session).email for _ in range(8)]
    with write_transaction():
        db.session.execute(text("DROP INDEX uq_reminder_sent_once"))
    try:
        assert _race(app, monkeypatch, _week_before(event)) == []
        assert _reminder_emails_per_person(db) == {email: 2 for email in people}
    finally:
        if backend == "postgresql":  # the schema outlives the test there
            with write_transaction():
                db.session.execute(text("DELETE FROM reminder_sent"))
                db.session.execute(
                    text("CREATE UNIQUE INDEX uq_reminder_sent_once ON reminder_sent (registration_id, hours_before)")
                )


# -- the organiser's side ----------------------------------------------------------------------


def test_organiser_sets_reminders_on_the_event_page_and_sees_them_go_out(
    app, db, client, soon, make_session, register, as_organiser, outbox
):
    event = soon()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = client.get(f"/admin/events/{event.id}/edit")
    assert 'name="reminder_hours"' in page.text and 'value="7d, 1d"' in page.text
    form = _event_form(event.series_id, slug=event.slug, reminder_hours="3 days, 12h, 7d")
    form.update(
        starts_at=event.starts_at.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M"),
        ends_at=event.ends_at.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M"),
        registration_opens_at="",
        registration_closes_at="",
    )
    assert submit(client, f"/admin/events/{event.id}/edit", form).status_code == 303
    db.session.refresh(event)
    assert event.reminder_hours == [168, 72, 12]

    registration = register(event, make_session(event))
    assert reminders.send_due_reminders(_week_before(event)) == 1
    dashboard = client.get(f"/admin/events/{event.id}/dashboard")
    assert dashboard.status_code == 200
    assert "Reminder emails" in dashboard.text and "7 days before" in dashboard.text
    assert "3 days before" in dashboard.text and "12 hours before" in dashboard.text
    local = _week_before(event).astimezone(TIMEZONE)
    assert local.strftime("%H:%M") in dashboard.text  # when it went out
    assert registration.email not in dashboard.text

    client.get("/language/pl")
    polish = client.get(f"/admin/events/{event.id}/dashboard")
    assert "Przypomnienia e-mailem" in polish.text and "7 dni przed" in polish.text and "12 godzin przed" in polish.text


REMINDER_BAD_INPUT = [
    ("-1d", "is not a reminder"),
    ("7", "is not a reminder"),
    ("tomorrow", "is not a reminder"),
    ("0h", "from 1 hour"),
    ("61d", "from 1 hour"),
    ("1d, 2d, 3d, 4d, 5d, 6d", "at most 5"),
]


@pytest.mark.parametrize("value,message", REMINDER_BAD_INPUT)
def test_bad_reminders_are_refused_and_nothing_changes(client, db, soon, as_organiser, value, message):
    event = soon()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    form = _event_form(event.series_id, slug=event.slug, title_pl="Zmieniony", reminder_hours=value)
    response = submit(client, f"/admin/events/{event.id}/edit", form)
    assert response.status_code == 422 and message in response.text
    db.session.refresh(event)
    assert event.reminder_hours == [168, 24] and event.title_pl != "Zmieniony"


def test_polish_units_and_an_empty_field(client, db, soon, as_organiser):
    event = soon()
    as_organiser("organiser", events=[event])
    base = _event_form(event.series_id, slug=event.slug)
    assert (
        submit(client, f"/admin/events/{event.id}/edit", {**base, "reminder_hours": "2 dni; 5 godz"}).status_code == 303
    )
    db.session.refresh(event)
    assert event.reminder_hours == [48, 5]
    assert submit(client, f"/admin/events/{event.id}/edit", {**base, "reminder_hours": ""}).status_code == 303
    db.session.refresh(event)
    assert event.reminder_hours == []


def test_cli_sends_due_reminders(app, db, runner, soon, make_session, register, outbox):
    event = soon(starts_at=utcnow() + timedelta(hours=12), ends_at=utcnow() + DAY, registration_closes_at=None)
    register(event, make_session(event, start_hour=event.starts_at.hour))
    with write_transaction():
        db.session.execute(text("UPDATE registration SET created_at = :at"), {"at": utcnow() - 2 * DAY})
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0 and "Queued 1 reminders." in result.output
    assert runner.invoke(args=["reminders", "send"]).output.strip() == "Queued 0 reminders."


# -- the daily approval digest -----------------------------------------------------------------


def _warsaw(day: datetime, hour: int) -> datetime:
    """Return ``hour`` o'clock in Warsaw on ``day``'s date, in UTC."""
    return day.astimezone(TIMEZONE).replace(hour=hour, minute=0, second=0, microsecond=0).astimezone(UTC)


@pytest.fixture
def requests_waiting(soon, make_session, register):  # type: ignore[no-untyped-def]
    """Return (event, other event) with two and one requests for restricted sessions awaiting approval."""
    event = soon(title_pl="Pracownia miast Sandomierz", title_en="Urban Lab Sandomierz")
    restricted = make_session(event, eligible_categories=["expert"])
    register(event, restricted)
    register(event, restricted)
    other = soon(title_pl="Sesja Dialogu", title_en="Dialogue Session")
    register(other, make_session(other, eligible_categories=["expert"]))
    return event, other


def test_each_organiser_gets_one_digest_a_day_of_their_events(app, db, requests_waiting, make_organiser, outbox):
    event, other = requests_waiting
    mine = make_organiser("organiser", events=[event])
    both = make_organiser("organiser", events=[event, other])
    make_organiser("staff", events=[event])  # staff cannot approve
    make_organiser("organiser", events=[])  # no events
    make_organiser("organiser", events=[event], is_enabled=False)
    admin = make_organiser("admin")
    morning = _warsaw(utcnow() + DAY, 9)

    assert approval_digest.send_approval_digests(_warsaw(utcnow() + DAY, 6)) == 0  # before the hour
    assert approval_digest.send_approval_digests(morning) == 3
    assert approval_digest.send_approval_digests(morning + timedelta(hours=3)) == 0  # once a day
    rows = {row.recipient_email: row for row in outbox.messages(kind="approval_digest")}
    assert set(rows) == {mine.email, both.email, admin.email}
    assert rows[mine.email].language == "pl" and rows[mine.email].subject == "Prośby czekające na Twoją decyzję"
    assert (
        "Pracownia miast Sandomierz" in rows[mine.email].body_text and "Sesja Dialogu" not in rows[mine.email].body_text
    )
    assert "2 prośby czekają" in rows[mine.email].body_text
    assert f"/admin/events/{event.id}/registrations?booking_status=requested" in rows[mine.email].body_text
    assert "3 prośby czekają" in rows[both.email].body_text and "Sesja Dialogu" in rows[both.email].body_text

    # The next day, again; once nothing waits, nothing.
    assert approval_digest.send_approval_digests(morning + DAY) == 3
    for registration in db.session.execute(select(Registration)).scalars().all():
        booking = registration.bookings[0]
        admin_services.decline_request(registration.event_id, registration.id, booking.id)
    assert approval_digest.send_approval_digests(morning + 2 * DAY) == 0
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ApprovalDigestSent)).scalar_one() == 6


def test_two_workers_send_one_digest(app, db, requests_waiting, make_organiser, outbox, monkeypatch):
    event, _other = requests_waiting
    organiser = make_organiser("organiser", events=[event])
    barrier = threading.Barrier(2)
    original = approval_digest.send_digest

    def wait_then_send(*args):  # type: ignore[no-untyped-def]
        barrier.wait(timeout=60)
        return original(*args)

    monkeypatch.setattr(approval_digest, "send_digest", wait_then_send)
    morning = _warsaw(utcnow() + DAY, 9)
    counts: list[int] = []

    def work() -> None:
        with app.app_context():
            counts.append(approval_digest.send_approval_digests(morning))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(counts) == [0, 1]
    assert [row.recipient_email for row in outbox.messages(kind="approval_digest")] == [organiser.email]


def test_the_demo_conference_in_sandomierz_has_reminders(app, db):
    from app.demo import seed_demo_data

    seed_demo_data()
    event = db.session.execute(select(Event).where(Event.slug == "pracownia-miast-sandomierz")).scalar_one()
    assert event.reminder_hours == [168, 24]
