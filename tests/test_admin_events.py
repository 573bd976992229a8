"""Back office: series, events, sessions, groups and accounts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import Organiser
from app.events.models import BookingMode, Event, EventStatus, Group, Partner, Series, Session, SessionKind
from app.i18n import TIMEZONE as WARSAW
from app.notifications.models import MessageKind, OutboxMessage
from app.registration import services as registration_services
from app.registration.models import Booking, BookingStatus, Registration
from tests.conftest import NOW, csrf_token, login, submit


def _post(client, url: str, data: dict | None = None):  # type: ignore[no-untyped-def]
    """POST to an action route with a CSRF token taken from the back-office home."""
    token = csrf_token(client.get("/admin/").text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    """Count the rows of ``model`` matching ``where``."""
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


# Signing in and out is audited too (tests/test_login_audit.py); these tests look at the changes made.
CHANGES = AuditEntry.action.not_in(("account.login", "account.login_failed", "account.logout"))


def _actions(db) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the recorded audit actions of changes (not sign-ins), oldest first."""
    return list(db.session.execute(select(AuditEntry.action).where(CHANGES).order_by(AuditEntry.id)).scalars())


def _local(value: datetime) -> datetime:
    """Return the Warsaw wall-clock time of an aware datetime, without zone."""
    return value.astimezone(WARSAW).replace(tzinfo=None)


def _event_form(series_id: int, **overrides: str) -> dict:
    """Return a valid event form."""
    year = NOW.year + 1
    data = {
        "series_id": str(series_id),
        "slug": "dialog-lodz",
        "title_pl": "Sesja Dialogu",
        "title_en": "Dialogue Session",
        "description_pl": "Opis\nw dwóch liniach",
        "description_en": "",
        "edition_label": "XII",
        "city": "Łódź",
        "venue": "EC1",
        "starts_at": f"{year}-03-20T09:00",
        "ends_at": f"{year}-03-21T16:00",
        "registration_opens_at": f"{year}-01-10T10:00",
        "registration_closes_at": f"{year}-06-15T23:59",
        "max_ranked_choices": "3",
        "contact_email": "biuro@example.com",
    }
    data.update(overrides)
    return data


def _session_form(event: Event, **overrides) -> dict:  # type: ignore[no-untyped-def]
    """Return a valid session form on the event's first day."""
    day = _local(event.starts_at).date().isoformat()
    data = {
        "kind": "workshop",
        "booking_mode": "instant",
        "title_pl": "Warsztat",
        "title_en": "Workshop",
        "description_pl": "",
        "description_en": "",
        "starts_at": f"{day}T10:00",
        "ends_at": f"{day}T11:30",
        "room": "Sala A",
        "capacity": "20",
        "eligible_categories": ["mayor", "deputy_mayor"],
    }
    data.update(overrides)
    return data


# --- series ---------------------------------------------------------------------------


def test_admin_creates_and_edits_a_series(client, db, as_organiser):
    as_organiser("admin")
    response = submit(client, "/admin/series/new", {"slug": "trasa-2027", "name_pl": "Trasa", "name_en": "Tour"})
    assert response.status_code == 303
    series = db.session.execute(select(Series)).scalar_one()
    assert (series.slug, series.name_pl, series.name_en) == ("trasa-2027", "Trasa", "Tour")
    response = submit(
        client, f"/admin/series/{series.id}/edit", {"slug": "trasa-2027", "name_pl": "Trasa miast", "name_en": ""}
    )
    assert response.status_code == 303
    db.session.refresh(series)
    assert series.name_pl == "Trasa miast" and series.name_en == ""
    assert _actions(db) == ["series.created", "series.updated"]


def test_series_slug_must_be_unique(client, db, make_event, as_organiser):
    make_event()  # creates "test-series"
    as_organiser("admin")
    client.get("/language/en")
    response = submit(client, "/admin/series/new", {"slug": "test-series", "name_pl": "Druga"})
    assert response.status_code == 422
    assert "already used" in response.text
    assert _count(db, Series) == 1


# --- events ---------------------------------------------------------------------------


