"""What the emails say: language, sessions, calendar files, safe headers and HTML, the resend-link page."""

from __future__ import annotations

import email
import re
from email.header import decode_header, make_header
from email.utils import getaddresses
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.db import utcnow, write_transaction
from app.notifications.models import MessageKind, MessageStatus
from app.registration import emails as notifications
from app.registration import services
from app.registration.models import Booking, BookingStatus
from tests.conftest import FORM_DEFAULTS, submit

WARSAW = ZoneInfo("Europe/Warsaw")


def _calendar(row) -> Calendar:  # type: ignore[no-untyped-def]
    """Parse the .ics attachment of an outbox row."""
    [attachment] = [a for a in row.attachments if a["content_type"] == "text/calendar"]
    return Calendar.from_ical(attachment["content"])


def _vevents(calendar: Calendar) -> dict[str, object]:
    """Return the calendar's events by UID."""
    return {str(item["UID"]): item for item in calendar.walk("VEVENT")}


def test_the_calendar_file_holds_the_event_and_sessions_in_warsaw_time_with_stable_uids(
    app, db, make_event, make_session, register, outbox
):
    event = make_event()
    morning = make_session(event, start_hour=9)
    noon = make_session(event, start_hour=12)
    registration = register(event, morning, noon, language="en")
    received = outbox.messages(kind="registration_received")[0]
    calendar = _calendar(received)
    assert calendar["VERSION"] == "2.0" and calendar.walk("VTIMEZONE")
    assert calendar.walk("VTIMEZONE")[0]["TZID"] == "Europe/Warsaw"
    events = _vevents(calendar)
    assert len(events) == 3  # the event and two sessions
    session_entries = [e for uid, e in events.items() if uid.startswith("registration-")]
    starts = sorted(e["DTSTART"].dt for e in session_entries)
    assert starts == [morning.starts_at, noon.starts_at]
    assert all(str(e["DTSTART"].dt.tzinfo) == "Europe/Warsaw" for e in session_entries)
    assert all(e["STATUS"] == "CONFIRMED" for e in session_entries)
    assert "TZID=Europe/Warsaw" in received.attachments[0]["content"]
    assert {str(e["SUMMARY"]) for e in session_entries} == {"Session 9", "Session 12"}

    booking = next(b for b in registration.bookings if b.session_id == noon.id)
    services.cancel_booking(registration, booking.id)
    cancelled = outbox.messages(kind="booking_cancelled")[0]
    after = _vevents(_calendar(cancelled))
    assert set(after) == set(events)  # same UIDs: calendars update instead of duplicating
    noon_uid = next(uid for uid, e in after.items() if str(e["SUMMARY"]) == "Session 12")
    assert after[noon_uid]["STATUS"] == "CANCELLED"
    assert after[noon_uid]["SEQUENCE"] >= events[noon_uid]["SEQUENCE"]

    services.cancel_registration(registration)
    gone = _vevents(_calendar(outbox.messages(kind="registration_cancelled")[0]))
    assert all(e["STATUS"] == "CANCELLED" for e in gone.values())


def _reference_calendar(event, bookings, language, domain, now, is_cancelled=False) -> Calendar:  # type: ignore[no-untyped-def]
    """Build the calendar the slow, obvious way: one icalendar component per entry, every property added."""
    from icalendar import Event as Entry

    from app.i18n import localized

    calendar = Calendar()
    entry = Entry()
    entry.add("uid", f"event-{event.id}@{domain}")
    entry.add("dtstamp", now)
    entry.add("dtstart", event.starts_at.astimezone(WARSAW))
    entry.add("dtend", event.ends_at.astimezone(WARSAW))
    entry.add("summary", localized(event, "title", language))
    entry.add("location", ", ".join(part for part in (event.venue, event.city) if part))
    if is_cancelled:
        entry.add("sequence", int(now.timestamp()))
        entry.add("status", "CANCELLED")
    calendar.add_component(entry)
    for booking in bookings:
        item = Entry()
        item.add("uid", f"registration-{booking.registration_id}-session-{booking.session_id}@{domain}")
        item.add("dtstamp", now)
        item.add("sequence", int(booking.updated_at.timestamp()))
        item.add("dtstart", booking.session.starts_at.astimezone(WARSAW))
        item.add("dtend", booking.session.ends_at.astimezone(WARSAW))
        item.add("summary", localized(booking.session, "title", language))
        place = ", ".join(
            p for p in (booking.group.room if booking.group else "", booking.session.room, event.venue) if p
        )
        if place:
            item.add("location", place)
        item.add("status", {"cancelled": "CANCELLED", "confirmed": "CONFIRMED"}.get(booking.status.value, "TENTATIVE"))
        calendar.add_component(item)
    return calendar


