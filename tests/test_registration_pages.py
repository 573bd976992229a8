"""Full page flows through the test client, with CSRF protection on."""

from __future__ import annotations

import base64
import re
import time
import uuid
import zlib
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from app.auth.models import LoginAttempt
from app.events.models import BookingMode, EventStatus
from app.events.services import ranked_blocks
from app.registration import receipts, routes, services
from app.registration.errors import InvalidChoice
from app.registration.models import Booking, BookingStatus, Registration
from app.registration.services import Choices
from tests.conftest import FORM_DEFAULTS, NOW, csrf_token, submit


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    """Return the number of rows of ``model``."""
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _manage_link(html: str) -> str:
    """Extract the private manage path from the success page."""
    match = re.search(r'href="http://zapisy\.test(/r/[A-Za-z0-9_-]+)"', html)
    assert match, "no manage link on the page"
    return match.group(1)


def test_register_in_polish_then_manage_change_and_cancel(client, db, make_event, make_session):
    event = make_event()
    morning = make_session(event, start_hour=9, capacity=10)
    clash = make_session(event, start_hour=9, capacity=10, title_pl="Równoległa", title_en="Parallel")
    afternoon = make_session(event, start_hour=14, groups=[6, 6])

    page = client.get(f"/events/{event.slug}/register")
    assert page.status_code == 200
    assert 'lang="pl"' in page.text and "Rejestracja" in page.text or "Registration" in page.text
    response = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "sessions": [morning.id, afternoon.id]}
    )
    assert response.status_code == 303
    success = client.get(response.headers["Location"])
    assert success.status_code == 200
    assert "Łukasz" in success.text
    manage = _manage_link(success.text)

    registration = db.session.execute(select(Registration)).scalar_one()
    assert registration.email_normalized == "lukasz@example.com"
    assert registration.consent_version and registration.consent_at is not None
    assert registration.has_marketing_consent is False
    assert len(registration.manage_token_hash) == 64 and manage.split("/")[-1] not in registration.manage_token_hash
    assert sorted(b.status.value for b in registration.bookings) == ["confirmed", "confirmed"]

    page = client.get(manage)
    assert page.status_code == 200 and event.title_pl in page.text
    # Change: drop the afternoon, add the parallel one — clashes with the morning one.
    refused = client.post(manage, data={"sessions": [morning.id, clash.id], "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 422
    assert "w tym samym czasie" in refused.text or "at the same time" in refused.text
    changed = client.post(manage, data={"sessions": [clash.id], "csrf_token": csrf_token(page.text)})
    assert changed.status_code == 303
    db.session.rollback()
    live = {
        b.session_id: b.status.value
        for b in db.session.execute(select(Booking)).scalars()
        if b.status != BookingStatus.CANCELLED
    }
    assert live == {clash.id: "confirmed"}

    booking = next(b for b in db.session.execute(select(Booking)).scalars() if b.status == BookingStatus.CONFIRMED)
    confirm = client.get(f"{manage}/bookings/{booking.id}/cancel")
    assert confirm.status_code == 200
    assert _count(db, Booking) == 3  # GET did not cancel anything
    done = client.post(f"{manage}/bookings/{booking.id}/cancel", data={"csrf_token": csrf_token(confirm.text)})
    assert done.status_code == 303
    db.session.rollback()
    assert db.session.get(Booking, booking.id).status == BookingStatus.CANCELLED

    calendar = client.get(f"{manage}/calendar.ics")
    assert calendar.status_code == 200 and calendar.mimetype == "text/calendar"
    parsed = Calendar.from_ical(calendar.data)
    events = [c for c in parsed.walk("VEVENT")]
    assert any(str(e.get("status")) == "CANCELLED" for e in events)
    assert parsed.walk("VTIMEZONE")[0]["TZID"] == "Europe/Warsaw"

    whole = client.get(f"{manage}/cancel")
    client.post(f"{manage}/cancel", data={"csrf_token": csrf_token(whole.text)})
    db.session.rollback()
    assert db.session.execute(select(Registration)).scalar_one().status.value == "cancelled"


def test_register_in_english(client, db, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=5)
    client.get("/language/en?next=/")
    page = client.get(f"/events/{event.slug}/register")
    assert 'lang="en"' in page.text and "First name" in page.text
    response = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "language": "en", "sessions": [session.id]}
    )
    assert response.status_code == 303
    success = client.get(response.headers["Location"])
    assert "Your private link" in success.text
    assert db.session.execute(select(Registration)).scalar_one().language == "en"