def test_organiser_creates_a_draft_event_in_warsaw_time_and_gets_access(client, db, make_event, as_organiser):
    earlier = make_event()
    series_id = earlier.series_id
    organiser = as_organiser("organiser", events=[earlier])
    response = submit(
        client, "/admin/events/new", _event_form(series_id, registration_closes_at=f"{NOW.year + 1}-06-15T23:59")
    )
    assert response.status_code == 303
    event = db.session.execute(select(Event).where(Event.slug == "dialog-lodz")).scalar_one()
    year = NOW.year + 1
    assert event.status == EventStatus.DRAFT
    # March is winter time (UTC+1), June summer time (UTC+2).
    assert event.starts_at == datetime(year, 3, 20, 8, 0, tzinfo=UTC)
    assert event.registration_closes_at == datetime(year, 6, 15, 21, 59, tzinfo=UTC)
    assert event.description_pl == "Opis\nw dwóch liniach" and event.contact_email == "biuro@example.com"
    db.session.refresh(organiser)
    assert event in organiser.events
    assert _actions(db) == ["event.created"]
    # The edit page shows the times back in Warsaw time.
    page = client.get(f"/admin/events/{event.id}/edit")
    assert page.status_code == 200 and f'value="{year}-03-20T09:00"' in page.text


def test_edit_event_saves_the_fields(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    form = _event_form(event.series_id, slug=event.slug, title_pl="Nowy tytuł", city="Kutno", max_ranked_choices="5")
    response = submit(client, f"/admin/events/{event.id}/edit", form)
    assert response.status_code == 303
    db.session.refresh(event)
    assert (event.title_pl, event.city, event.max_ranked_choices) == ("Nowy tytuł", "Kutno", 5)
    entry = db.session.execute(select(AuditEntry).where(CHANGES)).scalar_one()
    assert entry.action == "event.updated" and entry.event_id == event.id and "city" in entry.details["fields"]


def _spring_forward(year: int) -> str:
    """Return 02:30 on the night the clocks move forward in Poland (a time that does not exist)."""
    day = date(year, 3, 31)
    while day.weekday() != 6:
        day -= timedelta(days=1)
    return f"{day.isoformat()}T02:30"


EVENT_BAD_INPUT = [
    ({"slug": "Zły Adres"}, "lower-case letters"),
    ({"slug": "ab"}, "lower-case letters"),
    ({"slug": "taken-slug"}, "already used"),
    ({"ends_at": "2020-01-01T10:00"}, "The end must not be before the start."),
    ({"starts_at": "tomorrow"}, "Enter a date and time."),
    ({"starts_at": ""}, "This field is required."),
    ({"starts_at": _spring_forward(NOW.year + 1)}, "does not exist in Warsaw"),
    ({"registration_closes_at": "2020-01-01T10:00"}, "Registration must close after it opens."),
    ({"title_pl": "x" * 251}, "longer than 250"),
    ({"title_pl": ""}, "This field is required."),
    ({"city": "Łódź\u202e"}, "not allowed"),
    ({"max_ranked_choices": "11"}, "from 1 to 10"),
    ({"max_ranked_choices": "three"}, "Not a valid integer"),
    ({"contact_email": "not-an-email"}, "Invalid email"),
    ({"series_id": "999"}, "Not a valid choice"),
    ({"description_en": "x" * 20001}, "longer than 20000"),
]


@pytest.mark.parametrize("override,message", EVENT_BAD_INPUT)
def test_bad_event_input_is_refused_and_nothing_changes(client, db, make_event, as_organiser, override, message):
    event = make_event(slug="my-event")
    make_event(slug="taken-slug")
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    form = _event_form(event.series_id, slug="my-event", title_pl="Zmieniony")
    response = submit(client, f"/admin/events/{event.id}/edit", {**form, **override})
    assert response.status_code == 422
    assert message in response.text
    db.session.refresh(event)
    assert event.slug == "my-event" and event.title_pl != "Zmieniony"
    assert _count(db, AuditEntry, CHANGES) == 0


def test_bad_input_on_the_new_event_form_creates_nothing(client, db, make_event, as_organiser):
    existing = make_event()
    as_organiser("admin")
    response = submit(client, "/admin/events/new", _event_form(existing.series_id, slug=existing.slug))
    assert response.status_code == 422
    assert _count(db, Event) == 1


def test_publish_close_and_reopen(client, db, make_event, as_organiser):
    event = make_event(status=EventStatus.DRAFT)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    for action, status in [
        ("publish", EventStatus.PUBLISHED),
        ("close", EventStatus.CLOSED),
        ("reopen", EventStatus.PUBLISHED),
    ]:
        assert _post(client, f"/admin/events/{event.id}/status/{action}").status_code == 303
        db.session.refresh(event)
        assert event.status == status
    # Publishing a published event is refused with a message, nothing changes.
    response = _post(client, f"/admin/events/{event.id}/status/publish")
    assert "not possible" in client.get(response.headers["Location"]).text
    db.session.refresh(event)
    assert event.status == EventStatus.PUBLISHED
    assert _actions(db) == ["event.publish", "event.close", "event.reopen"]


def test_clone_shifts_times_copies_programme_and_starts_as_a_draft(
    client, db, make_event, make_session, register, as_organiser
):
    year = NOW.year + 1
    starts = datetime(year, 3, 20, 9, 0, tzinfo=WARSAW)
    source = make_event(
        starts_at=starts,
        ends_at=starts + timedelta(days=1, hours=7),
        registration_closes_at=starts - timedelta(days=1),
        contact_email="biuro@example.com",
        max_ranked_choices=2,
    )
    source.partners = [Partner(name="Miasto Łódź", url="https://lodz.pl", position=1)]
    db.session.commit()
    workshop = make_session(source, start_hour=10, groups=[5, 7], eligible_categories=["mayor"], room="A")
    plenary = make_session(source, start_hour=13, kind=SessionKind.PLENARY, capacity=None)
    register(source, workshop)
    organiser = as_organiser("organiser", events=[source])
    colleague_id = organiser.id

    target_day = date(year, 4, 17)  # after the change to summer time
    response = submit(
        client,
        f"/admin/events/{source.id}/clone",
        {"slug": "dialog-kutno", "city": "Kutno", "venue": "Hala", "starts_on": target_day.isoformat()},
    )
    assert response.status_code == 303
    clone = db.session.execute(select(Event).where(Event.slug == "dialog-kutno")).scalar_one()
    days = (target_day - starts.date()).days
    assert clone.status == EventStatus.DRAFT
    assert (clone.city, clone.venue, clone.contact_email, clone.max_ranked_choices) == (
        "Kutno",
        "Hala",
        "biuro@example.com",
        2,
    )
    assert _local(clone.starts_at) == _local(source.starts_at) + timedelta(days=days)
    assert _local(clone.ends_at) == _local(source.ends_at) + timedelta(days=days)
    assert _local(clone.registration_closes_at) == _local(source.registration_closes_at) + timedelta(days=days)
    assert _local(clone.registration_opens_at) == _local(source.registration_opens_at) + timedelta(days=days)
    assert [(s.title_pl, s.kind, s.capacity, s.taken, s.eligible_categories, s.room) for s in clone.sessions] == [
        (workshop.title_pl, SessionKind.WORKSHOP, 12, 0, ["mayor"], "A"),
        (plenary.title_pl, SessionKind.PLENARY, None, 0, [], ""),
    ]
    for copy, original in zip(clone.sessions, [workshop, plenary]):
        assert _local(copy.starts_at) == _local(original.starts_at) + timedelta(days=days)
        assert _local(copy.ends_at) == _local(original.ends_at) + timedelta(days=days)
    assert [(g.name, g.capacity, g.taken) for g in clone.sessions[0].groups] == [("Grupa 1", 5, 0), ("Grupa 2", 7, 0)]
    assert [(p.name, p.url) for p in clone.partners] == [("Miasto Łódź", "https://lodz.pl")]
    assert _count(db, Registration, Registration.event_id == clone.id) == 0
    assert clone.id in {e.id for e in db.session.get(Organiser, colleague_id).events}
    # The source is untouched.
    db.session.refresh(workshop)
    assert workshop.taken == 1 and source.slug != clone.slug
    assert _actions(db)[-1] == "event.cloned"


def test_clone_with_a_used_slug_is_refused(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("admin")
    client.get("/language/en")
    response = submit(
        client, f"/admin/events/{event.id}/clone", {"slug": event.slug, "city": "Kutno", "starts_on": "2030-01-01"}
    )
    assert response.status_code == 422 and "already used" in response.text
    assert _count(db, Event) == 1


def test_event_with_registrations_cannot_be_deleted(client, db, make_event, register, as_organiser):
    used, empty = make_event(), make_event(status=EventStatus.DRAFT)
    registration = register(used)
    registration_services.cancel_registration(registration)
    as_organiser("admin")
    client.get("/language/en")
    response = _post(client, f"/admin/events/{used.id}/delete")
    assert "cannot be deleted" in client.get(response.headers["Location"]).text
    assert db.session.get(Event, used.id) is not None
    assert _post(client, f"/admin/events/{empty.id}/delete").status_code == 303
    assert _count(db, Event, Event.id == empty.id) == 0
    assert _actions(db) == ["event.deleted"]


# --- sessions -------------------------------------------------------------------------


def test_create_session(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    form = _session_form(event, capacity="", booking_mode="ranked")
    assert submit(client, f"/admin/events/{event.id}/sessions/new", form).status_code == 303
    session = db.session.execute(select(Session)).scalar_one()
    assert session.capacity is None and session.taken == 0
    assert session.booking_mode == BookingMode.RANKED
    assert session.eligible_categories == ["mayor", "deputy_mayor"]
    assert _local(session.starts_at).strftime("%H:%M") == "10:00"
    assert (session.ends_at - session.starts_at) == timedelta(minutes=90)
    assert _actions(db) == ["session.created"]
    page = client.get(f"/admin/events/{event.id}/sessions/")
    assert page.status_code == 200 and "Warsztat" in page.text


SESSION_BAD_INPUT = [
    ({"capacity": "-1"}, "Enter a whole number from 0"),
    ({"capacity": "many"}, "Not a valid integer"),
    ({"eligible_categories": ["mayor", "alien"]}, "This choice is not available."),
    ({"ends_at": "2020-01-01T10:00"}, "The end must be after the start."),
    ({"title_pl": "x" * 251}, "longer than 250"),
    ({"room": "r" * 121}, "longer than 120"),
    ({"kind": "banquet"}, "Not a valid choice"),
    ({"booking_mode": "lottery"}, "Not a valid choice"),
    ({"starts_at": "31.12.2030 10:00"}, "Enter a date and time."),
]


@pytest.mark.parametrize("override,message", SESSION_BAD_INPUT)
def test_bad_session_input_is_refused_and_nothing_changes(
    client, db, make_event, make_session, as_organiser, override, message
):
    event = make_event()
    session = make_session(event, capacity=10, title_pl="Stary tytuł")
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/edit", {**_session_form(event), **override}
    )
    assert response.status_code == 422
    assert message in response.text
    db.session.refresh(session)
    assert (session.title_pl, session.capacity, session.eligible_categories) == ("Stary tytuł", 10, [])
    response = submit(client, f"/admin/events/{event.id}/sessions/new", {**_session_form(event), **override})
    assert response.status_code == 422
    assert _count(db, Session) == 1 and _count(db, AuditEntry, CHANGES) == 0


def test_lowering_capacity_below_confirmed_places_is_refused(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    session = make_session(event, capacity=3)
    for _ in range(3):
        register(event, session)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    form = _session_form(event, capacity="2", title_pl=session.title_pl)
    response = submit(client, f"/admin/events/{event.id}/sessions/{session.id}/edit", form)
    assert response.status_code == 422
    assert "3 places are already confirmed" in response.text
    assert 'id="capacity-error"' in response.text  # shown next to the field
    db.session.refresh(session)
    assert (session.capacity, session.taken) == (3, 3)


def test_raising_capacity_promotes_the_first_waiting_and_emails_them(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    session = make_session(event, capacity=1)
    people = [register(event, session) for _ in range(4)]
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    form = _session_form(event, capacity="3", eligible_categories=[])
    response = submit(client, f"/admin/events/{event.id}/sessions/{session.id}/edit", form, follow_redirects=True)
    assert response.status_code == 200 and "2 people got a place from the waiting list" in response.text
    statuses = [
        db.session.execute(select(Booking.status).where(Booking.registration_id == r.id)).scalar_one() for r in people
    ]
    assert statuses == [
        BookingStatus.CONFIRMED,
        BookingStatus.CONFIRMED,
        BookingStatus.CONFIRMED,
        BookingStatus.WAITLISTED,
    ]
    db.session.refresh(session)
    assert (session.capacity, session.taken) == (3, 3)
    emailed = (
        db.session.execute(select(OutboxMessage.registration_id).where(OutboxMessage.kind == MessageKind.PROMOTED))
        .scalars()
        .all()
    )
    assert sorted(emailed) == [people[1].id, people[2].id]
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "session.updated")).scalar_one()
    assert entry.details["capacity"] == [1, 3] and len(entry.details["promoted"]) == 2


def test_unlimited_capacity_promotes_everyone_waiting(db, make_event, make_session, register, app):
    from app.admin import programme as manage

    event = make_event()
    session = make_session(event, capacity=0)
    register(event, session)
    register(event, session)
    data = manage.SessionData(
        kind=session.kind,
        title_pl=session.title_pl,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        capacity=None,
    )
    with app.test_request_context():
        change = manage.update_session(session.id, data)
    assert len(change.promoted) == 2
    db.session.refresh(session)
    assert (session.capacity, session.taken) == (None, 2)


def test_session_capacity_update_is_guarded_by_the_confirmed_count(db, make_event, make_session, register, app):
    from app.admin import programme as manage

    event = make_event()
    session = make_session(event, capacity=2)
    register(event, session)
    register(event, session)
    # A form read before the bookings would see taken=0; the UPDATE itself decides.
    stale = manage.SessionData(
        kind=session.kind, title_pl="x", starts_at=session.starts_at, ends_at=session.ends_at, capacity=1
    )
    with app.test_request_context(), pytest.raises(manage.CapacityBelowTaken):
        manage.update_session(session.id, stale)
    db.session.refresh(session)
    assert (session.capacity, session.title_pl) == (2, "Sesja 10")


def test_booking_mode_cannot_change_once_people_booked(client, db, make_event, make_session, register, as_organiser):
    event = make_event()
    session = make_session(event, capacity=5)
    register(event, session)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/edit", _session_form(event, booking_mode="ranked")
    )
    assert response.status_code == 422 and "booking mode cannot change" in response.text
    db.session.refresh(session)
    assert session.booking_mode == BookingMode.INSTANT


def test_session_with_bookings_cannot_be_deleted_even_cancelled_ones(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    booked, empty = make_session(event, start_hour=9, capacity=5), make_session(event, start_hour=12)
    registration = register(event, booked)
    registration_services.cancel_registration(registration)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    response = _post(client, f"/admin/events/{event.id}/sessions/{booked.id}/delete")
    assert response.status_code == 303
    assert "cannot be deleted" in client.get(response.headers["Location"]).text
    assert db.session.get(Session, booked.id) is not None
    assert _post(client, f"/admin/events/{event.id}/sessions/{empty.id}/delete").status_code == 303
    assert _count(db, Session) == 1
    assert _actions(db) == ["session.deleted"]


# --- groups ---------------------------------------------------------------------------


def test_group_capacity_moves_the_session_and_promotes(client, db, make_event, make_session, register, as_organiser):
    event = make_event()
    session = make_session(event, groups=[1, 1])
    people = [register(event, session) for _ in range(4)]  # 2 confirmed, 2 waiting
    first, second = session.groups
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    url = f"/admin/events/{event.id}/sessions/{session.id}/groups/{first.id}/edit"
    response = submit(client, url, {"name": "Grupa A", "capacity": "2", "facilitator": "Jan", "room": "B"})
    assert response.status_code == 303
    db.session.refresh(session)
    db.session.refresh(first)
    assert (first.name, first.capacity, first.taken) == ("Grupa A", 2, 2)
    assert (session.capacity, session.taken) == (3, 3)
    third = db.session.execute(select(Booking).where(Booking.registration_id == people[2].id)).scalar_one()
    fourth = db.session.execute(select(Booking).where(Booking.registration_id == people[3].id)).scalar_one()
    assert (third.status, third.group_id) == (BookingStatus.CONFIRMED, first.id)
    assert fourth.status == BookingStatus.WAITLISTED
    assert _count(db, OutboxMessage, OutboxMessage.kind == MessageKind.PROMOTED) == 1

    # Lowering the other group below its confirmed place is refused; nothing moves.
    url = f"/admin/events/{event.id}/sessions/{session.id}/groups/{second.id}/edit"
    response = submit(client, url, {"name": second.name, "capacity": "0"})
    assert response.status_code == 422 and "1 places are already confirmed" in response.text
    db.session.refresh(session)
    db.session.refresh(second)
    assert (second.capacity, session.capacity) == (1, 3)


def test_adding_and_deleting_groups_keeps_the_session_capacity_the_sum(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    session = make_session(event, groups=[2])
    register(event, session)
    register(event, session)
    waiting = register(event, session)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/groups/new", {"name": "Stolik 2", "capacity": "4"}
    )
    assert response.status_code == 303
    db.session.refresh(session)
    assert (session.capacity, session.taken) == (6, 3)
    assert (
        db.session.execute(select(Booking.status).where(Booking.registration_id == waiting.id)).scalar_one()
        == BookingStatus.CONFIRMED
    )
    full, new = session.groups
    # The new group now has a booking: it stays. An empty one can go, and the sum follows.
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/groups/new", {"name": "Stolik 3", "capacity": "5"}
    )
    db.session.refresh(session)
    assert session.capacity == 11
    empty = session.groups[-1]
    response = _post(client, f"/admin/events/{event.id}/sessions/{session.id}/groups/{new.id}/delete")
    assert "cannot be deleted" in client.get(response.headers["Location"]).text
    assert _post(client, f"/admin/events/{event.id}/sessions/{session.id}/groups/{empty.id}/delete").status_code == 303
    db.session.refresh(session)
    assert [g.name for g in session.groups] == [full.name, "Stolik 2"] and session.capacity == 6
    assert _actions(db) == ["group.created", "group.created", "group.deleted"]


def test_session_with_groups_ignores_a_typed_capacity(client, db, make_event, make_session, as_organiser):
    event = make_event()
    session = make_session(event, groups=[3, 4])
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/sessions/{session.id}/edit")
    assert (
        'disabled id="capacity"' in page.text
        or "disabled" in page.text.split('id="capacity"')[0].rsplit("<input", 1)[1]
    )
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/edit", _session_form(event, capacity="100")
    )
    assert response.status_code == 303
    db.session.refresh(session)
    assert session.capacity == 7


