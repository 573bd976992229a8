"""Certificates of attendance: the PDF (read back), who gets one and when, the pages, the email, the command."""

from __future__ import annotations

import ast
import io
import re
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.certificates import services as certificates
from app.certificates.pdf import Certificate, SessionLine, build_pdf, clean
from app.checkin import services as checkin
from app.checkin.services import Scope
from app.events.models import Event
from app.extensions import db as _db
from app.notifications.models import MessageKind, MessageStatus
from app.registration import services as registration_services
from app.registration.models import BookingStatus, Registration
from tests.conftest import csrf_token, submit

ROOT = Path(__file__).resolve().parent.parent


def _text(body: bytes) -> str:
    """Return the text of every page of a PDF, read back with pypdf."""
    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    """Return extracted text without line breaks (wrapped lines joined)."""
    return re.sub(r"\s+", " ", text)


def _certificate(**overrides) -> Certificate:  # type: ignore[no-untyped-def]
    values = {
        "heading": "ZAŚWIADCZENIE O UDZIALE",
        "intro": "Zaświadcza się, że",
        "participant": "Łucja Żółtowska-Gęś",
        "affiliation": "Sekretarz, Urząd Miasta Łodzi",
        "took_part": "uczestniczył(a) w wydarzeniu",
        "event_title": "Miasta Przyszłości — Łódź",
        "details": [("Data", "14 maja 2026"), ("Miejsce", "Łódź, Pałac Poznańskiego"), ("Organizator", "THINKTANK")],
        "sessions_heading": "Sesje, w których uczestniczył(a):",
        "sessions": [SessionLine("14 maja 2026, 10:00–12:00", "Debata: zieleń miejska")],
        "sessions_note": "Obecność odnotowano przy wejściu.",
        "issued": "Łódź, 14 maja 2026",
        "issued_label": "miejscowość i data",
        "signature_label": "podpis",
        "signatory_name": "Józef Źdźbło",
        "signatory_role": "Prezes Zarządu",
        "organiser": "THINKTANK",
        "reference": "Zaświadczenie nr 1/2",
    }
    values.update(overrides)
    return Certificate(**values)


# --- the PDF ----------------------------------------------------------------------------------


