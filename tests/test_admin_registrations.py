"""The organisers' registrations pages: list and search, details, actions, access and races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.events.models import Event, Group, Session
from app.extensions import db as _db
from app.notifications.models import OutboxMessage
from app.registration import admin_services, capacity, services
from app.registration.admin_services import RegistrationFilters, list_registrations
from app.registration.models import Booking, BookingStatus, Registration, RegistrationStatus
from app.registration.search import fold, search_text
from tests.conftest import FORM_DEFAULTS, NOW, csrf_token, login
from tests.test_concurrency import _naive_precheck, _naive_take_place


def _url(event, registration=None, tail: str = "") -> str:
    """Return a back-office registrations URL."""
    url = f"/admin/events/{event.id}/registrations"
    if registration is not None:
        url += f"/{registration.id}"
    return url + tail


def _post(client, event, registration, tail: str, data: dict | None = None, follow: bool = True):  # type: ignore[no-untyped-def]
    """POST an action from the registration's page (with its CSRF token)."""
    page = client.get(_url(event, registration))
    assert page.status_code == 200, page.status_code
    return client.post(
        _url(event, registration, tail),
        data={**(data or {}), "csrf_token": csrf_token(page.text)},
        follow_redirects=follow,
    )


def _state(db) -> tuple:  # type: ignore[no-untyped-def]
    """Return everything an action may change, to check that a refused one changed nothing."""
    db.session.rollback()
    return (
        db.session.execute(select(Booking.id, Booking.status, Booking.group_id).order_by(Booking.id)).all(),
        db.session.execute(select(Session.id, Session.taken, Session.capacity).order_by(Session.id)).all(),
        db.session.execute(select(Group.id, Group.taken, Group.capacity).order_by(Group.id)).all(),
        db.session.execute(
            select(Registration.id, Registration.status, Registration.manage_token_hash).order_by(Registration.id)
        ).all(),
        db.session.execute(select(AuditEntry.id)).all(),
        db.session.execute(select(OutboxMessage.id)).all(),
    )


def _fresh(db, model, ident):  # type: ignore[no-untyped-def]
    """Read a row as committed now."""
    db.session.rollback()
    return db.session.get(model, ident, populate_existing=True)


def _audit_actions(db, registration) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the audit actions recorded for a registration, oldest first."""
    return list(
        db.session.execute(
            select(AuditEntry.action).where(AuditEntry.registration_id == registration.id).order_by(AuditEntry.id)
        ).scalars()
    )


def _kinds(outbox, registration) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the kinds of email written to a registration, oldest first."""
    return [m.kind.value for m in outbox.messages() if m.registration_id == registration.id]