def test_groups_cannot_be_added_to_a_session_with_confirmed_places_outside_groups(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    session = make_session(event, capacity=5)
    register(event, session)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/groups/new", {"name": "G", "capacity": "3"}
    )
    assert response.status_code == 422 and "outside groups" in response.text
    assert _count(db, Group) == 0


@pytest.mark.parametrize(
    "override,message",
    [
        ({"capacity": "-2"}, "Enter a whole number from 0"),
        ({"name": "n" * 121}, "longer than 120"),
    ],
)
def test_bad_group_input_is_refused(client, db, make_event, make_session, as_organiser, override, message):
    event = make_event()
    session = make_session(event, groups=[3])
    group = session.groups[0]
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    url = f"/admin/events/{event.id}/sessions/{session.id}/groups/{group.id}/edit"
    response = submit(client, url, {"name": "Nowa", "capacity": "5", **override})
    assert response.status_code == 422 and message in response.text
    db.session.refresh(group)
    assert (group.name, group.capacity) == ("Grupa 1", 3)


def test_a_session_of_another_event_is_404(client, make_event, make_session, as_organiser):
    mine, other = make_event(), make_event()
    foreign = make_session(other, groups=[2])
    as_organiser("organiser", events=[mine])
    assert client.get(f"/admin/events/{mine.id}/sessions/{foreign.id}/edit").status_code == 404
    assert (
        client.get(f"/admin/events/{mine.id}/sessions/{foreign.id}/groups/{foreign.groups[0].id}/edit").status_code
        == 404
    )