def test_waitlisted_and_requested_are_told_so_on_the_success_page(client, db, make_event, make_session, register):
    event = make_event()
    full = make_session(event, start_hour=9, capacity=1)
    restricted = make_session(event, start_hour=12, capacity=5, eligible_categories=["mayor"])
    register(event, full)
    client.get("/language/en")
    response = submit(
        client,
        f"/events/{event.slug}/register",
        {**FORM_DEFAULTS, "category": "business", "sessions": [full.id, restricted.id]},
    )
    page = client.get(response.headers["Location"])
    assert "position 1" in page.text
    assert "Awaiting organiser approval" in page.text
    assert "waiting lists" in page.text and "organiser will review" in page.text


def test_duplicate_email_is_refused_without_revealing_the_first(client, db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=5)
    register(event, session, email="Taken@Example.com", first_name="Sekret")
    client.get("/language/en")
    response = submit(
        client,
        f"/events/{event.slug}/register",
        {**FORM_DEFAULTS, "email": "taken@example.COM", "sessions": [str(session.id)]},
    )
    assert response.status_code == 422
    assert "already exists" in response.text
    assert "Sekret" not in response.text
    assert _count(db, Registration) == 1


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"registration_opens_at": NOW + timedelta(days=2)}, "has not opened yet"),
        ({"registration_closes_at": NOW - timedelta(hours=1)}, "is closed"),
        ({"status": EventStatus.CLOSED}, "is closed"),
    ],
)
def test_outside_the_registration_window_nothing_is_written(client, db, make_event, make_session, window, message):
    event = make_event(**window)
    session = make_session(event, capacity=5)
    client.get("/language/en")
    page = client.get(f"/events/{event.slug}/register")
    assert page.status_code == 200 and message in page.text
    token = re.search(r'name="csrf_token"', page.text)
    assert token is None  # no form to fill
    # A forged POST is refused too.
    other = make_event(slug="helper-event")
    token_page = client.get(f"/events/{other.slug}/register")
    response = client.post(
        f"/events/{event.slug}/register",
        data={**FORM_DEFAULTS, "sessions": [session.id], "csrf_token": csrf_token(token_page.text)},
    )
    assert response.status_code == 422 and message.split()[-1] in response.text
    assert _count(db, Registration) == 0


def test_draft_events_are_not_public(client, make_event):
    event = make_event(status=EventStatus.DRAFT)
    assert client.get(f"/events/{event.slug}/").status_code == 404
    assert client.get(f"/events/{event.slug}/register").status_code == 404
    assert client.get(f"/api/events/{event.slug}").status_code == 404


BAD_INPUT = [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"first_name": ""}, "first_name"),
    ({"first_name": "x" * 101}, "first_name"),
    ({"organisation": "y" * 201}, "organisation"),
    ({"email": ("e" * 250) + "@example.com"}, "email"),
    ({"last_name": "Kowal\u202eski"}, "last_name"),
    ({"first_name": "Jan\x07"}, "first_name"),
    ({"phone": "call me maybe"}, "phone"),
    ({"category": "emperor"}, "category"),
    ({"category": ""}, "category"),
    ({"language": "de"}, "language"),
    ({"consent": ""}, "consent"),
    ({"sessions": ["99999"]}, "sessions"),
    ({"sessions": ["abc"]}, "sessions"),
]