def _entries(calendar: Calendar) -> dict[str, dict[str, bytes]]:
    """Return each VEVENT's properties as written, by UID."""
    return {str(e["UID"]): {name: e[name].to_ical() for name in e} for e in calendar.walk("VEVENT")}


@pytest.mark.parametrize("cancelled", [False, True])
def test_the_calendar_file_says_what_icalendar_would_write_for_each_entry(
    app, db, make_event, make_session, register, cancelled
):
    from app.registration.calendar import calendar_bookings, registration_calendar

    hostile = "Okrągły stół; burmistrzowie, wójtowie \\ eksperci\nBEGIN:VEVENT " + "żółć " * 20
    event = make_event(venue="Centrum Kongresowe, sala A; piętro 2", title_en="Round table, mayors; experts")
    workshop = make_session(event, start_hour=9, title_pl=hostile, room="Sala 1", groups=[2, 2])
    workshop.groups[0].room = workshop.groups[1].room = "Sala 2, skrzydło B"
    db.session.commit()
    plain = make_session(event, start_hour=12, capacity=1)
    register(event, plain, email="first@example.com")
    registration = register(event, workshop, plain, email="second@example.com")
    if cancelled:
        services.cancel_registration(registration)
    assert {b.status for b in registration.bookings} >= (
        {BookingStatus.CANCELLED} if cancelled else {BookingStatus.WAITLISTED}
    )
    now = utcnow()
    for language in ("pl", "en"):
        bookings = calendar_bookings(registration)
        written = registration_calendar(event, bookings, language, "zapisy.example.org", now, is_cancelled=cancelled)
        parsed = Calendar.from_ical(written)
        assert all(len(line.encode()) <= 75 for line in written.decode().split("\r\n"))  # folded
        assert parsed.walk("VTIMEZONE") and parsed["METHOD"] == "PUBLISH"
        expected = _entries(_reference_calendar(event, bookings, language, "zapisy.example.org", now, cancelled))
        assert _entries(parsed) == expected and len(expected) == 1 + len(bookings)
        summaries = {str(e["SUMMARY"]) for e in parsed.walk("VEVENT")}
        assert (hostile in summaries) == (language == "pl")
        assert "Centrum Kongresowe, sala A; piętro 2" in {str(e.get("LOCATION")) for e in parsed.walk("VEVENT")}


def test_changes_cancellations_and_promotions_are_each_told(
    app, db, client, make_event, make_session, register, outbox
):
    event = make_event()
    small = make_session(event, start_hour=9, capacity=1)
    other = make_session(event, start_hour=11)
    first = register(event, small, email="first@example.com")
    second = register(event, small, email="second@example.com", language="en")
    assert [b.status for b in second.bookings] == [BookingStatus.WAITLISTED]

    services.change_choices(first, services.Choices(session_ids=[other.id]))
    [changed] = outbox.messages(kind="changes_confirmed")
    assert changed.recipient_email == "first@example.com"
    assert "Sesja 9" in changed.body_text and "Sesja 11" in changed.body_text
    [promoted] = outbox.messages(kind="promoted")
    assert promoted.recipient_email == "second@example.com" and promoted.language == "en"
    assert "Session 9" in promoted.body_text and 'lang="en"' in promoted.body_html
    assert "http://zapisy.test/events/event-1/resend-link" in promoted.body_text  # no token: the resend page

    services.cancel_registration(first)
    [cancelled] = outbox.messages(kind="registration_cancelled")
    assert cancelled.recipient_email == "first@example.com"