# --- accounts -------------------------------------------------------------------------


def test_admin_creates_disables_and_enables_an_account_and_assigns_events(client, app, db, make_event, as_organiser):
    event = make_event()
    admin = as_organiser("admin")
    response = submit(
        client,
        "/admin/accounts/new",
        {"email": "Ewa@Example.com", "name": "Ewa", "role": "staff", "password": "a long password"},
    )
    assert response.status_code == 303
    account = db.session.execute(select(Organiser).where(Organiser.email == "ewa@example.com")).scalar_one()
    assert account.role.value == "staff" and account.password_hash.startswith("scrypt")

    # The new account logs in elsewhere.
    other = app.test_client()
    assert login(other, account, "a long password").status_code == 302
    assert other.get("/admin/").status_code == 200

    assert _post(client, f"/admin/accounts/{account.id}/events", {"event_id": str(event.id)}).status_code == 303
    db.session.refresh(account)
    assert [e.id for e in account.events] == [event.id]

    version = account.session_version
    assert _post(client, f"/admin/accounts/{account.id}/disable").status_code == 303
    db.session.refresh(account)
    assert not account.is_enabled and account.session_version == version + 1
    assert other.get("/admin/").status_code == 302  # logged out
    assert _post(client, f"/admin/accounts/{account.id}/enable").status_code == 303
    db.session.refresh(account)
    assert account.is_enabled and account.session_version == version + 2

    assert _post(client, f"/admin/accounts/{account.id}/events/{event.id}/remove").status_code == 303
    db.session.refresh(account)
    assert account.events == []
    assert _actions(db) == [
        "account.created",
        "account.event_assigned",
        "account.disabled",
        "account.enabled",
        "account.event_unassigned",
    ]
    assert client.get("/admin/accounts/").status_code == 200
    assert admin.is_enabled