@pytest.mark.parametrize(("override", "field"), BAD_INPUT)
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_stored(
    client, db, make_event, make_session, override, field
):
    event = make_event()
    make_session(event, capacity=5)
    data = {k: v for k, v in {**FORM_DEFAULTS, **override}.items() if v != ""}
    response = submit(client, f"/events/{event.slug}/register", data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text or (field == "sessions" and "invalid-feedback" in response.text)
    assert _count(db, Registration) == 0


def test_polish_names_are_welcome_and_normalised_to_nfc(client, db, make_event):
    event = make_event()
    decomposed = "Z\u0307o\u0301\u0142w"  # Żółw typed with combining marks
    response = submit(
        client,
        f"/events/{event.slug}/register",
        {**FORM_DEFAULTS, "last_name": f"  {decomposed}  ", "first_name": "Łucja"},
    )
    assert response.status_code == 303
    registration = db.session.execute(select(Registration)).scalar_one()
    assert registration.last_name == "Żółw" and registration.first_name == "Łucja"


def test_missing_csrf_token_is_refused_and_nothing_is_stored(client, db, make_event):
    event = make_event()
    response = client.post(f"/events/{event.slug}/register", data=FORM_DEFAULTS)
    assert response.status_code == 400
    assert _count(db, Registration) == 0


def test_ranked_choices_are_stored_and_duplicates_refused(client, db, make_event, make_session):
    event = make_event()
    first = make_session(event, start_hour=12, groups=[6], booking_mode=BookingMode.RANKED, title_pl="A")
    second = make_session(event, start_hour=12, groups=[6], booking_mode=BookingMode.RANKED, title_pl="B")
    page = client.get(f"/events/{event.slug}/register")
    names = re.findall(r'name="(rank_\d+_\d)"', page.text)
    assert len(names) == 2
    client.get("/language/en")
    refused = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, names[0]: second.id, names[1]: second.id}
    )
    assert refused.status_code == 422 and "same workshop twice" in refused.text
    gap = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, names[1]: second.id})
    assert gap.status_code == 422 and "in order" in gap.text
    ok = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, names[0]: second.id, names[1]: first.id})
    assert ok.status_code == 303
    registration = db.session.execute(select(Registration)).scalar_one()
    assert [(p.session_id, p.rank) for p in sorted(registration.preferences, key=lambda p: p.rank)] == [
        (second.id, 1),
        (first.id, 2),
    ]
    assert registration.bookings == []


def test_every_refused_ranked_choice_is_shown_at_once_next_to_its_field(client, db, make_event, make_session):
    event = make_event()

    def workshop(hour: int, title: str, **extra):  # type: ignore[no-untyped-def]
        return make_session(
            event, start_hour=hour, groups=[6], booking_mode=BookingMode.RANKED, title_pl=title, **extra
        )

    mayors_early, open_early = workshop(12, "A", eligible_categories=["mayor"]), workshop(12, "B")
    mayors_too = workshop(12, "E", eligible_categories=["mayor"])
    mayors_late, _open_late = workshop(15, "C", eligible_categories=["mayor"]), workshop(15, "D")
    page = client.get(f"/events/{event.slug}/register")
    early, late = sorted(set(re.findall(r'name="(rank_\d+)_\d"', page.text)))
    client.get("/language/en")
    # The note by the ranked choices says restricted workshops cannot be ranked by other categories.
    assert "can be ranked only by participants of those categories" in client.get(f"/events/{event.slug}/register").text

    def rank_errors(early_picks: list[int], late_pick: int) -> dict[str, str]:
        """Send the form as a business participant with these ranks; return each field's error."""
        ranks = {f"{early}_{position}": pick for position, pick in enumerate(early_picks, start=1)}
        response = submit(
            client,
            f"/events/{event.slug}/register",
            {**FORM_DEFAULTS, "category": "business", **ranks, f"{late}_1": late_pick},
        )
        assert response.status_code == 422
        return dict(
            re.findall(r'<div class="invalid-feedback d-block" id="(rank_\d+_\d)-error">([^<]*)</div>', response.text)
        )

    not_eligible = "This workshop is open only to some participant categories."
    assert rank_errors([mayors_early.id, open_early.id, mayors_too.id], mayors_late.id) == {
        f"{early}_1": not_eligible,
        f"{early}_3": not_eligible,
        f"{late}_1": not_eligible,
    }
    # A repeated rank is caught by the form itself, before the service: the restricted
    # choices of the other fields are still shown with it, not after the next attempt.
    assert rank_errors([open_early.id, open_early.id, mayors_too.id], mayors_late.id) == {
        f"{early}_2": "You chose the same workshop twice.",
        f"{early}_3": not_eligible,
        f"{late}_1": not_eligible,
    }
    assert _count(db, Registration) == 0


