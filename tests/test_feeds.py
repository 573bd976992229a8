"""Calendar feeds of the public programme: an event's and a series'."""

from __future__ import annotations

import re
from datetime import timedelta

from icalendar import Calendar

from app.admin.programme import SessionData, update_session
from app.events.models import EventStatus, Series
from app.i18n import TIMEZONE
from tests.conftest import NOW


def _calendar(response) -> Calendar:  # type: ignore[no-untyped-def]
    """Parse a feed answer, after checking it is one."""
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.data)


def _entries(calendar: Calendar) -> dict[str, object]:
    """Return the calendar's VEVENTs by UID."""
    return {str(entry["UID"]): entry for entry in calendar.walk("VEVENT")}


def test_an_events_feed_has_one_entry_per_session_with_stable_uids(client, make_event, make_session):
    event = make_event(venue="Bionanopark")
    first = make_session(event, start_hour=9, room="Sala A", description_pl="Opis", description_en="About")
    second = make_session(event, start_hour=11, groups=[6, 6])
    response = client.get(f"/events/{event.slug}/programme.ics")
    calendar = _calendar(response)
    assert str(calendar["X-WR-CALNAME"]) == f"Program: {event.title_pl}"
    entries = _entries(calendar)
    assert set(entries) == {f"session-{first.id}@zapisy.test", f"session-{second.id}@zapisy.test"}
    entry = entries[f"session-{first.id}@zapisy.test"]
    assert str(entry["SUMMARY"]) == first.title_pl
    assert str(entry["LOCATION"]) == "Sala A, Bionanopark, Łódź"
    assert str(entry["DESCRIPTION"]) == "Opis"
    assert str(entry["URL"]) == f"http://zapisy.test/events/{event.slug}/"
    start = entry["DTSTART"].dt
    assert start.tzinfo is not None and start.tzinfo.key == "Europe/Warsaw"
    assert start == first.starts_at and entry["DTEND"].dt == first.ends_at
    assert start.hour == first.starts_at.astimezone(TIMEZONE).hour
    assert b"TZID=Europe/Warsaw" in response.data and len(calendar.walk("VTIMEZONE")) == 1
    # The same bytes each time: a calendar app asking again gets a 304.
    again = client.get(f"/events/{event.slug}/programme.ics")
    assert again.data == response.data
    assert (
        client.get(f"/events/{event.slug}/programme.ics", headers={"If-None-Match": again.headers["ETag"]}).status_code
        == 304
    )


def test_the_feed_is_in_english_on_request(client, make_event, make_session):
    event = make_event()
    session = make_session(event)
    calendar = _calendar(client.get(f"/events/{event.slug}/programme.ics?lang=en"))
    assert str(calendar["X-WR-CALNAME"]) == f"Programme: {event.title_en}"
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == [session.title_en]


def test_an_edit_keeps_the_uid_and_changes_the_feed(client, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=5)
    url = f"/events/{event.slug}/programme.ics"
    before = client.get(url)
    later = session.starts_at + timedelta(hours=2)
    update_session(
        session.id,
        SessionData(
            kind=session.kind, title_pl="Przeniesiona", starts_at=later, ends_at=later + timedelta(hours=1), capacity=5
        ),
    )
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    [entry] = _entries(_calendar(after)).values()
    assert str(entry["UID"]) == f"session-{session.id}@zapisy.test"
    assert str(entry["SUMMARY"]) == "Przeniesiona" and entry["DTSTART"].dt == later


def test_the_feed_holds_no_personal_data_and_registrations_leave_it_alone(client, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=5)
    url = f"/events/{event.slug}/programme.ics"
    before = client.get(url)
    registration = register(event, session, first_name="Zofia", last_name="Kowalska", email="zofia@example.com")
    after = client.get(url)
    assert after.data == before.data and after.headers["ETag"] == before.headers["ETag"]
    for private in ("Zofia", "Kowalska", "zofia@example.com", registration.organisation):
        assert private.encode() not in after.data


def test_drafts_and_unknown_slugs_have_no_feed(client, make_event):
    draft = make_event(status=EventStatus.DRAFT)
    assert client.get(f"/events/{draft.slug}/programme.ics").status_code == 404
    assert client.get("/events/no-such-event/programme.ics").status_code == 404
    assert client.get("/series/no-such-series/programme.ics").status_code == 404


def test_a_series_feed_has_the_programmes_of_its_public_events(client, db, make_event, make_session):
    past = make_event(starts_at=NOW - timedelta(days=400), ends_at=NOW - timedelta(days=399))
    upcoming = make_event()
    draft = make_event(status=EventStatus.DRAFT)
    other = Series(slug="other-series", name_pl="Inny cykl")
    db.session.add(other)
    db.session.commit()
    elsewhere = make_event(series=other)
    sessions = [make_session(past), make_session(upcoming, start_hour=9), make_session(upcoming, start_hour=11)]
    hidden = [make_session(draft), make_session(elsewhere)]
    empty = make_event(slug="no-programme-yet")  # no sessions yet: one entry for the event itself

    calendar = _calendar(client.get("/series/test-series/programme.ics"))
    assert str(calendar["X-WR-CALNAME"]) == "Seria testowa"
    uids = set(_entries(calendar))
    assert uids == {f"session-{s.id}@zapisy.test" for s in sessions} | {f"programme-event-{empty.id}@zapisy.test"}
    assert not uids & {f"session-{s.id}@zapisy.test" for s in hidden}
    # One time zone covering every year of the series' events.
    [timezone] = calendar.walk("VTIMEZONE")
    years = {int(year) for year in re.findall(rb"[:,](\d{4})\d{4}T", timezone.to_ical())}
    assert min(years) <= past.starts_at.year - 1 and max(years) >= upcoming.starts_at.year


def test_the_event_page_and_the_list_link_to_the_feeds(client, make_event):
    upcoming = make_event()
    make_event(starts_at=NOW - timedelta(days=40), ends_at=NOW - timedelta(days=39))
    page = client.get(f"/events/{upcoming.slug}/").text
    links = re.findall(r'href="([^"]+\.ics)"', page)
    assert links == [f"/events/{upcoming.slug}/programme.ics", "/series/test-series/programme.ics"]
    assert "Subskrybuj program w kalendarzu" in page
    assert '"/series/test-series/programme.ics"' in client.get("/").text
    for link in links:
        assert client.get(link).status_code == 200