@pytest.mark.parametrize(
    "override,message",
    [
        ({"password": "short"}, "at least 10 characters"),
        ({"email": "not an email"}, "Invalid email"),
        ({"email": "Taken@example.com"}, "already exists"),
        ({"role": "root"}, "Not a valid choice"),
    ],
)
def test_bad_account_input_is_refused(client, db, make_organiser, as_organiser, override, message):
    make_organiser("staff", email="taken@example.com")
    as_organiser("admin")
    client.get("/language/en")
    form = {"email": "new@example.com", "name": "N", "role": "organiser", "password": "a long password", **override}
    response = submit(client, "/admin/accounts/new", form)
    assert response.status_code == 422 and message in response.text
    assert _count(db, Organiser) == 2


def test_admin_cannot_disable_their_own_account(client, db, as_organiser):
    admin = as_organiser("admin")
    client.get("/language/en")
    response = _post(client, f"/admin/accounts/{admin.id}/disable")
    assert "cannot disable your own account" in client.get(response.headers["Location"]).text
    db.session.refresh(admin)
    assert admin.is_enabled


# --- access ---------------------------------------------------------------------------

EVENT_ROUTES = [
    ("GET", "/admin/events/{event}/edit"),
    ("POST", "/admin/events/{event}/edit"),
    ("POST", "/admin/events/{event}/status/publish"),
    ("POST", "/admin/events/{event}/status/close"),
    ("POST", "/admin/events/{event}/status/reopen"),
    ("GET", "/admin/events/{event}/clone"),
    ("POST", "/admin/events/{event}/clone"),
    ("POST", "/admin/events/{event}/delete"),
    ("GET", "/admin/events/{event}/sessions/"),
    ("GET", "/admin/events/{event}/sessions/new"),
    ("POST", "/admin/events/{event}/sessions/new"),
    ("GET", "/admin/events/{event}/sessions/{session}/edit"),
    ("POST", "/admin/events/{event}/sessions/{session}/edit"),
    ("POST", "/admin/events/{event}/sessions/{session}/delete"),
    ("GET", "/admin/events/{event}/sessions/{session}/groups/new"),
    ("POST", "/admin/events/{event}/sessions/{session}/groups/new"),
    ("GET", "/admin/events/{event}/sessions/{session}/groups/{group}/edit"),
    ("POST", "/admin/events/{event}/sessions/{session}/groups/{group}/edit"),
    ("POST", "/admin/events/{event}/sessions/{session}/groups/{group}/delete"),
]