@pytest.mark.parametrize("language", ["pl", "en"])
def test_every_kind_renders_in_both_languages(app, db, make_event, make_session, register, outbox, language):
    event = make_event(contact_email="biuro@example.org")
    session = make_session(event)
    registration = register(event, session, language=language, category="business")
    booking = registration.bookings[0]
    with write_transaction():
        registration = db.session.merge(registration)
        booking = db.session.get(Booking, booking.id)
        notifications.queue_request_decided(booking, True, utcnow())
        notifications.queue_request_decided(booking, False, utcnow())
    kinds = {row.kind for row in outbox.messages()}
    assert {MessageKind.REGISTRATION_RECEIVED, MessageKind.REQUEST_APPROVED, MessageKind.REQUEST_DECLINED} <= kinds
    for row in outbox.messages():
        assert row.language == language
        assert f'lang="{language}"' in row.body_html
        assert ("Sesja 10" if language == "pl" else "Session 10") in row.body_text
        assert "biuro@example.org" in row.body_text and row.reply_to == "biuro@example.org"
        assert "\n" not in row.subject and row.subject


def test_hostile_names_add_no_header_and_no_live_html(
    app, db, make_event, make_session, participant, smtp_server, outbox
):
    event = make_event(title_pl="Zjazd <b>miast</b>\r\nBcc: evil@example.net")
    session = make_session(event, title_pl="<script>alert(1)</script>")
    person = participant(
        first_name='<img src=x onerror="alert(1)">\r\nBcc: x@y.example',
        last_name="Nowak",
        email="anna@example.com",
    )
    services.register(event, person, services.Choices(session_ids=[session.id]))
    outbox.deliver()
    [received] = smtp_server.handler.received
    assert received.rcpt_tos == ["anna@example.com"]
    message = received.message
    assert message["Bcc"] is None and message["Cc"] is None
    assert len(message.get_all("To")) == 1 and len(message["To"].addresses) == 1
    assert message["To"].addresses[0].addr_spec == "anna@example.com"
    assert "\n" not in str(message["Subject"]) and "Bcc: evil@example.net" in str(message["Subject"])
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in headers and not headers.startswith(b"Bcc:")
    html = message.get_body(preferencelist=("html",)).get_content()
    # The only image is ours: the check-in QR code, an inline part referenced by its Content-ID.
    assert re.findall(r"<img\b[^>]*>", html) and all(
        'src="cid:checkin-qr"' in tag for tag in re.findall(r"<img\b[^>]*>", html)
    )
    assert "<script>" not in html and "<b>miast" not in html
    assert "&lt;img" in html and "&lt;script&gt;" in html


def test_polish_display_names_and_subjects_are_encoded(
    app, db, make_event, make_session, participant, smtp_server, outbox
):
    from app.events.models import Series

    event = make_event(title_pl="Sesja Dialogu — Łódź, żółć")
    db.session.execute(db.update(Series).values(organiser_name="Fundacja „Miasta Przyszłości”, Łódź"))
    db.session.commit()
    person = participant(first_name="Łukasz", last_name="Żółkiewski-" + "Ćwikliński" * 8, email="lukasz@example.com")
    services.register(event, person, services.Choices(session_ids=[make_session(event).id]))
    outbox.deliver()
    [received] = smtp_server.handler.received
    raw_headers = received.raw.split(b"\r\n\r\n", 1)[0]
    raw_headers.decode("ascii")  # every header is plain ASCII on the wire
    # Decoded per RFC 2047 with the classic API: the modern parser adds spaces
    # between the encoded words of a folded display name (a CPython quirk).
    message = email.message_from_bytes(received.raw)

    def addresses(header: str) -> list[tuple[str, str]]:
        return [(str(make_header(decode_header(name))), addr) for name, addr in getaddresses([message[header]])]

    # The participant registered in Polish (the default language).
    assert str(make_header(decode_header(message["Subject"]))) == "Zgłoszenie przyjęte: Sesja Dialogu — Łódź, żółć"
    assert addresses("To") == [("Łukasz Żółkiewski-" + "Ćwikliński" * 8, "lukasz@example.com")]
    assert addresses("From") == [("Fundacja „Miasta Przyszłości”, Łódź", "zapisy@localhost")]