def test_polish_text_reads_back_from_the_pdf_with_the_font_embedded():
    body = build_pdf([_certificate()], title="Zaświadczenie o udziale", author="THINKTANK")
    assert body.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in (
        "ZAŚWIADCZENIE O UDZIALE",
        "Łucja Żółtowska-Gęś",
        "Miasta Przyszłości — Łódź",
        "Łódź, Pałac Poznańskiego",
        "Debata: zieleń miejska",
        "Józef Źdźbło",
        "Prezes Zarządu",
        "miejscowość i data",
    ):
        assert expected in text, expected
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptors = [font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"] for font in fonts.values()]
    assert descriptors and all("/FontFile2" in d for d in descriptors)  # TrueType embedded, not a system font
    assert reader.metadata.title == "Zaświadczenie o udziale"


def test_a_very_long_name_wraps_inside_the_page():
    name = "Aleksandra-Żaneta " + "Wierzbicka-" * 12 + "Ściegienna " + "Ł" * 90
    body = build_pdf([_certificate(participant=name, event_title="Forum " * 60)])
    reader = PdfReader(io.BytesIO(body))
    page = reader.pages[0]
    width = float(page.mediabox.width)
    starts: list[float] = []

    def visit(text, cm, tm, font_dict, font_size):  # type: ignore[no-untyped-def]
        if text.strip():
            starts.append(tm[4] * cm[0] + cm[4])

    page.extract_text(visitor_text=visit)
    assert starts and min(starts) >= 0 and max(starts) < width
    assert name.replace(" ", "") in _flat(_text(body)).replace(" ", "")  # every letter is there, in order
    assert len(reader.pages) <= 2


def test_characters_that_could_break_a_pdf_are_written_safely():
    hostile = "Jan) Tj (\\ET BT%\x00\x07 <</Type /Page>> endstream\nNowak\u202e\u200b 🙂"
    body = build_pdf([_certificate(participant=hostile, organiser="(Grupa) \\ Agora")])
    text = _flat(_text(body))
    assert "Jan) Tj (\\ET BT%" in text
    assert "<</Type /Page>> endstream Nowak" in text
    assert len(PdfReader(io.BytesIO(body)).pages) == 1
    assert clean("a\nb\tc\x00d\u202e\u200be") == "a b c de"


def test_many_sessions_move_the_signature_to_a_second_page():
    lines = [SessionLine(f"14 maja 2026, {h % 24:02d}:00", f"Sesja {h}") for h in range(45)]
    body = build_pdf([_certificate(sessions=lines)])
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 2
    assert "Sesja 44" in _text(body) and "Józef Źdźbło" in reader.pages[1].extract_text()


def test_no_certificate_is_no_pdf():
    with pytest.raises(ValueError):
        build_pdf([])


def test_the_pdf_builder_is_pure():
    tree = ast.parse((ROOT / "app" / "certificates" / "pdf.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the builder imports nothing of the app"
            imported.add((node.module or "").split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"fpdf"}


# --- who gets one, and when ---------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def past(make_event, make_session, db):  # type: ignore[no-untyped-def]
    """An event that ended an hour ago, with a debate (door not scanned) and a workshop of one group."""
    starts = _now() - timedelta(days=1)
    event = make_event(
        starts_at=starts.replace(hour=7, minute=0, second=0),
        ends_at=_now() - timedelta(hours=1),
        registration_opens_at=None,
        registration_closes_at=None,
        venue="Pałac Poznańskiego",
        certificate_signatory_name="Józef Źdźbło",
        certificate_signatory_role_pl="Prezes Zarządu",
        certificate_signatory_role_en="President of the Board",
    )
    event.series.organiser_name = "THINKTANK"
    db.session.commit()
    debate = make_session(event, start_hour=8, title_pl="Debata: zieleń miejska", title_en="Debate: urban greenery")
    workshop = make_session(
        event, start_hour=10, groups=[3], title_pl="Warsztat: rewitalizacja", title_en="Workshop: regeneration"
    )
    return event, debate, workshop


def _register(event, *sessions, **person):  # type: ignore[no-untyped-def]
    """Register through the service (registration window or not) and return (registration, token)."""
    from app.events.models import ParticipantCategory

    values = {
        "first_name": "Anna",
        "last_name": "Nowak",
        "email": f"{person.get('last_name', 'nowak').lower()}@example.com",
        "category": ParticipantCategory.CITY_OFFICIAL,
        "organisation": "Urząd Miasta Łodzi",
        "city": "Łódź",
        **person,
    }
    participant = registration_services.ParticipantData(**values)
    choices = registration_services.Choices(session_ids=[s.id for s in sessions])
    from app.registration.admin_services import add_registration

    registration = add_registration(event, participant, choices).registration
    token = registration_services.new_token()
    from app.extensions import db

    registration.manage_token_hash = registration_services.hash_token(token)
    db.session.commit()
    return registration, token


def _check_in(event: Event, registration: Registration, session=None) -> None:  # type: ignore[no-untyped-def]
    checkin.check_in(event, Scope(session=session), registration_id=registration.id)


def test_who_gets_a_certificate_and_from_when(db, past):
    event, debate, workshop = past
    present, _token = _register(event, debate, last_name="Obecna")
    absent, _token = _register(event, debate, last_name="Nieobecna")
    cancelled, _token = _register(event, debate, last_name="Rezygnacja")
    _check_in(event, present)
    _check_in(event, cancelled)
    registration_services.cancel_registration(cancelled, now=event.starts_at)
    assert certificates.availability(present) == certificates.Availability.AVAILABLE
    assert certificates.availability(absent) == certificates.Availability.NOT_CHECKED_IN
    assert certificates.availability(cancelled) == certificates.Availability.NONE
    before_end = event.ends_at - timedelta(minutes=1)
    assert certificates.availability(present, before_end) == certificates.Availability.AFTER_EVENT
    assert certificates.availability(absent, before_end) == certificates.Availability.NONE
    with pytest.raises(certificates.NotAvailableYet):
        certificates.certificate_pdf(present, before_end)
    with pytest.raises(certificates.NotCheckedIn):
        certificates.certificate_pdf(absent)
    with pytest.raises(certificates.NotCheckedIn):
        certificates.certificate_pdf(cancelled)
    assert [r.last_name for r in certificates.present_registrations(event)] == ["Obecna"]


def test_an_undone_check_in_gives_no_certificate(db, past):
    event, debate, _workshop = past
    registration, _token = _register(event, debate)
    result = checkin.check_in(event, Scope(), registration_id=registration.id)
    checkin.undo_check_in(event, result.check_in.id)
    assert certificates.availability(registration) == certificates.Availability.NOT_CHECKED_IN
    assert certificates.present_registrations(event) == []
    with pytest.raises(certificates.NobodyCheckedIn):
        certificates.event_certificates_pdf(event, "pl")


def test_sessions_attended_are_confirmed_places_less_doors_scanned_without_them(db, past, make_session):
    event, debate, workshop = past
    late = make_session(event, start_hour=12, capacity=1, title_pl="Rozmowa z ekspertem", title_en="Meet the expert")
    ewa, _token = _register(event, debate, workshop, late, last_name="Ewa")
    jan, _token = _register(event, debate, workshop, late, last_name="Jan")
    assert {b.session_id: b.status for b in jan.bookings}[late.id] == BookingStatus.WAITLISTED
    _check_in(event, ewa, workshop)  # scanned at the workshop's door
    _check_in(event, jan)  # arrival only: the workshop's door was scanned, he was not
    attended = certificates.attended_bookings(event, [ewa, jan])
    assert [b.session.title_pl for b in attended[ewa.id]] == [
        "Debata: zieleń miejska",
        "Warsztat: rewitalizacja",
        "Rozmowa z ekspertem",
    ]
    assert [b.session.title_pl for b in attended[jan.id]] == ["Debata: zieleń miejska"]  # waiting list left out
    text = _flat(_text(certificates.certificate_pdf(ewa)))
    assert "Warsztat: rewitalizacja (Grupa: Grupa 1)" in text


def test_the_certificate_is_in_the_participants_language(db, past):
    event, debate, _workshop = past
    polish, _token = _register(event, debate, last_name="Wiśniewska", position="Sekretarz Miasta")
    english, _token = _register(event, debate, last_name="Smith", language="en")
    _check_in(event, polish)
    _check_in(event, english)
    text = _flat(_text(certificates.certificate_pdf(polish)))
    for expected in (
        "ZAŚWIADCZENIE O UDZIALE",
        "Zaświadcza się, że",
        "Anna Wiśniewska",
        "Sekretarz Miasta, Urząd Miasta Łodzi",
        "Wydarzenie 1",
        "Miejsce: Łódź, Pałac Poznańskiego",
        "Organizator: THINKTANK",
        "Debata: zieleń miejska",
        "Józef Źdźbło",
        "Prezes Zarządu",
        "miejscowość i data",
    ):
        assert expected in text, expected
    text = _flat(_text(certificates.certificate_pdf(english)))
    for expected in ("CERTIFICATE OF ATTENDANCE", "Event 1", "Debate: urban greenery", "President of the Board"):
        assert expected in text, expected
    assert "ZAŚWIADCZENIE" not in text
    everyone = certificates.event_certificates_pdf(event, "pl")
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(everyone)).pages]
    assert len(pages) == 2
    assert "Smith" in pages[0] and "CERTIFICATE" in pages[0]  # Polish alphabetical order, each in their language
    assert "Wiśniewska" in pages[1] and "ZAŚWIADCZENIE" in pages[1]


def test_without_a_signatory_the_signature_line_names_the_organiser(db, past):
    event, debate, _workshop = past
    event.certificate_signatory_name = ""
    event.certificate_signatory_role_pl = ""
    db.session.commit()
    registration, _token = _register(event, debate)
    _check_in(event, registration)
    text = _text(certificates.certificate_pdf(registration))
    assert "Józef" not in text and "Prezes" not in text
    assert text.count("THINKTANK") >= 2  # at the head and under the signature line


# --- the pages --------------------------------------------------------------------------------


def test_the_manage_page_offers_the_download_and_it_is_a_pdf(client, db, past):
    event, debate, _workshop = past
    registration, token = _register(event, debate, last_name="Pobierająca")
    page = client.get(f"/r/{token}")
    assert 'id="certificate"' in page.text and "nie została odnotowana" in page.text
    assert f"/r/{token}/certificate.pdf" not in page.text
    _check_in(event, registration)
    page = client.get(f"/r/{token}")
    assert f'href="/r/{token}/certificate.pdf"' in page.text
    assert "Pobierz zaświadczenie (PDF)" in page.text
    response = client.get(f"/r/{token}/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{event.slug}-certificate.pdf"'
    assert "no-store" in response.headers["Cache-Control"]
    assert "Anna Pobierająca" in _text(response.data)


def test_the_manage_page_in_english_and_before_the_end(client, db, past):
    event, debate, _workshop = past
    registration, token = _register(event, debate, language="en")
    _check_in(event, registration)
    client.get("/language/en")
    assert "Download certificate (PDF)" in client.get(f"/r/{token}").text
    event.ends_at = _now() + timedelta(hours=2)
    db.session.commit()
    page = client.get(f"/r/{token}")
    assert "will be available here once the event has ended" in page.text
    assert "certificate.pdf" not in page.text
    response = client.get(f"/r/{token}/certificate.pdf")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/r/{token}#certificate")
    assert "available once the event has ended" in client.get(response.headers["Location"]).text


def test_a_wrong_link_gets_404(client, db, past):
    assert client.get("/r/" + "x" * 43 + "/certificate.pdf").status_code == 404
    assert client.get("/r/short/certificate.pdf").status_code == 404


def test_the_organiser_downloads_all_certificates_in_one_pdf(client, db, past, as_organiser):
    event, debate, _workshop = past
    for name in ("Żak", "Adamska", "Łuczak"):
        registration, _token = _register(event, debate, last_name=name)
        _check_in(event, registration)
    _register(event, debate, last_name="Nieobecny")
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/certificates")
    assert page.status_code == 200
    assert "Anna Łuczak" in page.text and "Nieobecny" not in page.text
    assert f"/admin/events/{event.id}/certificates.pdf" in page.text
    response = client.get(f"/admin/events/{event.id}/certificates.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{event.slug}-certificates.pdf"'
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages]
    assert [re.search(r"Anna (\S+)", p).group(1) for p in pages] == ["Adamska", "Łuczak", "Żak"]  # type: ignore[union-attr]
    one = certificates.present_registrations(event)[0]
    single = client.get(f"/admin/events/{event.id}/certificates/{one.id}.pdf")
    assert single.status_code == 200 and "Anna Adamska" in _text(single.data)


def test_before_the_end_the_organiser_is_told_when(client, db, make_event, make_session, register, as_organiser):
    event = make_event()
    session = make_session(event)
    registration = register(event, session)
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/certificates")
    assert "Zaświadczenia będą dostępne po zakończeniu wydarzenia" in page.text
    response = client.get(f"/admin/events/{event.id}/certificates.pdf")
    assert response.status_code == 302
    response = client.get(f"/admin/events/{event.id}/certificates/{registration.id}.pdf", follow_redirects=True)
    assert "po zakończeniu wydarzenia" in response.text
    token = csrf_token(page.text)
    response = client.post(f"/admin/events/{event.id}/certificates/send", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).certificate_offered_at is None


def test_another_events_registration_is_404(client, db, past, make_event, register, as_organiser):
    event, debate, _workshop = past
    other = make_event()
    stranger = register(other)
    as_organiser("organiser", events=[event])
    assert client.get(f"/admin/events/{event.id}/certificates/{stranger.id}.pdf").status_code == 404


def test_the_signatory_is_set_on_the_event_form(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/edit")
    assert page.status_code == 200 and 'name="certificate_signatory_name"' in page.text
    assert "Zaświadczenia podpisuje" in page.text
    year = _now().year + 1
    form = {
        "series_id": str(event.series_id),
        "slug": event.slug,
        "title_pl": event.title_pl,
        "city": event.city,
        "starts_at": f"{year}-03-20T09:00",
        "ends_at": f"{year}-03-21T16:00",
        "max_ranked_choices": "3",
        "certificate_signatory_name": "Józef Źdźbło",
        "certificate_signatory_role_pl": "Prezes Zarządu",
        "certificate_signatory_role_en": "President of the Board",
    }
    response = submit(client, f"/admin/events/{event.id}/edit", form)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    saved = db.session.get(Event, event.id)
    assert saved.certificate_signatory_name == "Józef Źdźbło"
    assert (saved.certificate_signatory_role_pl, saved.certificate_signatory_role_en) == (
        "Prezes Zarządu",
        "President of the Board",
    )
    assert 'value="Józef Źdźbło"' in client.get(f"/admin/events/{event.id}/edit").text


# --- the email ----------------------------------------------------------------------------------


def test_sending_emails_each_participant_once_in_their_language_with_a_new_link(client, db, past, as_organiser, outbox):
    event, debate, _workshop = past
    polish, old_token = _register(event, debate, last_name="Kowalska")
    english, _token = _register(event, debate, last_name="Brown", language="en")
    absent, _token = _register(event, debate, last_name="Nieobecna")
    _check_in(event, polish)
    _check_in(event, english)
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/certificates")
    assert "Wyślij 2 uczestnikom linki do zaświadczeń" in page.text
    response = client.post(f"/admin/events/{event.id}/certificates/send", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    messages = outbox.messages(kind=MessageKind.CERTIFICATE.value)
    assert sorted(m.recipient_email for m in messages) == ["brown@example.com", "kowalska@example.com"]
    to_polish = next(m for m in messages if m.recipient_email == "kowalska@example.com")
    to_english = next(m for m in messages if m.recipient_email == "brown@example.com")
    assert to_polish.subject == f"Zaświadczenie o udziale: {event.title_pl}"
    assert to_english.subject == f"Your certificate of attendance: {event.title_en}"
    assert "link z wcześniejszych wiadomości już nie działa" in to_polish.body_text
    link = re.search(r"http\S+/r/([A-Za-z0-9_-]+)/certificate\.pdf", to_polish.body_text)
    assert link, to_polish.body_text
    new_token = link.group(1)
    assert to_polish.redact == [new_token]
    assert client.get(f"/r/{old_token}").status_code == 404  # the earlier link was replaced
    assert "Anna Kowalska" in _text(client.get(f"/r/{new_token}/certificate.pdf").data)
    assert "Thank you for taking part in" in to_english.body_text
    # A second click (or the command) sends nothing more.
    page = client.get(f"/admin/events/{event.id}/certificates")
    assert "Wszyscy odnotowani jako obecni otrzymali już wiadomość." in page.text
    client.post(f"/admin/events/{event.id}/certificates/send", data={"csrf_token": csrf_token(page.text)})
    assert certificates.offer_certificates(event.id) == 0
    assert len(outbox.messages(kind=MessageKind.CERTIFICATE.value)) == 2
    # Delivered: the stored bodies no longer hold the working link.
    outbox.deliver()
    sent = outbox.messages(kind=MessageKind.CERTIFICATE.value)
    assert all(m.status == MessageStatus.SENT for m in sent)
    assert all(new_token not in m.body_text and new_token not in m.body_html for m in sent)
    db.session.expire_all()
    assert db.session.get(Registration, absent.id).certificate_offered_at is None


def test_a_participant_checked_in_later_is_emailed_on_the_next_send(db, past, outbox):
    event, debate, _workshop = past
    first, _token = _register(event, debate, last_name="Pierwsza")
    later, _token = _register(event, debate, last_name="Pozniej")
    _check_in(event, first)
    assert certificates.offer_certificates(event.id) == 1
    _check_in(event, later)
    assert certificates.offer_certificates(event.id) == 1
    assert [m.recipient_email for m in outbox.messages(kind="certificate")] == [
        "pierwsza@example.com",
        "pozniej@example.com",
    ]


def _send_twice_at_once(app, db, event_id: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Run two sends of the event's certificates in two threads released together; return what each sent."""
    db.session.remove()
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def send() -> None:
        with app.app_context():
            try:
                start.wait(timeout=10)
                counts.append(certificates.offer_certificates(event_id))
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sender hung"
    assert not errors, errors
    return counts


@pytest.fixture
def four_present(db, past):  # type: ignore[no-untyped-def]
    """The past event with four participants checked in; return its id."""
    event, debate, _workshop = past
    for n in range(4):
        registration, _token = _register(event, debate, last_name=f"Rownolegla{n}")
        _check_in(event, registration)
    return event.id


@pytest.fixture
def read_first(backend, monkeypatch):  # type: ignore[no-untyped-def]
    """Make both senders read the list of people not emailed before either claims one (PostgreSQL only:
    SQLite's writers queue one transaction behind the other, so they cannot interleave)."""
    if backend != "postgresql":
        pytest.skip("two write transactions interleave only on PostgreSQL")
    read = certificates.present_registrations
    both_read = threading.Barrier(2)

    def read_then_wait(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = read(*args, **kwargs)
        both_read.wait(timeout=10)
        return found

    monkeypatch.setattr(certificates, "present_registrations", read_then_wait)


@pytest.fixture
def unguarded(monkeypatch):  # type: ignore[no-untyped-def]
    """Remove the guard: the claim no longer checks that nobody emailed the person meanwhile."""
    from sqlalchemy import update

    def claim_regardless(registration_id: int, token_hash: str, now: datetime) -> bool:
        _db.session.execute(
            update(Registration)
            .where(Registration.id == registration_id)
            .values(certificate_offered_at=now, manage_token_hash=token_hash)
        )
        return True

    monkeypatch.setattr(certificates, "claim_offer", claim_regardless)


def test_two_sends_at_once_email_each_participant_once(app, db, four_present, outbox):
    counts = _send_twice_at_once(app, db, four_present)
    assert sorted(counts) == [0, 4] or sum(counts) == 4
    assert len(outbox.messages(kind="certificate")) == 4


def test_two_sends_that_read_the_same_list_email_each_participant_once(app, db, four_present, read_first, outbox):
    counts = _send_twice_at_once(app, db, four_present)
    assert sorted(counts) == [0, 4]
    assert len(outbox.messages(kind="certificate")) == 4


def test_without_the_guard_two_sends_email_everybody_twice(app, db, four_present, read_first, unguarded, outbox):
    counts = _send_twice_at_once(app, db, four_present)
    assert counts == [4, 4]
    assert len(outbox.messages(kind="certificate")) == 8


# --- the command line ------------------------------------------------------------------------------


def test_the_commands_send_and_write_the_certificates(runner, db, past, outbox, tmp_path):
    event, debate, _workshop = past
    registration, _token = _register(event, debate, last_name="Konsolowa")
    _check_in(event, registration)
    target = tmp_path / "all.pdf"
    result = runner.invoke(args=["certificates", "download", event.slug, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "Anna Konsolowa" in _text(target.read_bytes())
    result = runner.invoke(args=["certificates", "send", event.slug])
    assert result.exit_code == 0 and "1 email queued" in result.output
    result = runner.invoke(args=["certificates", "send", str(event.id)])
    assert result.exit_code == 0 and "0 emails queued" in result.output
    result = runner.invoke(args=["certificates", "send", "no-such-event"])
    assert result.exit_code != 0 and "No such event." in result.output


def test_the_commands_refuse_before_the_end(runner, db, make_event):
    event = make_event()
    result = runner.invoke(args=["certificates", "send", event.slug])
    assert result.exit_code != 0 and "available once the event has ended" in result.output
    result = runner.invoke(args=["certificates", "download", event.slug, "-o", "/tmp/never.pdf"])
    assert result.exit_code != 0 and "available once the event has ended" in result.output


def test_the_audit_log_names_the_sending(client, db, past, as_organiser):
    event, debate, _workshop = past
    registration, _token = _register(event, debate)
    _check_in(event, registration)
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/certificates")
    client.post(f"/admin/events/{event.id}/certificates/send", data={"csrf_token": csrf_token(page.text)})
    dashboard = client.get(f"/admin/events/{event.id}/dashboard")
    assert "Wysłano zaświadczenia o udziale" in dashboard.text