ADMIN_ROUTES = [
    ("GET", "/admin/series/"),
    ("GET", "/admin/series/new"),
    ("POST", "/admin/series/new"),
    ("GET", "/admin/series/{series}/edit"),
    ("POST", "/admin/series/{series}/edit"),
    ("GET", "/admin/accounts/"),
    ("GET", "/admin/accounts/new"),
    ("POST", "/admin/accounts/new"),
    ("GET", "/admin/accounts/{account}"),
    ("POST", "/admin/accounts/{account}/disable"),
    ("POST", "/admin/accounts/{account}/enable"),
    ("POST", "/admin/accounts/{account}/events"),
    ("POST", "/admin/accounts/{account}/events/{event}/remove"),
]


def _request(client, method: str, url: str):  # type: ignore[no-untyped-def]
    """Send a GET, or a POST with a valid CSRF token and a plausible body."""
    if method == "GET":
        return client.get(url)
    return _post(
        client, url, {"name": "X", "capacity": "1", "slug": "new-slug", "city": "X", "starts_on": "2030-01-01"}
    )


@pytest.fixture
def programme(make_event, make_session, make_organiser):  # type: ignore[no-untyped-def]
    """Return the ids an access rule is checked against: an event with a session and a group."""
    event = make_event(status=EventStatus.DRAFT)
    session = make_session(event, groups=[3])
    account = make_organiser("organiser", events=[event])
    return {
        "event": event.id,
        "session": session.id,
        "group": session.groups[0].id,
        "series": event.series_id,
        "account": account.id,
        "_event": event,
    }