def test_ranked_refusals_keep_the_services_contract(db, make_event, make_session):
    """Callers that read one error still get the first (message and field); the others ride in ``also``."""
    event = make_event()
    restricted = make_session(
        event, start_hour=12, groups=[6], booking_mode=BookingMode.RANKED, eligible_categories=["mayor"]
    )
    other = make_session(event, start_hour=12, groups=[6], booking_mode=BookingMode.RANKED)
    sessions = {s.id: s for s in (restricted, other)}
    [block] = ranked_blocks(list(sessions.values()))
    with pytest.raises(InvalidChoice) as caught:
        services.validate_choices(
            event, sessions, Choices([], {block.key: [restricted.id, other.id, other.id]}), "business"
        )
    assert caught.value.field == f"rank_{block.key}_1"
    assert [e.field for e in caught.value.also] == [f"rank_{block.key}_3"]


def test_ranking_a_workshop_at_the_same_time_as_a_booked_session_is_a_clash(client, db, make_event, make_session):
    event = make_event()
    ranked = make_session(event, start_hour=12, groups=[6], booking_mode=BookingMode.RANKED)
    make_session(event, start_hour=12, groups=[6], booking_mode=BookingMode.RANKED)
    plain = make_session(event, start_hour=12, capacity=10)
    page = client.get(f"/events/{event.slug}/register")
    name = re.findall(r'name="(rank_\d+_\d)"', page.text)[0]
    client.get("/language/en")
    response = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, name: ranked.id, "sessions": [plain.id]}
    )
    assert response.status_code == 422 and "same time as the workshops you ranked" in response.text
    assert _count(db, Registration) == 0


def test_unknown_manage_tokens_are_404(client):
    assert client.get("/r/" + "A" * 43).status_code == 404
    assert client.get("/r/short").status_code == 404
    assert client.get("/r/" + "%00" * 30).status_code == 400  # NUL is refused before any lookup


def test_nul_characters_are_refused_and_nothing_is_stored(client, db, make_event):
    event = make_event()
    response = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "city": "Łódź\x00"})
    assert response.status_code == 400
    assert _count(db, Registration) == 0


def test_the_same_form_sent_twice_shows_one_registrations_page_and_another_browser_is_refused(
    client, db, make_event, make_session
):
    event = make_event()
    session = make_session(event, capacity=5)
    path = f"/events/{event.slug}/register"
    data = {**FORM_DEFAULTS, "sessions": [str(session.id)], "csrf_token": csrf_token(client.get(path).text)}
    pages = []
    for _click in range(2):
        answer = client.post(path, data=data)
        assert answer.status_code == 303
        pages.append(client.get(answer.headers["Location"]).text)
    links = [re.search(r'href="(http://zapisy.test/r/[A-Za-z0-9_-]+)"', page).group(1) for page in pages]
    assert links[0] == links[1]
    assert _count(db, Registration) == 1

    other = client.application.test_client()
    refused = other.post(path, data={**data, "csrf_token": csrf_token(other.get(path).text)})
    assert refused.status_code == 422 and "/r/" not in refused.text

    # Cancelled, then the very same form sent again: a new registration with a link of its own.
    cancel = f"{links[0].removeprefix('http://zapisy.test')}/cancel"
    client.post(cancel, data={"csrf_token": csrf_token(client.get(cancel).text)})
    again = client.post(path, data=data)
    assert again.status_code == 303
    new_link = re.search(r'href="(http://zapisy.test/r/[A-Za-z0-9_-]+)"', client.get(again.headers["Location"]).text)
    assert new_link and new_link.group(1) != links[0]
    assert _count(db, Registration) == 2


def test_the_manage_page_shows_the_check_in_code_and_its_qr(client, make_event, make_session, participant):
    from app.registration import services

    event = make_event()
    result = services.register(event, participant(), services.Choices(session_ids=[make_session(event).id]))
    page = client.get(f"/r/{result.token}").text
    section = page.split('id="checkin-code"', 1)[1].split("</section>")[0]
    assert result.registration.checkin_code in section and "<svg" in section and "<script" not in section
    services.cancel_registration(result.registration)
    assert 'id="checkin-code"' not in client.get(f"/r/{result.token}").text


def test_a_registration_must_name_a_session_where_the_event_has_any(client, db, make_event, make_session):
    event = make_event()
    make_session(event, capacity=5)
    client.get("/language/en")
    response = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS})
    assert response.status_code == 422
    assert "Choose at least one session or rank at least one workshop." in response.text
    assert _count(db, Registration) == 0
    empty = make_event(slug="no-programme-yet")
    assert submit(client, f"/events/{empty.slug}/register", {**FORM_DEFAULTS}).status_code == 303