def _names(pagination) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the last names on a page."""
    return [r.last_name for r in pagination.items]


# --- search, filters, sorting, pagination -------------------------------------------------


def test_fold_lowercases_and_removes_polish_diacritics():
    assert fold("Łukasz ŻÓŁKIEWSKI") == "lukasz zolkiewski"
    assert fold("Łódź  Gdańsk") == "lodz gdansk"
    assert fold("Straße Ærø") == "strasse aero"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("łukasz", ["Żółkiewski"]),
        ("LUKASZ", ["Żółkiewski"]),
        ("lodz", ["Kowalska", "Żółkiewski"]),
        ("ŁÓDŹ", ["Kowalska", "Żółkiewski"]),
        ("zolk", ["Żółkiewski"]),
        ("fundacja", ["Kowalska"]),
        ("kowalska@", ["Kowalska"]),
        ("anna   lodz", ["Kowalska"]),
        ("kraków", ["Nowak"]),
        ("100%", []),
        ("_", []),
        ("", ["Kowalska", "Nowak", "Żółkiewski"]),
    ],
)
def test_search_ignores_case_and_diacritics(app, make_event, register, query, expected):
    event = make_event()
    register(
        event,
        first_name="Łukasz",
        last_name="Żółkiewski",
        email="lz@example.com",
        city="Łódź",
        organisation="Urząd Miasta",
    )
    register(
        event,
        first_name="Anna",
        last_name="Kowalska",
        email="a.kowalska@example.com",
        city="Lodz",
        organisation="Fundacja Miasto",
    )
    register(event, first_name="Jan", last_name="Nowak", email="jn@example.com", city="Kraków", organisation="Urząd")
    found = list_registrations(event, RegistrationFilters(text=query, sort="city"))
    assert sorted(_names(found)) == sorted(expected)


def test_search_text_is_stored_by_register(make_event, register):
    event = make_event()
    registration = register(event, first_name="Łucja", last_name="Źdźbło", city="Łódź", organisation="ŁKS")
    assert registration.search_text == search_text(registration)
    assert "lucja zdzblo" in registration.search_text and "lks lodz" in registration.search_text


def _filter_scenario(make_event, make_session, register):  # type: ignore[no-untyped-def]
    """An event with a two-group workshop (one place each), a restricted session and a cancellation."""
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[1, 1])
    restricted = make_session(event, start_hour=12, capacity=5, eligible_categories=["mayor"])
    people = {
        "Adamska": register(event, workshop, last_name="Adamska"),
        "Bielska": register(event, workshop, restricted, last_name="Bielska"),
        "Cisowska": register(event, workshop, last_name="Cisowska"),  # waiting list
        "Dudek": register(event, restricted, last_name="Dudek", category="business"),  # request
        "Ekiert": register(event, last_name="Ekiert", category="ngo", by_organiser=True),
    }
    services.cancel_registration(people["Ekiert"])
    return event, workshop, restricted, people


def test_each_filter_narrows_the_list(app, db, make_event, make_session, register):
    event, workshop, restricted, people = _filter_scenario(make_event, make_session, register)
    first_group, second_group = workshop.groups
    adamska_group = people["Adamska"].bookings[0].group_id

    def names(**filters) -> list[str]:  # type: ignore[no-untyped-def]
        return _names(list_registrations(event, RegistrationFilters(**filters)))

    assert names() == ["Adamska", "Bielska", "Cisowska", "Dudek", "Ekiert"]
    assert names(category="business") == ["Dudek"]
    assert names(registration_status="cancelled") == ["Ekiert"]
    assert names(registration_status="active", category="ngo") == []
    assert names(booking_status="waitlisted") == ["Cisowska"]
    assert names(booking_status="requested") == ["Dudek"]
    assert names(booking_status="confirmed", session_id=restricted.id) == ["Bielska"]
    assert names(session_id=workshop.id) == ["Adamska", "Bielska", "Cisowska"]
    assert names(group_id=adamska_group) == ["Adamska"]
    other = second_group.id if adamska_group == first_group.id else first_group.id
    assert names(group_id=other) == ["Bielska"]
    assert names(session_id=workshop.id, booking_status="requested") == []
    # Values that are not on offer are ignored, never an error.
    assert names(category="pirate", booking_status="lost", registration_status="?") == names()


@pytest.mark.parametrize(
    "sort, descending, expected",
    [
        ("last_name", False, ["Adamska", "Bielska", "Cisowska"]),
        ("last_name", True, ["Cisowska", "Bielska", "Adamska"]),
        ("created", False, ["Bielska", "Cisowska", "Adamska"]),
        ("created", True, ["Adamska", "Cisowska", "Bielska"]),
        ("organisation", False, ["Cisowska", "Bielska", "Adamska"]),
        ("city", True, ["Adamska", "Cisowska", "Bielska"]),
        ("password_hash", False, ["Adamska", "Bielska", "Cisowska"]),  # not allowed: the default order
    ],
)
def test_sorting_by_allowed_keys(app, make_event, register, sort, descending, expected):
    event = make_event()
    register(event, last_name="Bielska", organisation="B", city="Gdańsk")
    register(event, last_name="Cisowska", organisation="A", city="Gdynia")
    register(event, last_name="Adamska", organisation="C", city="Kutno")
    assert _names(list_registrations(event, RegistrationFilters(sort=sort, descending=descending))) == expected


def test_pagination_splits_and_counts(app, make_event, register):
    event = make_event()
    for name in ["E", "A", "D", "C", "B"]:
        register(event, last_name=name)
    first = list_registrations(event, RegistrationFilters(), page=1, per_page=2)
    assert _names(first) == ["A", "B"] and first.total == 5 and first.pages == 3
    assert _names(list_registrations(event, RegistrationFilters(), page=3, per_page=2)) == ["E"]
    assert _names(list_registrations(event, RegistrationFilters(), page=9, per_page=2)) == []


def test_list_page_searches_filters_sorts_and_pages(client, make_event, make_session, register, as_organiser):
    event, workshop, _restricted, people = _filter_scenario(make_event, make_session, register)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = client.get(_url(event), query_string={"q": "BIELSKA"})
    assert page.status_code == 200
    assert "Bielska" in page.text and "Adamska" not in page.text and "1 registration found" in page.text
    page = client.get(_url(event), query_string={"session": workshop.id, "booking_status": "waitlisted"})
    assert "Cisowska" in page.text and "Adamska" not in page.text
    page = client.get(_url(event), query_string={"sort": "last_name", "direction": "desc"})
    assert page.text.index("Ekiert") < page.text.index("Adamska")


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "evil; DROP TABLE registration"},
        {"direction": "sideways"},
        {"page": "abc"},
        {"page": "-3"},
        {"page": "99999999999999999999"},
        {"per_page": "100000"},
        {"session": "abc"},
        {"group": "99999"},
        {"category": "<script>"},
        {"q": "%' OR 1=1 --"},
        {"event_id": "1", "_external": "1", "_anchor": "x"},
    ],
)
def test_junk_in_the_query_string_falls_back(client, make_event, register, as_organiser, query):
    event = make_event()
    for i in range(30):
        register(event, last_name=f"Adamska{i}")
    as_organiser("organiser", events=[event])
    page = client.get(_url(event), query_string={**query, "per_page": query.get("per_page", "25")})
    assert page.status_code == 200
    assert "<script>" not in page.text.split("<main", 1)[1]


def test_pages_link_to_each_other_keeping_the_filters(client, make_event, register, as_organiser):
    event = make_event()
    for i in range(30):
        register(event, last_name=f"Osoba{i:02d}", city="Kutno")
    as_organiser("organiser", events=[event])
    first = client.get(_url(event), query_string={"q": "kutno", "per_page": "25"})
    assert "Osoba00" in first.text and "Osoba25" not in first.text
    assert "page=2" in first.text and "q=kutno" in first.text
    second = client.get(_url(event), query_string={"q": "kutno", "per_page": "25", "page": "2"})
    assert "Osoba25" in second.text and "Osoba00" not in second.text


def test_the_list_loads_bookings_without_a_query_per_row(app, db, make_event, make_session, register):
    event = make_event()
    ids = (
        event.id,
        make_session(event, start_hour=9, groups=[50, 50]).id,
        make_session(event, start_hour=12, capacity=100).id,
    )

    def count_queries(n_people: int) -> int:
        event, workshop, talk = (
            db.session.get(Event, ids[0]),
            db.session.get(Session, ids[1]),
            db.session.get(Session, ids[2]),
        )
        for _ in range(n_people):
            register(event, workshop, talk)
        db.session.expunge_all()
        event = db.session.get(Event, ids[0])
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa_event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = list_registrations(event, RegistrationFilters(), per_page=50)
            for registration in page.items:
                [(b.session.title, b.group and b.group.name) for b in registration.live_bookings]
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", listener)
        db.session.expunge_all()
        return len(statements)

    assert count_queries(2) == count_queries(20) <= 6


# --- the registration's page --------------------------------------------------------------


def test_registration_page_shows_details_places_positions_and_history(
    client, db, make_event, make_session, register, as_organiser
):
    from app.notifications.models import MessageKind, MessageStatus, OutboxMessage

    event = make_event()
    full = make_session(event, start_hour=9, capacity=1)
    register(event, full)
    registration = register(event, full, first_name="Łucja", phone="+48 600 100 200")
    for status, error in [(MessageStatus.SENT, ""), (MessageStatus.FAILED, "550 mailbox unavailable")]:
        db.session.add(
            OutboxMessage(
                kind=MessageKind.REGISTRATION_RECEIVED,
                status=status,
                registration_id=registration.id,
                event_id=event.id,
                recipient_email=registration.email,
                language="pl",
                subject=f"Subject {status.value}",
                body_text="",
                body_html="",
                message_id=f"<{status.value}@zapisy.test>",
                last_error=error,
                sent_at=NOW if status == MessageStatus.SENT else None,
            )
        )
    db.session.commit()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = client.get(_url(event, registration))
    assert page.status_code == 200
    text = page.text
    assert "Łucja" in text and "+48 600 100 200" in text
    assert "Waiting list" in text and "position 1" in text
    assert "Subject sent" in text and "Subject failed" in text and "550 mailbox unavailable" in text
    assert 'class="table-danger"' in text


def test_unknown_registration_or_one_of_another_event_is_404(client, make_event, register, as_organiser):
    mine, other = make_event(), make_event()
    stranger = register(other)
    as_organiser("organiser", events=[mine])
    assert client.get(f"/admin/events/{mine.id}/registrations/{stranger.id}").status_code == 404
    assert client.get(f"/admin/events/{mine.id}/registrations/999999").status_code == 404


# --- actions --------------------------------------------------------------------------------


def test_approve_confirms_a_request_audits_and_emails(
    client, db, make_event, make_session, register, as_organiser, outbox
):
    event = make_event()
    restricted = make_session(event, capacity=2, eligible_categories=["mayor"], groups=[1, 1])
    registration = register(event, restricted, category="business")
    booking_id = registration.bookings[0].id
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = _post(client, event, registration, f"/bookings/{booking_id}/approve")
    assert "The request has been approved: the place is confirmed." in page.text
    booking = _fresh(db, Booking, booking_id)
    assert booking.status == BookingStatus.CONFIRMED and booking.is_approved and booking.group_id
    assert db.session.get(Session, restricted.id).taken == 1
    assert db.session.get(Group, booking.group_id).taken == 1
    assert "registration.request_approved" in _audit_actions(db, registration)
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "registration.request_approved")
    ).scalar_one()
    assert entry.actor_label.startswith("organiser") and entry.details["result"] == "confirmed"
    assert _kinds(outbox, registration) == ["registration_received", "request_approved"]


def test_approving_when_full_waitlists_and_a_freed_place_promotes_the_approved(
    app, db, make_event, make_session, register
):
    event = make_event()
    restricted = make_session(event, capacity=1, eligible_categories=["mayor"])
    holder = register(event, restricted)
    guest = register(event, restricted, category="business")
    booking = admin_services.approve_request(event.id, guest.id, guest.bookings[0].id)
    assert booking.status == BookingStatus.WAITLISTED and booking.is_approved
    # Once approved, the guest leaves the waiting list like anyone eligible.
    services.cancel_booking(holder, holder.bookings[0].id)
    assert _fresh(db, Booking, booking.id).status == BookingStatus.CONFIRMED
    assert db.session.get(Session, restricted.id).taken == 1


def test_decline_cancels_the_request(client, db, make_event, make_session, register, as_organiser, outbox):
    event = make_event()
    restricted = make_session(event, capacity=2, eligible_categories=["mayor"])
    registration = register(event, restricted, category="business")
    booking_id = registration.bookings[0].id
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = _post(client, event, registration, f"/bookings/{booking_id}/decline", {"confirmed": "yes"})
    assert "The request has been declined." in page.text
    assert _fresh(db, Booking, booking_id).status == BookingStatus.CANCELLED
    assert db.session.get(Session, restricted.id).taken == 0
    assert "registration.request_declined" in _audit_actions(db, registration)
    assert _kinds(outbox, registration) == ["registration_received", "request_declined"]


def test_approving_a_confirmed_place_is_refused(client, db, make_event, make_session, register, as_organiser):
    event = make_event()
    talk = make_session(event, capacity=2)
    registration = register(event, talk)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    before = _state(db)
    page = _post(client, event, registration, f"/bookings/{registration.bookings[0].id}/approve")
    assert "This place is already confirmed." in page.text
    assert _state(db) == before


def _workshop_with_people(make_event, make_session, register, groups=(2, 1)):  # type: ignore[no-untyped-def]
    """An event with a workshop of two groups; Adamska sits in the first group."""
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=list(groups))
    first, second = workshop.groups
    people = [register(event, workshop, last_name=f"P{i}") for i in range(sum(groups))]
    in_first = next(p for p in people if p.bookings[0].group_id == first.id)
    return event, workshop, first, second, in_first


def test_move_to_a_group_with_room(client, db, make_event, make_session, register, as_organiser, outbox):
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[2, 2])
    registration = register(event, workshop)
    booking = registration.bookings[0]
    target = next(g for g in workshop.groups if g.id != booking.group_id)
    old_group = booking.group_id
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = _post(client, event, registration, f"/bookings/{booking.id}/move", {"group_id": target.id})
    assert "The participant has been moved to the other group." in page.text
    assert _fresh(db, Booking, booking.id).group_id == target.id
    assert db.session.get(Group, target.id).taken == 1 and db.session.get(Group, old_group).taken == 0
    assert db.session.get(Session, workshop.id).taken == 1
    assert "registration.group_moved" in _audit_actions(db, registration)
    assert _kinds(outbox, registration) == ["registration_received", "changes_confirmed"]
    assert target.name in outbox.messages(kind="changes_confirmed")[0].body_text


def test_move_into_a_full_group_needs_the_override(
    client, db, make_event, make_session, register, as_organiser, outbox
):
    event, workshop, first, second, person = _workshop_with_people(make_event, make_session, register)
    waiting = register(event, workshop, last_name="Waiting")
    booking_id = person.bookings[0].id
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    before = _state(db)
    page = _post(client, event, person, f"/bookings/{booking_id}/move", {"group_id": second.id})
    assert "This group is full. Tick “Add a place if the group is full” to add one place to it." in page.text
    assert _state(db) == before

    page = _post(client, event, person, f"/bookings/{booking_id}/move", {"group_id": second.id, "override": "y"})
    assert "moved to the other group" in page.text
    db.session.rollback()
    assert _fresh(db, Booking, booking_id).group_id == second.id
    target, old, session = (
        db.session.get(Group, second.id),
        db.session.get(Group, first.id),
        db.session.get(Session, workshop.id),
    )
    assert (target.capacity, target.taken) == (2, 2)
    # The seat left behind went to the waiting list: no place stays empty while people wait.
    assert (old.capacity, old.taken) == (2, 2)
    assert (session.capacity, session.taken) == (4, 4)
    assert _fresh(db, Booking, waiting.bookings[0].id).status == BookingStatus.CONFIRMED
    actions = _audit_actions(db, person)
    assert "session.capacity_raised" in actions and "registration.group_moved" in actions
    assert "registration.promoted" in _audit_actions(db, waiting)
    assert _kinds(outbox, person)[-1] == "changes_confirmed"
    assert _kinds(outbox, waiting) == ["registration_received", "promoted"]


def test_cancel_a_booking_frees_the_place_for_the_waiting_list(
    client, db, make_event, make_session, register, as_organiser, outbox
):
    event = make_event()
    talk = make_session(event, capacity=1)
    holder = register(event, talk)
    waiting = register(event, talk)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = _post(client, event, holder, f"/bookings/{holder.bookings[0].id}/cancel", {"confirmed": "yes"})
    assert "The place has been cancelled." in page.text
    assert _fresh(db, Booking, holder.bookings[0].id).status == BookingStatus.CANCELLED
    assert _fresh(db, Booking, waiting.bookings[0].id).status == BookingStatus.CONFIRMED
    assert db.session.get(Session, talk.id).taken == 1
    assert "registration.booking_cancelled" in _audit_actions(db, holder)
    assert _kinds(outbox, holder) == ["registration_received", "booking_cancelled"]
    assert _kinds(outbox, waiting) == ["registration_received", "promoted"]


@pytest.mark.parametrize("action", ["cancel", "decline"])
def test_cancel_and_decline_ask_first_and_act_only_once_confirmed(
    client, db, make_event, make_session, register, as_organiser, outbox, action
):
    event = make_event()
    talk = make_session(event, capacity=1, eligible_categories=["mayor"])
    holder = register(event, talk, category="mayor" if action == "cancel" else "business")
    waiting = register(event, talk)
    booking_id = holder.bookings[0].id
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    show = client.get(_url(event, holder))
    link = _url(event, holder, f"/bookings/{booking_id}/{action}")
    # The page's button is a link to the confirmation page, not a form that acts.
    assert f'href="{link}"' in show.text and f'action="{link}"' not in show.text
    before = _state(db)

    confirm = client.get(link)
    assert confirm.status_code == 200
    assert ("Decline this request?" if action == "decline" else "Cancel this place?") in confirm.text
    assert holder.email in confirm.text and talk.title in confirm.text
    if action == "cancel":
        assert "the first person on the waiting list who can take it gets it" in confirm.text
    assert 'name="confirmed"' in confirm.text
    # A POST without the confirmation page's field (the old one-click form) changes nothing.
    bare = client.post(link, data={"csrf_token": csrf_token(show.text)})
    assert bare.status_code == 303 and bare.headers["Location"].endswith(link)
    assert _state(db) == before and _kinds(outbox, holder) == ["registration_received"]

    done = client.post(link, data={"csrf_token": csrf_token(confirm.text), "confirmed": "yes"}, follow_redirects=True)
    assert ("The request has been declined." if action == "decline" else "The place has been cancelled.") in done.text
    assert _fresh(db, Booking, booking_id).status == BookingStatus.CANCELLED
    if action == "cancel":
        assert _fresh(db, Booking, waiting.bookings[0].id).status == BookingStatus.CONFIRMED


def test_the_confirmation_page_of_another_registrations_booking_is_404(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    talk = make_session(event, capacity=3)
    mine, someone = register(event, talk), register(event, talk)
    as_organiser("organiser", events=[event])
    assert client.get(_url(event, mine, f"/bookings/{someone.bookings[0].id}/cancel")).status_code == 404
    assert client.get(_url(event, mine, "/bookings/999999/decline")).status_code == 404


def test_cancel_the_whole_registration_even_after_the_event(
    client, db, make_event, make_session, register, as_organiser, outbox
):
    event = make_event()
    first = make_session(event, start_hour=9, capacity=1)
    second = make_session(event, start_hour=12, groups=[1])
    holder = register(event, first, second)
    waiting = register(event, first)
    event.starts_at, event.ends_at = NOW - timedelta(days=2), NOW - timedelta(days=1)
    db.session.commit()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = _post(client, event, holder, "/cancel")
    assert "The registration has been cancelled." in page.text
    db.session.rollback()
    assert _fresh(db, Registration, holder.id).status == RegistrationStatus.CANCELLED
    assert {b.status for b in _fresh(db, Registration, holder.id).bookings} == {BookingStatus.CANCELLED}
    assert db.session.get(Session, second.id).taken == 0 and second.groups[0].taken == 0
    assert _fresh(db, Booking, waiting.bookings[0].id).status == BookingStatus.CONFIRMED
    assert "registration.cancelled" in _audit_actions(db, holder)
    assert _kinds(outbox, holder) == ["registration_received", "registration_cancelled"]
    assert _kinds(outbox, waiting) == ["registration_received", "promoted"]
    # A second cancellation is refused without a change.
    before = _state(db)
    page = _post(client, event, holder, "/cancel")
    assert "This place can no longer be cancelled." in page.text
    assert _state(db) == before


def test_promote_by_hand_only_when_a_place_is_free_or_with_the_override(
    client, db, make_event, make_session, register, as_organiser, outbox
):
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[1, 1])
    register(event, workshop)
    register(event, workshop)
    first_waiting = register(event, workshop, last_name="First")
    second_waiting = register(event, workshop, last_name="Second")
    booking_id = second_waiting.bookings[0].id
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    before = _state(db)
    page = _post(client, event, second_waiting, f"/bookings/{booking_id}/promote")
    assert "No place is free in this session. Tick “Add a place if the session is full” to add one place." in page.text
    assert _state(db) == before

    page = _post(client, event, second_waiting, f"/bookings/{booking_id}/promote", {"override": "y"})
    assert "The participant has been given a place." in page.text
    booking = _fresh(db, Booking, booking_id)
    assert booking.status == BookingStatus.CONFIRMED and booking.group_id is not None
    session = db.session.get(Session, workshop.id)
    assert (session.capacity, session.taken) == (3, 3)
    assert sorted((g.capacity, g.taken) for g in session.groups) == [(1, 1), (2, 2)]
    # Ahead of the queue: the first waiting person still waits.
    assert _fresh(db, Booking, first_waiting.bookings[0].id).status == BookingStatus.WAITLISTED
    actions = _audit_actions(db, second_waiting)
    assert "session.capacity_raised" in actions and "registration.promoted" in actions
    assert _kinds(outbox, second_waiting) == ["registration_received", "promoted"]
    assert _kinds(outbox, first_waiting) == ["registration_received"]


def test_promote_by_hand_takes_a_free_place_without_override(app, db, make_event, make_session, register):
    event = make_event()
    talk = make_session(event, capacity=1)
    register(event, talk)
    waiting = register(event, talk)
    talk.capacity = 2  # an organiser enlarged the room; nobody was promoted yet
    db.session.commit()
    booking = admin_services.promote(event.id, waiting.id, waiting.bookings[0].id)
    assert booking.status == BookingStatus.CONFIRMED
    assert _fresh(db, Session, talk.id).taken == 2


def test_resend_issues_a_new_private_link(client, db, make_event, register, as_organiser, outbox):
    event = make_event()
    result = services.register(
        event,
        services.ParticipantData(first_name="Jan", last_name="Nowak", email="jan@example.com", category="mayor"),  # type: ignore[arg-type]
        services.Choices(),
    )
    old_token = result.token
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = _post(client, event, result.registration, "/resend")
    assert "A new private link has been sent" in page.text
    db.session.rollback()
    assert services.find_registration_by_token(old_token) is None
    assert client.get(f"/r/{old_token}").status_code == 404
    assert "registration.link_reissued" in _audit_actions(db, result.registration)
    emails = outbox.messages(kind="registration_received")
    assert len(emails) == 2 and old_token in emails[0].body_text and old_token not in emails[1].body_text
    new_token = emails[1].body_text.split("/r/", 1)[1].split()[0]
    assert services.find_registration_by_token(new_token).id == result.registration.id
    assert client.get(f"/r/{new_token}").status_code == 200


# --- adding a registration by hand ----------------------------------------------------------


def _new_form(client, event, **data):  # type: ignore[no-untyped-def]
    """Submit the add-a-registration form."""
    page = client.get(_url(event, tail="/new"))
    assert page.status_code == 200
    return client.post(
        _url(event, tail="/new"),
        data={**FORM_DEFAULTS, **data, "csrf_token": csrf_token(page.text)},
    )


def test_add_a_registration_by_hand_after_registration_closed(
    client, db, make_event, make_session, as_organiser, outbox
):
    event = make_event(registration_closes_at=NOW - timedelta(hours=1))
    talk = make_session(event, start_hour=9, capacity=5)
    restricted = make_session(event, start_hour=12, capacity=5, eligible_categories=["mayor"])
    as_organiser("organiser", events=[event])
    response = _new_form(client, event, category="business", sessions=[talk.id, restricted.id], phone="600 100 200")
    assert response.status_code == 303
    registration = db.session.execute(select(Registration)).scalar_one()
    assert response.headers["Location"].endswith(_url(event, registration))
    assert registration.consent_source == "organiser" and registration.phone == "600 100 200"
    assert registration.search_text == search_text(registration)
    statuses = {b.session_id: b.status for b in registration.bookings}
    assert statuses == {talk.id: BookingStatus.CONFIRMED, restricted.id: BookingStatus.REQUESTED}
    assert "registration.added" in _audit_actions(db, registration)
    assert _kinds(outbox, registration) == ["registration_received"]


def test_book_directly_confirms_places_outside_the_category(client, db, make_event, make_session, as_organiser):
    event = make_event()
    restricted = make_session(event, start_hour=12, capacity=1, eligible_categories=["mayor"])
    as_organiser("organiser", events=[event])
    assert _new_form(client, event, category="business", sessions=[restricted.id], book_directly="y").status_code == 303
    assert (
        _new_form(
            client, event, category="media", email="second@example.com", sessions=[restricted.id], book_directly="y"
        ).status_code
        == 303
    )
    bookings = db.session.execute(select(Booking).order_by(Booking.id)).scalars().all()
    assert [(b.status, b.is_approved) for b in bookings] == [
        (BookingStatus.CONFIRMED, True),
        (BookingStatus.WAITLISTED, True),
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"consent": ""}, "consent is required."),
        ({"email": "not-an-email"}, "Invalid email address."),
        ({"email": "taken@example.com"}, "A registration with this email address already exists"),
    ],
)
def test_add_by_hand_refuses_bad_input(client, db, make_event, register, as_organiser, data, message):
    event = make_event()
    register(event, email="taken@example.com")
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    before = _state(db)
    response = _new_form(client, event, **data)
    assert response.status_code == 422
    assert message in response.text
    assert _state(db) == before


# --- bad input to actions -------------------------------------------------------------------


def test_bad_action_input_gives_a_message_and_changes_nothing(
    client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[2, 2])
    other_workshop = make_session(event, start_hour=12, groups=[2, 2])
    mine = register(event, workshop, other_workshop)
    someone = register(event, workshop)
    my_booking = next(b for b in mine.bookings if b.session_id == workshop.id)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    before = _state(db)
    cases = [
        ("/bookings/999999/cancel", {"confirmed": "yes"}, "This booking does not belong to this registration."),
        (
            f"/bookings/{someone.bookings[0].id}/cancel",
            {"confirmed": "yes"},
            "This booking does not belong to this registration.",
        ),
        (f"/bookings/{someone.bookings[0].id}/approve", {}, "This booking does not belong to this registration."),
        (
            f"/bookings/{my_booking.id}/move",
            {"group_id": other_workshop.groups[0].id},
            "Choose another group of the same session.",
        ),
        (
            f"/bookings/{my_booking.id}/move",
            {"group_id": my_booking.group_id},
            "Choose another group of the same session.",
        ),
        (f"/bookings/{my_booking.id}/move", {"group_id": "999999"}, "Choose another group of the same session."),
        (f"/bookings/{my_booking.id}/move", {"group_id": "abc"}, "Choose a group."),
        (f"/bookings/{my_booking.id}/promote", {}, "This place is already confirmed."),
        (f"/bookings/{my_booking.id}/decline", {"confirmed": "yes"}, "This place is already confirmed."),
    ]
    for tail, data, message in cases:
        page = _post(client, event, mine, tail, data)
        assert page.status_code == 200, tail
        assert message in page.text, tail
    assert _state(db) == before


def test_actions_on_a_cancelled_registration_are_refused(app, db, make_event, make_session, register):
    event = make_event()
    talk = make_session(event, capacity=3)
    registration = register(event, talk)
    booking_id = registration.bookings[0].id
    admin_services.cancel_registration(event.id, registration.id)
    from app.registration.errors import RegistrationIsCancelled

    with pytest.raises(RegistrationIsCancelled):
        admin_services.promote(event.id, registration.id, booking_id)
    with pytest.raises(RegistrationIsCancelled):
        admin_services.resend_confirmation(event.id, registration.id)


# --- access ---------------------------------------------------------------------------------

ROUTES = [
    ("get", ""),
    ("get", "/{r}"),
    ("get", "/new"),
    ("post", "/new"),
    ("post", "/{r}/bookings/{b}/approve"),
    ("get", "/{r}/bookings/{b}/decline"),
    ("post", "/{r}/bookings/{b}/decline"),
    ("post", "/{r}/bookings/{b}/move"),
    ("get", "/{r}/bookings/{b}/cancel"),
    ("post", "/{r}/bookings/{b}/cancel"),
    ("post", "/{r}/bookings/{b}/promote"),
    ("post", "/{r}/cancel"),
    ("post", "/{r}/resend"),
]


def _call(client, method: str, event, registration, tail: str):  # type: ignore[no-untyped-def]
    """Call one route with a valid CSRF token."""
    token = csrf_token(client.get("/admin/").text)
    url = _url(event) + tail.format(r=registration.id, b=registration.bookings[0].id)
    if method == "get":
        return client.get(url)
    return client.post(url, data={"csrf_token": token, "group_id": "1"})


@pytest.mark.parametrize("method, tail", ROUTES)
def test_an_organiser_of_another_event_gets_404_everywhere(
    client, db, make_event, make_session, register, as_organiser, method, tail
):
    mine, other = make_event(), make_event()
    talk = make_session(other, capacity=3, eligible_categories=["mayor"])
    registration = register(other, talk, category="business")
    as_organiser("organiser", events=[mine])
    before = _state(db)
    assert _call(client, method, other, registration, tail).status_code == 404
    assert _state(db) == before


@pytest.mark.parametrize("method, tail", ROUTES)
def test_staff_neither_read_nor_act(client, db, make_event, make_session, register, as_organiser, method, tail):
    """Registrations hold contact details: staff at the venue use the check-in desk instead."""
    event = make_event()
    talk = make_session(event, capacity=3, eligible_categories=["mayor"])
    registration = register(event, talk, category="business")
    as_organiser("staff", events=[event])
    before = _state(db)
    assert _call(client, method, event, registration, tail).status_code == 403
    assert _state(db) == before


@pytest.mark.parametrize("method, tail", ROUTES)
def test_anonymous_visitors_are_sent_to_the_login(client, make_event, make_session, register, method, tail):
    event = make_event()
    registration = register(event, make_session(event, capacity=3))
    url = _url(event) + tail.format(r=registration.id, b=registration.bookings[0].id)
    response = client.get(url) if method == "get" else client.post(url)
    assert response.status_code in {302, 400}  # 400: CSRF refuses an anonymous POST first
    if response.status_code == 302:
        assert "/admin/login" in response.headers["Location"]


# --- the race for the last place ------------------------------------------------------------


def _approval_race(app, db, make_event, make_session, register, make_organiser, naive=None):  # type: ignore[no-untyped-def]
    """Two organisers approve two requests for the last place at once; return what is in the database."""
    event = make_event()
    restricted = make_session(event, capacity=2, eligible_categories=["mayor"])
    register(event, restricted)  # one of two places taken
    guests = [register(event, restricted, category="business") for _ in range(2)]
    clients = []
    for guest in guests:
        client = app.test_client()
        assert login(client, make_organiser("organiser", events=[event])).status_code == 302
        page = client.get(_url(event, guest))
        clients.append((client, guest.id, guest.bookings[0].id, csrf_token(page.text)))
    event_id, session_id = event.id, restricted.id  # the workers never touch this thread's objects
    guest_ids = [g.id for g in guests]
    db.session.rollback()
    precheck = None
    if naive is not None:  # the guard is removed only for the race itself
        naive.setattr(capacity, "take_place", _naive_take_place)
        precheck = _naive_precheck
    barrier = threading.Barrier(len(clients))
    responses: list = []
    errors: list[BaseException] = []

    def worker(client, registration_id: int, booking_id: int, token: str) -> None:  # type: ignore[no-untyped-def]
        with app.app_context():
            try:
                if precheck is not None:
                    precheck([session_id])
                barrier.wait(timeout=30)
                responses.append(
                    client.post(
                        f"/admin/events/{event_id}/registrations/{registration_id}/bookings/{booking_id}/approve",
                        data={"csrf_token": token},
                    )
                )
            except BaseException as error:  # noqa: BLE001 - collected for the assertion
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker, args=args) for args in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert errors == []
    assert [r.status_code for r in responses] == [303, 303]
    db.session.rollback()
    statuses = [
        b.status
        for b in db.session.execute(
            select(Booking).where(Booking.registration_id.in_(guest_ids)).order_by(Booking.id)
        ).scalars()
    ]
    confirmed = (
        db.session.execute(
            select(Booking).where(Booking.session_id == session_id, Booking.status == BookingStatus.CONFIRMED)
        )
        .scalars()
        .all()
    )
    return statuses, len(confirmed), _fresh(db, Session, session_id)


def test_two_organisers_approving_the_last_place_at_once(app, db, make_event, make_session, register, make_organiser):
    statuses, confirmed, session = _approval_race(app, db, make_event, make_session, register, make_organiser)
    assert sorted(statuses) == sorted([BookingStatus.CONFIRMED, BookingStatus.WAITLISTED])
    assert session.taken == confirmed == session.capacity == 2


def test_without_the_atomic_guard_the_approval_race_overbooks(
    app, db, make_event, make_session, register, make_organiser, monkeypatch
):
    """The twin of the race test: with a check-then-write, both approvals get the last place."""
    statuses, confirmed, session = _approval_race(
        app, db, make_event, make_session, register, make_organiser, naive=monkeypatch
    )
    assert statuses == [BookingStatus.CONFIRMED, BookingStatus.CONFIRMED]
    assert confirmed == 3 and session.taken == 2  # one more person than places, and the counter lies


POLISH_ORDER = ["Adamczyk", "Ącki", "Dąbrowska", "Dudek", "Lis", "Łaski", "Sowa", "Śliwa", "Zając", "Żak"]


def test_the_list_and_the_csv_sort_names_in_polish_order(client, make_event, register, as_organiser):
    """Ł after L, Ś after S, Dąbrowska before Dudek: in SQL on both databases, paging included."""
    event = make_event()
    for name in reversed(POLISH_ORDER):
        register(event, last_name=name, email=f"{fold(name)}@example.com")
    assert _names(list_registrations(event, RegistrationFilters(sort="last_name"))) == POLISH_ORDER
    assert (
        _names(list_registrations(event, RegistrationFilters(sort="last_name", descending=True))) == POLISH_ORDER[::-1]
    )
    first = list_registrations(event, RegistrationFilters(sort="last_name"), page=1, per_page=4)
    second = list_registrations(event, RegistrationFilters(sort="last_name"), page=2, per_page=4)
    assert _names(first) + _names(second) == POLISH_ORDER[:8]
    as_organiser("organiser", events=[event])
    rows = client.get(f"/admin/events/{event.id}/export.csv").data.decode("utf-8-sig").splitlines()[1:]
    assert [row.split(";")[0] for row in rows] == POLISH_ORDER