def _snapshot(db) -> tuple:  # type: ignore[no-untyped-def]
    """Return what any management action would change."""
    return (
        _count(db, Event),
        _count(db, Session),
        _count(db, Group),
        _count(db, Series),
        _count(db, Organiser),
        _count(db, AuditEntry, CHANGES),
    )


@pytest.mark.parametrize("method,path", EVENT_ROUTES)
def test_organiser_of_another_event_gets_404(client, db, make_event, programme, as_organiser, method, path):
    as_organiser("organiser", events=[make_event()])
    before = _snapshot(db)
    assert _request(client, method, path.format(**programme)).status_code == 404
    assert _snapshot(db) == before


@pytest.mark.parametrize("method,path", EVENT_ROUTES)
def test_staff_of_the_event_gets_403(client, db, programme, as_organiser, method, path):
    as_organiser("staff", events=[programme["_event"]])
    before = _snapshot(db)
    assert _request(client, method, path.format(**programme)).status_code == 403
    assert _snapshot(db) == before


@pytest.mark.parametrize("role", ["organiser", "staff"])
@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_admin_only_pages_refuse_other_roles(client, db, programme, as_organiser, role, method, path):
    as_organiser(role, events=[programme["_event"]])
    before = _snapshot(db)
    assert _request(client, method, path.format(**programme)).status_code == 403
    assert _snapshot(db) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_staff_cannot_create_events(client, db, programme, as_organiser, method):
    as_organiser("staff", events=[programme["_event"]])
    before = _snapshot(db)
    assert _request(client, method, "/admin/events/new").status_code == 403
    assert _snapshot(db) == before