def _session_cookie(app, client) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    """Return the browser's session cookie as sent, and its content as anyone at the browser can read it."""
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    payload = cookie.value.removeprefix(".").split(".")[0]  # signed, not encrypted: base64 (maybe zlib) JSON
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    readable = zlib.decompress(raw) if cookie.value.startswith(".") else raw
    return cookie.value + readable.decode(), app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_the_success_page_shows_the_private_link_once_and_the_cookie_never_holds_it(
    app, client, db, make_event, make_session, outbox, monkeypatch
):
    event = make_event()
    session = make_session(event, capacity=5)
    answer = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "sessions": [str(session.id)]})
    assert answer.status_code == 303
    [message] = outbox.messages()
    token = message.redact[0]  # the link of the confirmation email
    readable, content = _session_cookie(app, client)
    assert token not in readable and token not in repr(content)
    assert set(content["registration_receipt"]) == {"event", "sealed", "until"}

    page = client.get(answer.headers["Location"])
    assert page.status_code == 200 and f"http://zapisy.test/r/{token}" in page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Pragma"] == "no-cache"
    assert "registration_receipt" not in _session_cookie(app, client)[1]
    # Shown once: a reload, or the next person at a shared computer, gets the event page.
    again = client.get(answer.headers["Location"])
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/events/{event.slug}/")
    assert token not in again.text and again.headers["Cache-Control"] == "no-store"

    # Not opened within the receipt's lifetime: gone too.
    answer = submit(
        client,
        f"/events/{event.slug}/register",
        {**FORM_DEFAULTS, "email": "later@example.com", "sessions": [str(session.id)]},
    )
    real_now = routes.utcnow
    monkeypatch.setattr(
        routes, "utcnow", lambda: real_now() + timedelta(seconds=app.config["REGISTRATION_RECEIPT_SECONDS"])
    )
    assert client.get(answer.headers["Location"]).status_code == 302
    assert client.get(f"/r/{token}").status_code == 200  # the link itself works on


def test_a_receipt_opens_only_with_the_servers_key_and_for_its_event(app):
    with app.test_request_context():
        token = "T" * 43
        receipt = receipts.make_receipt("event-1", token, NOW)
        assert token not in repr(receipt)
        assert receipts.take_receipt({receipts.SESSION_KEY: dict(receipt)}, "event-1", NOW) == token
        assert receipts.take_receipt({receipts.SESSION_KEY: dict(receipt)}, "event-2", NOW) is None
        for broken in ({"sealed": "%%%"}, {"sealed": ""}, {"until": "soon"}, {"until": None}):
            assert receipts.take_receipt({receipts.SESSION_KEY: {**receipt, **broken}}, "event-1", NOW) is None
        app.config["SECRET_KEY"] = "another-secret"
        assert receipts.take_receipt({receipts.SESSION_KEY: dict(receipt)}, "event-1", NOW) != token


EXPLICIT = "Na to wydarzenie istnieje już zgłoszenie z tym adresem e-mail"
NEUTRAL = "Nie udało się zarejestrować tego adresu e-mail na to wydarzenie"


def _refusal(client, event, email: str) -> str:  # type: ignore[no-untyped-def]
    """Submit the form for ``email`` (registered already) from a new browser; return what the refusal says.

    That is the alert above the form and the email field's error, and they must link to the resend page only.
    """
    answer = submit(
        client.application.test_client(), f"/events/{event.slug}/register", {**FORM_DEFAULTS, "email": email}
    )
    assert answer.status_code == 422
    said = re.search(r'id="form-errors"[^>]*>(.*?)</div>', answer.text, re.S).group(1)
    said += re.search(r'id="email-error">(.*?)</div>', answer.text, re.S).group(1)
    # Besides the summary's links to the fields in error (#email), only the resend page.
    assert set(re.findall(r'href="([^"#][^"]*)"', said)) == {f"/events/{event.slug}/resend-link"}
    return said


def test_the_form_says_an_address_is_registered_only_a_few_times_then_refuses_neutrally(
    app, client, db, make_event, register
):
    event = make_event()
    register(event, email="known@example.com")
    register(event, email="other@example.com")
    for _answer in range(app.config["ALREADY_REGISTERED_ANSWERS"]):
        assert EXPLICIT in _refusal(client, event, "Known@Example.com ")  # the address as the form normalises it
    said = _refusal(client, event, "known@example.com")
    assert NEUTRAL in said and EXPLICIT not in said
    # Another address is still told; and no counter holds an address.
    assert EXPLICIT in _refusal(client, event, "other@example.com")
    keys = db.session.execute(select(LoginAttempt.key)).scalars().all()
    assert len(keys) == app.config["ALREADY_REGISTERED_ANSWERS"] + 1 and not any("@" in key for key in keys)


