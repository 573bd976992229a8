"""Event list, programme page, JSON API, language switch and demo data."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.events.models import Event, EventStatus
from app.registration.models import Registration


def test_event_page_shows_places_left_and_full_sessions(client, make_event, make_session, register):
    event = make_event()
    open_session = make_session(event, start_hour=9, capacity=3, title_en="Open one")
    full = make_session(event, start_hour=11, capacity=1, title_en="Full one")
    register(event, open_session)
    register(event, full)
    register(event, full)
    client.get("/language/en")
    page = client.get(f"/events/{event.slug}/")
    assert page.status_code == 200
    assert "2 places left" in page.text
    assert "Full — waiting list" in page.text and "1 waiting" in page.text


def test_index_lists_upcoming_and_past_by_series(client, make_event):
    from datetime import timedelta

    from tests.conftest import NOW

    make_event(title_pl="Przyszłe", title_en="Upcoming one")
    make_event(
        title_pl="Dawne",
        title_en="Old one",
        starts_at=NOW - timedelta(days=400),
        ends_at=NOW - timedelta(days=399),
        status=EventStatus.CLOSED,
        registration_opens_at=None,
        registration_closes_at=None,
    )
    make_event(title_pl="Szkic", title_en="Draft one", status=EventStatus.DRAFT)
    client.get("/language/en")
    page = client.get("/").text
    assert "Upcoming one" in page and "Old one" in page and "Draft one" not in page
    assert page.index("Upcoming one") < page.index("Past editions") < page.index("Old one")


def test_api_gives_availability_without_personal_data(client, make_event, make_session, register):
    event = make_event()
    session = make_session(event, groups=[2, 2])
    for _ in range(5):
        register(event, session)
    data = client.get(f"/api/events/{event.slug}").get_json()
    item = data["sessions"][0]
    assert item["capacity"] == 4 and item["confirmed"] == 4 and item["waitlisted"] == 1 and item["places_left"] == 0
    assert [g["confirmed"] for g in item["groups"]] == [2, 2]
    text = client.get(f"/api/events/{event.slug}").text
    assert "example.com" not in text and "Nowak" not in text
    listing = client.get("/api/events").get_json()
    assert [e["slug"] for e in listing["events"]] == [event.slug]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/events/x/", "/events/x/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/events/x/\r\nSet-Cookie: a=b", "/"),
        ("/\t/evil.example", "/"),
        ("/\x7f/x", "/"),
        (None, "/"),
    ],
)
def test_language_switch_only_redirects_to_local_paths(client, target, expected):
    url = "/language/en" + (f"?next={quote(target, safe='/:')}" if target else "")
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_language_switch_changes_the_page_language(client):
    assert 'lang="pl"' in client.get("/").text
    client.get("/language/en")
    assert 'lang="en"' in client.get("/").text
    assert 'lang="pl"' in client.get("/?lang=pl").text


def test_seed_demo_is_idempotent(runner, db):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and "v-sesja-dialogu-lodz" in first.output
    count = db.session.execute(select(func.count()).select_from(Event)).scalar_one()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nothing to do" in second.output
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Event)).scalar_one() == count
    lodz = db.session.execute(select(Event).where(Event.slug == "v-sesja-dialogu-lodz")).scalar_one()
    assert lodz.city == "Łódź" and "Bionanopark" in lodz.venue


def test_demo_events_can_be_registered_for(runner, client, db):
    from app.events.models import BookingMode, Session
    from tests.conftest import FORM_DEFAULTS, submit

    runner.invoke(args=["seed-demo"])
    for slug, language in (("v-sesja-dialogu-lodz", "pl"), ("pracownia-miast-sandomierz", "en")):
        event = db.session.execute(select(Event).where(Event.slug == slug)).scalar_one()
        first = db.session.execute(
            select(Session.id)
            .where(Session.event_id == event.id, Session.booking_mode == BookingMode.INSTANT)
            .order_by(Session.starts_at, Session.id)
            .limit(1)
        ).scalar_one()
        response = submit(
            client,
            f"/events/{slug}/register",
            {
                **FORM_DEFAULTS,
                "language": language,
                "email": f"{slug}@example.com",
                "sessions": [str(first)],
            },
        )
        assert response.status_code == 303, slug
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Registration)).scalar_one() == 2


def test_the_edition_is_worded_in_the_page_language(client, make_event):
    event = make_event(edition_label="V")
    assert "edycja V" in client.get(f"/events/{event.slug}/").text
    english = client.get(f"/events/{event.slug}/?lang=en").text
    assert "edition V" in english and "edycja" not in english