def test_anonymous_visitors_are_sent_to_the_login(client, programme):
    response = client.get(f"/admin/events/{programme['event']}/edit")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_pages_render_for_an_organiser(client, programme, as_organiser):
    as_organiser("organiser", events=[programme["_event"]])
    for path, _method in [(p, m) for m, p in EVENT_ROUTES if m == "GET"]:
        assert client.get(path.format(**programme)).status_code == 200, path
    home = client.get("/admin/").text
    assert f"/admin/events/{programme['event']}/edit" in home and "/admin/accounts/" not in home


def test_admin_pages_render_in_both_languages(client, programme, as_organiser):
    as_organiser("admin")
    for language in ("pl", "en"):
        client.get(f"/language/{language}")
        for method, path in ADMIN_ROUTES + EVENT_ROUTES + [("GET", "/admin/events/new"), ("GET", "/admin/")]:
            if method == "GET":
                assert client.get(path.format(**programme)).status_code == 200, path


def _foreign_series_with_a_no_show(db, make_event, make_organiser, participant) -> Series:  # type: ignore[no-untyped-def]
    """Return another organiser's series whose past meeting had ala@example.com as a no-show."""
    from app.checkin.models import CheckIn, day_scope

    foreign = Series(slug="foreign-tour", name_pl="Cudza seria", name_en="Someone else's series")
    db.session.add(foreign)
    db.session.commit()
    starts = NOW - timedelta(days=60)
    past = make_event(
        series=foreign,
        slug="foreign-past",
        starts_at=starts,
        ends_at=starts + timedelta(days=1),
        registration_opens_at=starts - timedelta(days=30),
        registration_closes_at=None,
    )
    make_organiser("organiser", events=[past])
    came = registration_services.register(past, participant(email="came@example.com"), registration_services.Choices())
    registration_services.register(past, participant(email="ala@example.com"), registration_services.Choices())
    db.session.add(
        CheckIn(
            event_id=past.id, registration_id=came.registration.id, day=starts.date(), scope=day_scope(starts.date())
        )
    )
    db.session.commit()
    return foreign


def test_an_organiser_cannot_attach_an_event_to_another_organisers_series(
    client, db, make_event, make_organiser, as_organiser, participant
):
    """The probe: an event in someone else's series would let series priority reveal its no-shows."""
    from app.admin import programme

    foreign = _foreign_series_with_a_no_show(db, make_event, make_organiser, participant)
    mine = Series(slug="own-tour", name_pl="Własna seria", name_en="Own series")
    empty = Series(slug="new-tour", name_pl="Nowa seria", name_en="New series")
    db.session.add_all([mine, empty])
    db.session.commit()
    own = make_event(series=mine, slug="own-event")
    organiser = as_organiser("organiser", events=[own])
    page = client.get("/admin/events/new").text
    assert "Cudza seria" not in page
    assert f'value="{own.series_id}"' in page and f'value="{empty.id}"' in page

    assert submit(client, "/admin/events/new", _event_form(foreign.id, slug="probe")).status_code == 422
    assert _count(db, Event, Event.slug == "probe") == 0
    assert submit(client, f"/admin/events/{own.id}/edit", _event_form(foreign.id, slug=own.slug)).status_code == 422
    db.session.refresh(own)
    assert own.series_id != foreign.id

    # The service refuses it too (a form offering every series would not get past it).
    data = programme.EventData(
        series_id=foreign.id,
        slug="probe",
        title_pl="Sonda",
        city="Kutno",
        starts_at=NOW + timedelta(days=30),
        ends_at=NOW + timedelta(days=31),
    )
    with pytest.raises(programme.SeriesNotYours) as refusal:
        programme.create_event(data, assign_to=organiser.id)
    assert refusal.value.field == "series_id"

    # Its own series and a series with no meeting yet are open to the organiser.
    assert submit(client, "/admin/events/new", _event_form(own.series_id, slug="own-next")).status_code == 303
    assert submit(client, "/admin/events/new", _event_form(empty.id, slug="new-first")).status_code == 303


def test_an_admin_may_attach_an_event_to_any_series(client, db, make_event, make_organiser, as_organiser, participant):
    from app.ranking.history import series_history

    foreign = _foreign_series_with_a_no_show(db, make_event, make_organiser, participant)
    as_organiser("admin")
    assert submit(client, "/admin/events/new", _event_form(foreign.id, slug="by-admin")).status_code == 303
    event = db.session.execute(select(Event).where(Event.slug == "by-admin")).scalar_one()
    # What an organiser's event there could have probed: the earlier meeting's no-show.
    assert series_history(event, {"ala@example.com", "came@example.com"})["ala@example.com"].tier == -1