@pytest.mark.app_config(ALREADY_REGISTERED_WINDOW=1)
def test_the_neutral_refusal_ends_with_the_window(app, client, db, make_event, register, monkeypatch):
    event = make_event()
    register(event, email="known@example.com")
    for _answer in range(app.config["ALREADY_REGISTERED_ANSWERS"]):
        assert EXPLICIT in _refusal(client, event, "known@example.com")
    assert NEUTRAL in _refusal(client, event, "known@example.com")
    time.sleep(1.1)
    assert EXPLICIT in _refusal(client, event, "known@example.com")


def test_the_registered_answers_count_in_redis_when_configured(app, client, db, make_event, register):
    redis = pytest.importorskip("redis", reason="Redis tests skipped: the redis package is not installed")
    server = redis.Redis(host="127.0.0.1", port=6379, db=13, socket_timeout=1)
    try:
        server.ping()
    except redis.RedisError:
        pytest.skip("Redis tests skipped: no Redis server answers on 127.0.0.1:6379")
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/13"
    email = f"redis-{uuid.uuid4().hex[:8]}@example.com"
    event = make_event()
    register(event, email=email)
    try:
        for _answer in range(app.config["ALREADY_REGISTERED_ANSWERS"]):
            assert EXPLICIT in _refusal(client, event, email)
        assert NEUTRAL in _refusal(client, event, email)
        [key] = [
            k
            for k in server.keys("zapisy:*registered-answer:*")
            if server.zcard(k) == app.config["ALREADY_REGISTERED_ANSWERS"]
        ]  # attempts: a sorted set
        assert email.encode() not in key
        assert db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0
    finally:
        for key in server.keys("zapisy:*registered-answer:*"):
            server.delete(key)


# --- what a newcomer reads on the form (issue 18) ----------------------------------------------


def test_the_form_marks_required_and_optional_fields(client, db, make_event, make_session):
    event = make_event()
    make_session(event)
    page = client.get(f"/events/{event.slug}/register").text
    category = re.search(r'<label class="form-label" for="category">(.*?)</label>', page, re.S).group(1)
    assert "Kategoria uczestnika" in category and 'class="text-danger">*</span>' in category
    assert re.search(r'<label class="form-label" for="position">Stanowisko \(opcjonalnie\)</label>', page)


def test_the_error_summary_links_to_each_field_in_error_and_takes_the_focus(client, db, make_event, make_session):
    event = make_event()
    make_session(event)
    refused = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "first_name": "", "category": "", "consent": ""}
    )
    assert refused.status_code == 422
    summary = re.search(r'<div class="alert alert-danger"[^>]*id="form-errors"[^>]*>(.*?)</div>', refused.text, re.S)
    assert summary and 'tabindex="-1"' in summary.group(0) and "data-focus-on-load" in summary.group(0)
    links = re.findall(r'<a href="#([\w-]+)" class="alert-link">', summary.group(1))
    assert links == ["first_name", "category", "consent"]
    assert "csrf" not in summary.group(1).lower()
    for target in links:  # every link leads to an element of the page
        assert f'id="{target}"' in refused.text


def test_a_full_group_says_no_places_left(client, db, make_event, make_session, register):
    event = make_event()
    workshop = make_session(event, groups=[1, 2])
    register(event, workshop)
    register(event, workshop)  # the emptiest group first: one in each, the 1-place group is full
    page = client.get(f"/events/{event.slug}/").text
    assert "Brak miejsc" in page and "Zostało 0 miejsc" not in page
    client.get("/language/en")
    page = client.get(f"/events/{event.slug}/").text
    assert "No places left" in page and "0 places left" not in page


def test_the_success_page_says_where_the_email_went(client, db, make_event, make_session):
    event = make_event()
    talk = make_session(event)
    done = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "sessions": talk.id}, follow_redirects=True
    )
    assert done.status_code == 200
    assert "Wysłaliśmy e-mail na adres lukasz@example.com" in done.text