def test_an_invalid_recipient_is_kept_as_failed(app, db, make_event, make_session, participant, outbox):
    event = make_event()
    services.register(event, participant(email="a@b.example\r\nBcc: c@d.example"), services.Choices())
    [row] = outbox.messages()
    assert row.status == MessageStatus.FAILED and "invalid recipient" in row.last_error


def test_resend_link_mails_a_new_link_and_answers_the_same_either_way(
    app, db, client, make_event, make_session, outbox
):
    event = make_event()
    url = f"/events/{event.slug}/resend-link"
    client.get("/language/en")
    response = submit(
        client,
        f"/events/{event.slug}/register",
        {**FORM_DEFAULTS, "language": "en", "sessions": [make_session(event).id]},
    )
    assert response.status_code == 303
    old_link = outbox.messages(kind="registration_received")[0].body_text.split("http://zapisy.test/r/")[1].split()[0]

    unknown = submit(client, url, {"email": "nobody@example.com"}, follow_redirects=True)
    known = submit(client, url, {"email": FORM_DEFAULTS["email"].upper()}, follow_redirects=True)
    assert unknown.status_code == known.status_code == 200
    notice = "If a registration with this address exists for this event"
    assert notice in unknown.text and notice in known.text
    without_token = re.compile(r'name="csrf_token" type="hidden" value="[^"]+"')
    assert without_token.sub("", unknown.text) == without_token.sub("", known.text)

    [sent] = outbox.messages(kind="manage_link")
    assert sent.recipient_email == FORM_DEFAULTS["email"]
    new_link = sent.body_text.split("http://zapisy.test/r/")[1].split()[0]
    assert new_link != old_link
    old = client.get(f"/r/{old_link}")
    assert old.status_code == 404  # the old link stops working, and its page says where to get a new one
    assert "Private links stop working when a new one is sent" in old.text and 'href="/"' in old.text
    assert f'href="{url}"' in client.get(f"/events/{event.slug}/").text
    assert client.get(f"/r/{new_link}").status_code == 200
    assert "no longer works" in sent.body_text


def test_resend_link_is_rate_limited_per_registration_and_per_ip(
    app, db, client, make_event, make_session, register, outbox
):
    app.config.update(OUTBOX_RESEND_MAX_PER_HOUR=2, OUTBOX_RESEND_MAX_PER_IP=4)
    event = make_event()
    talk = make_session(event)
    register(event, talk, email="often@example.com")
    url = f"/events/{event.slug}/resend-link"
    for _ in range(3):
        assert submit(client, url, {"email": "often@example.com"}).status_code == 303
    assert len(outbox.messages(kind="manage_link")) == 2  # per registration and hour
    register(event, talk, email="other@example.com")
    submit(client, url, {"email": "other@example.com"})  # the IP's 4th request: still allowed
    submit(client, url, {"email": "other@example.com"})  # the 5th: refused silently
    assert len(outbox.messages(kind="manage_link", to="other@example.com")) == 1


def test_the_already_registered_message_links_to_the_resend_page(app, db, client, make_event, register):
    event = make_event()
    register(event, email="twice@example.com")
    response = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, "email": "twice@example.com"})
    assert response.status_code == 422
    assert f'href="/events/{event.slug}/resend-link"' in response.text
    assert client.get(f"/events/{event.slug}/resend-link").status_code == 200


def test_confirmation_carries_the_check_in_qr_code_inline(
    app, db, make_event, make_session, participant, smtp_server, outbox
):
    event = make_event()
    registration = services.register(event, participant(email="qr@example.com"), services.Choices()).registration
    outbox.deliver()
    [received] = smtp_server.handler.received
    images = [part for part in received.message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<checkin-qr>"
    assert images[0].get_content_disposition() == "inline"
    assert images[0].get_content().startswith(b"\x89PNG")
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert 'src="cid:checkin-qr"' in html and registration.checkin_code in html
