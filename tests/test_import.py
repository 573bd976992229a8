"""Import of invited participants from CSV and XLSX: reading files, the preview, all-or-nothing import, the pages."""

from __future__ import annotations

import codecs
import io
import re

import openpyxl
import pytest
from flask_babel import force_locale

from app.audit.models import AuditEntry
from app.events.models import Session
from app.notifications.models import OutboxMessage
from app.registration import imports
from app.registration.import_files import MAX_ROWS, ImportFileError, read_file
from app.registration.models import Booking, BookingStatus, InvitationCode, Registration
from tests.conftest import csrf_token

HEADER_PL = "Imię;Nazwisko;E-mail;Instytucja;Stanowisko;Kategoria;Język;Sesje"
HEADER_EN = "First name,Last name,Email,Institution,Position,Category,Language,Sessions"


@pytest.fixture(autouse=True)
def upload_dir(app, tmp_path):  # type: ignore[no-untyped-def]
    """Keep the uploads of each test in its own directory."""
    app.config["IMPORT_DIR"] = str(tmp_path / "imports")
    return tmp_path / "imports"


def csv_bytes(*lines: str, encoding: str = "utf-8", header: str = HEADER_PL) -> bytes:
    """Return a CSV file of a header and lines."""
    return "\r\n".join((header, *lines)).encode(encoding)


def xlsx_bytes(rows: list[list[object]], title: str = "Lista", sheets_before: int = 0) -> bytes:
    """Return a workbook with ``rows`` on a sheet (after ``sheets_before`` sheets of other things)."""
    workbook = openpyxl.Workbook()
    first = workbook.active
    if sheets_before:
        first.title = "Notatki"
        first.append(["To jest arkusz z notatkami"])
        sheet = workbook.create_sheet(title)
    else:
        first.title = title
        sheet = first
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def stored_for(event, data: bytes, name: str = "lista.csv", organiser_id=None, **options):  # type: ignore[no-untyped-def]
    """Parse and keep a file as the upload page does."""
    parsed = read_file(name, data)
    return imports.save_upload(event, organiser_id, name, data, parsed, imports.ImportOptions(**options))


def registrations(db, event):  # type: ignore[no-untyped-def]
    """Return the event's registrations, fresh from the database."""
    db.session.rollback()
    return list(db.session.execute(db.select(Registration).where(Registration.event_id == event.id)).scalars())


def en(messages) -> str:  # type: ignore[no-untyped-def]
    """Return messages (lazy or not) as English text."""
    with force_locale("en"):
        return " ".join(str(m) for m in messages)


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    """Count the rows of a table."""
    db.session.rollback()
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()


# --- reading files --------------------------------------------------------------------------


def test_csv_in_utf8_with_bom_and_semicolons_and_in_windows_1250():
    line = "Łucja;Żółć;lucja@example.pl;Urząd Gminy Łąck;Wójt;burmistrz;pl;"
    for data, encoding in (
        (codecs.BOM_UTF8 + csv_bytes(line), "UTF-8"),
        (csv_bytes(line), "UTF-8"),
        (csv_bytes(line, encoding="cp1250"), "Windows-1250"),
        (codecs.BOM_UTF16_LE + csv_bytes(line, encoding="utf-16-le"), "UTF-16"),
    ):
        parsed = read_file("lista.csv", data)
        assert parsed.encoding == encoding
        assert parsed.delimiter == ";"
        assert parsed.rows[0].line == 2
        assert parsed.rows[0].values["first_name"] == "Łucja"
        assert parsed.rows[0].values["last_name"] == "Żółć"
        assert parsed.rows[0].values["organisation"] == "Urząd Gminy Łąck"


def test_english_headers_commas_quotes_and_formula_like_text_stay_text():
    data = csv_bytes('"=cmd|\' /C calc\'!A0",Smith,john@example.org,"City, Office",,mayor,en,', header=HEADER_EN)
    parsed = read_file("list.CSV", data)
    assert parsed.delimiter == ","
    assert parsed.rows[0].values["first_name"] == "=cmd|' /C calc'!A0"
    assert parsed.rows[0].values["organisation"] == "City, Office"


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("lista.csv", b"", "empty"),
        ("lista.csv", b"   \r\n  ", "empty"),
        ("lista.pdf", b"%PDF-1.4", ".csv or .xlsx"),
        ("lista.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
        ("lista.xlsx", b"imie;nazwisko", "not an Excel"),
        ("lista.xlsx", b"PK\x03\x04garbage that is no zip", "damaged"),
        ("lista.csv", b"PK\x03\x04\x14\x00", "spreadsheet"),
        ("lista.csv", codecs.BOM_UTF8 + "Imię;E-mail\n".encode() + b"\xff\xfe\x81", "characters"),
        ("lista.csv", "Imię;E-mail\n".encode() + b"Anna;a\x81\x98@example.pl\n", "characters"),
        ("lista.csv", b"a;b;c\n1;2;3\n", "header row"),
        ("lista.csv", "Imię;E-mail\n".encode(), "no participants"),
        ("lista.csv", b"E-mail\n" + b"x" * 1_000_001, "1 MB"),
        ("lista.csv", b"E-mail\n" + b"".join(b"a%d@example.pl\n" % i for i in range(MAX_ROWS + 1)), str(MAX_ROWS)),
    ],
)
def test_files_that_cannot_be_read_say_why(name, data, message):
    with pytest.raises(ImportFileError) as refusal:
        read_file(name, data)
    assert message in en([refusal.value.message])


def test_xlsx_first_sheet_with_an_email_column_numbers_without_decimals_and_no_formulas():
    data = xlsx_bytes(
        [
            ["Lista zaproszonych"],  # a title above the header
            ["Imię", "Nazwisko", "E-mail", "Telefon", "Kategoria", "Sesje", "Uwagi"],
            ["Anna", "Nowak", "anna@example.pl", 601234567, "mayor", 3.0, "x"],
            [None, None, None, None, None, None, None],
            ['=HYPERLINK("http://x")', "Kowal", "jan@example.pl", None, "ngo", None, None],
        ],
        sheets_before=1,
    )
    parsed = read_file("lista.xlsx", data)
    assert parsed.sheet == "Lista"
    assert parsed.ignored_columns == ["Uwagi"]
    assert [row.line for row in parsed.rows] == [3, 5]
    assert parsed.rows[0].values["phone"] == "601234567"
    assert parsed.rows[0].values["sessions"] == "3"
    # openpyxl stores a string starting with "=" as a formula; without a cached value it reads as empty,
    # and the row says the first name is missing rather than running anything.
    assert parsed.rows[1].values["first_name"] in {"", '=HYPERLINK("http://x")'}


def test_a_workbook_without_the_list_names_its_sheets():
    with pytest.raises(ImportFileError) as refusal:
        read_file("lista.xlsx", xlsx_bytes([["Nazwa", "Kwota"], ["a", 1]], title="Budżet"))
    assert "Budżet" in en([refusal.value.message])


# --- the preview -----------------------------------------------------------------------------


def test_preview_lists_every_row_with_its_errors(app, db, make_event, make_session, register):
    event = make_event()
    talk = make_session(event, capacity=3, title_pl="Rewitalizacja", title_en="Regeneration")
    make_session(event, start_hour=14, capacity=None, title_pl="Plenarna", title_en="Plenary")
    register(event, talk, email="juz@example.pl")
    data = csv_bytes(
        "Anna;Nowak;anna@example.pl;UM Łódź;;burmistrz;pl;Rewitalizacja",
        'Jan;Kowal;JAN@example.pl;;;Media;en;"regeneration; plenary"',
        "Ewa;Lis;jan@example.pl;;;ngo;;",  # same address as row 3
        ";Bez;bez@example.pl;;;ngo;;",  # no first name
        "Ola;Zła;nie-adres;;;ngo;;",
        "Piotr;Nowy;piotr@example.pl;;;astronauta;;",
        "Kasia;Sesja;kasia@example.pl;;;ngo;de;Nieznana",
        "Już;Jest;juz@example.pl;;;ngo;;",
        "Ala;Trzecia;ala@example.pl;;;ngo;;Rewitalizacja",  # the fourth for three places: waiting list
        "<b>Zenon</b>;=cmd;zenon@example.pl;;;ngo;;",
    )
    preview = imports.validate(event, stored_for(event, data))
    by_line = {row.line: row for row in preview.rows}
    assert by_line[2].ok and by_line[2].outcomes == {talk.id: "confirmed"}
    assert by_line[3].ok and set(by_line[3].outcomes.values()) == {"confirmed"} and len(by_line[3].outcomes) == 2
    assert by_line[3].language == "en"
    assert "row 3" in en(by_line[4].errors[:1])
    assert "First name" in en(by_line[5].errors)
    assert "not an email address" in en(by_line[6].errors)
    assert "Unknown category" in en(by_line[7].errors)
    texts = en(by_line[8].errors)
    assert "Unknown language" in texts and "Unknown session" in texts
    assert "already registered" in en(by_line[9].errors)
    assert by_line[10].ok and by_line[10].outcomes == {talk.id: "waitlisted"}
    assert by_line[11].ok and by_line[11].participant.first_name == "<b>Zenon</b>"
    assert len(preview.valid_rows) == 4
    assert count(db, Registration) == 1  # the preview stored nothing


def test_a_full_session_can_refuse_rows_instead_of_waitlisting(app, db, make_event, make_session):
    event = make_event()
    talk = make_session(event, capacity=1)
    data = csv_bytes(
        f"Anna;Nowak;anna@example.pl;;;mayor;;{talk.id}",
        f"Jan;Kowal;jan@example.pl;;;mayor;;{talk.id}",
    )
    preview = imports.validate(event, stored_for(event, data, when_full="refuse"))
    assert preview.rows[0].outcomes == {talk.id: "confirmed"}
    assert "no free place" in en(preview.rows[1].errors[:1])


def test_restricted_sessions_become_requests_unless_booked_directly(app, db, make_event, make_session):
    event = make_event()
    mayors = make_session(event, capacity=5, eligible_categories=["mayor"])
    data = csv_bytes(f"Anna;Nowak;anna@example.pl;;;business;;{mayors.id}")
    assert imports.validate(event, stored_for(event, data)).rows[0].outcomes == {mayors.id: "requested"}
    direct = imports.validate(event, stored_for(event, data, book_directly=True))
    assert direct.rows[0].outcomes == {mayors.id: "confirmed"}


def test_clashing_and_ranked_sessions_are_row_errors(app, db, make_event, make_session):
    from app.events.models import BookingMode

    event = make_event()
    first = make_session(event, start_hour=10, title_pl="A")
    second = make_session(event, start_hour=10, title_pl="B")
    ranked = make_session(event, start_hour=15, title_pl="R", booking_mode=BookingMode.RANKED)
    data = csv_bytes(f'Anna;Nowak;anna@example.pl;;;mayor;;"A; {second.id}"', "Jan;Kowal;jan@example.pl;;;mayor;;R")
    rows = imports.validate(event, stored_for(event, data)).rows
    assert "same time" in en(rows[0].errors[:1])
    assert "ranked workshop" in en(rows[1].errors[:1])
    assert first.id and ranked.id


# --- the import: all or nothing --------------------------------------------------------------


def test_import_registers_valid_rows_queues_one_email_each_and_audits(app, db, make_event, make_session, outbox):
    event = make_event()
    talk = make_session(event, capacity=1, groups=None)
    data = csv_bytes(
        f"Anna;Nowak;anna@example.pl;UM;Prezydent;mayor;pl;{talk.id}",
        f"John;Smith;john@example.org;City;Mayor;mayor;en;{talk.id}",
        "Zła;Linia;zla;;;mayor;;",
    )
    preview = imports.validate(event, stored_for(event, data))
    result = imports.commit(event, preview)
    assert (result.imported, result.skipped, result.confirmed, result.waitlisted) == (2, 1, 1, 1)
    people = {r.email: r for r in registrations(db, event)}
    assert set(people) == {"anna@example.pl", "john@example.org"}
    assert people["john@example.org"].language == "en"
    assert people["anna@example.pl"].consent_source == "import"
    statuses = {b.registration.email: b.status for b in db.session.execute(db.select(Booking)).scalars()}
    assert statuses == {"anna@example.pl": BookingStatus.CONFIRMED, "john@example.org": BookingStatus.WAITLISTED}
    messages = outbox.messages(kind="registration_received")
    assert sorted(m.recipient_email for m in messages) == ["anna@example.pl", "john@example.org"]
    assert {m.recipient_email: m.language for m in messages}["john@example.org"] == "en"
    entry = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "registration.imported")).scalar_one()
    assert entry.details["imported"] == 2 and entry.details["skipped"] == 1 and entry.details["rows"] == 3


def test_nothing_is_stored_when_a_place_went_between_preview_and_import(
    app, db, make_event, make_session, register, outbox
):
    event = make_event()
    talk = make_session(event, capacity=2)
    data = csv_bytes(f"Anna;Nowak;anna@example.pl;;;mayor;;{talk.id}", f"Jan;Kowal;jan@example.pl;;;mayor;;{talk.id}")
    preview = imports.validate(event, stored_for(event, data, when_full="refuse"))
    assert [row.outcomes for row in preview.rows] == [{talk.id: "confirmed"}] * 2
    register(event, talk, email="szybsza@example.pl")  # takes a place meanwhile
    before = (count(db, Booking), count(db, OutboxMessage), count(db, AuditEntry))
    with pytest.raises(imports.ImportFailed) as failure:
        imports.commit(event, preview)
    assert "Wiersz 3" in failure.value.reasons[0] and "lista rezerwowa" in failure.value.reasons[0]
    assert [r.email for r in registrations(db, event)] == ["szybsza@example.pl"]
    assert (count(db, Booking), count(db, OutboxMessage), count(db, AuditEntry)) == before
    assert db.session.get(Session, talk.id).taken == 1


def test_nothing_is_stored_when_an_address_registered_between_preview_and_import(
    app, db, make_event, make_session, register
):
    event = make_event()
    talk = make_session(event, capacity=5)
    data = csv_bytes(f"Anna;Nowak;anna@example.pl;;;mayor;;{talk.id}", f"Jan;Kowal;jan@example.pl;;;mayor;;{talk.id}")
    preview = imports.validate(event, stored_for(event, data))
    register(event, talk, email="Jan@example.pl")
    with pytest.raises(imports.ImportFailed) as failure:
        imports.commit(event, preview)
    assert "jan@example.pl" in failure.value.reasons[0]
    assert [r.email for r in registrations(db, event)] == ["Jan@example.pl"]
    assert db.session.get(Session, talk.id).taken == 1


def test_invitations_one_code_per_row_emailed_in_its_language(app, db, make_event, make_session, outbox):
    event = make_event()
    mayors = make_session(event, capacity=5, eligible_categories=["mayor"], title_pl="Warsztat burmistrzów")
    other = make_session(event, start_hour=15, capacity=5, title_pl="Inna")
    data = csv_bytes(
        "Anna;Nowak;anna@example.pl;UM Sandomierz;;;pl;",
        "John;Smith;john@example.org;;;;en;Inna",
        "Bez;Sesji;x@example.pl;;;;;Inna | Warsztat burmistrzów",
    )
    preview = imports.validate(event, stored_for(event, data, mode="invitations", session_id=mayors.id))
    assert [row.outcomes for row in preview.rows[:2]] == [{mayors.id: "invited"}, {other.id: "invited"}]
    assert "one session" in en(preview.rows[2].errors[:1])
    result = imports.commit(event, preview)
    assert (result.imported, result.skipped) == (2, 1)
    codes = {c.recipient_email: c for c in db.session.execute(db.select(InvitationCode)).scalars()}
    assert set(codes) == {"anna@example.pl", "john@example.org"}
    assert codes["anna@example.pl"].session_id == mayors.id and codes["anna@example.pl"].max_uses == 1
    assert "UM Sandomierz" in codes["anna@example.pl"].note
    messages = {m.recipient_email: m for m in outbox.messages(kind="invitation")}
    assert messages["john@example.org"].language == "en" and messages["anna@example.pl"].language == "pl"
    assert codes["anna@example.pl"].code in messages["anna@example.pl"].body_text
    # Sent again: the same addresses already hold unused invitations.
    again = imports.validate(event, stored_for(event, data, mode="invitations", session_id=mayors.id))
    assert all("already sent" in en(row.errors) for row in again.rows[:2])
    assert count(db, Registration) == 0


# --- storage between the requests -----------------------------------------------------------


def test_a_stored_upload_belongs_to_its_organiser_and_event_and_expires(app, make_event, upload_dir):
    from datetime import timedelta

    from app.db import utcnow

    event, other = make_event(), make_event()
    stored = stored_for(event, csv_bytes("Anna;Nowak;anna@example.pl;;;mayor;;"), organiser_id=7)
    assert imports.load_upload(stored.token, event.id, 7).rows[0].values["email"] == "anna@example.pl"
    for token, event_id, organiser_id in (
        (stored.token, other.id, 7),
        (stored.token, event.id, 8),
        ("../../etc/passwd", event.id, 7),
        ("x" * 43, event.id, 7),
    ):
        with pytest.raises(imports.UploadNotFound):
            imports.load_upload(token, event_id, organiser_id)
    with pytest.raises(imports.UploadNotFound):
        imports.load_upload(stored.token, event.id, 7, now=utcnow() + timedelta(hours=25))
    assert not (upload_dir / f"{stored.token}.json").exists()  # an expired upload is deleted


# --- the pages --------------------------------------------------------------------------------


def _upload(client, event, data: bytes, name: str = "lista.csv", **fields):  # type: ignore[no-untyped-def]
    url = f"/admin/events/{event.id}/registrations/import"
    token = csrf_token(client.get(url).text)
    form = {"csrf_token": token, "mode": "registrations", "language": "pl", "when_full": "waitlist", "consent": "y"}
    form.update(fields)
    form["file"] = (io.BytesIO(data), name)
    return client.post(url, data=form, content_type="multipart/form-data")


@pytest.mark.parametrize("language", ["pl", "en"])
def test_upload_preview_confirm_through_the_pages(client, db, make_event, make_session, as_organiser, outbox, language):
    event = make_event()
    talk = make_session(event, capacity=10, title_pl="Rewitalizacja", title_en="Regeneration")
    as_organiser("organiser", events=[event])
    client.get(f"/language/{language}")
    page = client.get(f"/admin/events/{event.id}/registrations/import")
    assert page.status_code == 200
    assert ("Importuj uczestników z pliku" if language == "pl" else "Import participants from a file") in page.text
    data = csv_bytes(
        "Anna;Nowak;anna@example.pl;UM;;burmistrz;;Rewitalizacja", "<script>alert(1)</script>;X;zly;;;ngo;;"
    )
    response = _upload(client, event, data)
    assert response.status_code == 303
    preview_url = response.headers["Location"]
    preview = client.get(preview_url)
    assert preview.status_code == 200
    assert "<script>alert(1)</script>" not in preview.text and "&lt;script&gt;" in preview.text
    assert ("nie jest adresem e-mail" if language == "pl" else "is not an email address") in preview.text
    fingerprint = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', preview.text).group(1)
    done = client.post(preview_url, data={"csrf_token": csrf_token(preview.text), "fingerprint": fingerprint})
    assert done.status_code == 303
    assert [r.email for r in registrations(db, event)] == ["anna@example.pl"]
    assert db.session.get(Session, talk.id).taken == 1
    assert client.get(preview_url).status_code == 303  # done: the upload is gone


def test_a_changed_event_between_preview_and_confirm_imports_nothing(
    client, db, make_event, make_session, as_organiser, register
):
    event = make_event()
    talk = make_session(event, capacity=1)
    as_organiser("organiser", events=[event])
    response = _upload(client, event, csv_bytes(f"Anna;Nowak;anna@example.pl;;;mayor;;{talk.id}"))
    preview_url = response.headers["Location"]
    preview = client.get(preview_url)
    fingerprint = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', preview.text).group(1)
    register(event, talk, email="szybsza@example.pl")
    again = client.post(preview_url, data={"csrf_token": csrf_token(preview.text), "fingerprint": fingerprint})
    assert again.status_code == 409
    assert "nic nie zostało zaimportowane" in again.text.lower()
    assert "Wiersz 2 (anna@example.pl): „Sesja 10”: lista rezerwowa zamiast: potwierdzone miejsce." in again.text
    assert [r.email for r in registrations(db, event)] == ["szybsza@example.pl"]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "lista.csv", "Plik jest pusty"),
        (b"x" * (10 * 1024 * 1024), "lista.csv", "większy niż 1 MB"),
        (b"\x00\x01binary", "lista.exe", ".csv lub .xlsx"),
    ],
)
def test_bad_files_get_a_clear_message_not_a_500(client, make_event, as_organiser, data, name, message):
    event = make_event()
    as_organiser("organiser", events=[event])
    response = _upload(client, event, data, name)
    if response.status_code == 303:  # the request limit: back to the form, with the message
        response = client.get(response.headers["Location"])
    assert response.status_code in {200, 422}
    assert message in response.text


def test_upload_needs_csrf_and_consent(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    url = f"/admin/events/{event.id}/registrations/import"
    data = {"mode": "registrations", "file": (io.BytesIO(csv_bytes("A;B;a@example.pl;;;mayor;;")), "a.csv")}
    assert client.post(url, data=data, content_type="multipart/form-data").status_code == 400
    response = _upload(client, event, csv_bytes("A;B;a@example.pl;;;mayor;;"), consent="")
    assert response.status_code == 422
    assert count(db, Registration) == 0


def test_templates_download_and_read_back(client, make_event, make_session, as_organiser):
    event = make_event()
    make_session(event, capacity=5, title_pl="Rewitalizacja")
    as_organiser("organiser", events=[event])
    for fmt, name in (("csv", "t.csv"), ("xlsx", "t.xlsx")):
        response = client.get(f"/admin/events/{event.id}/registrations/import-template.{fmt}")
        assert response.status_code == 200
        parsed = read_file(name, response.data)
        assert parsed.columns == list(imports.COLUMN_LABELS)
        assert parsed.rows[0].values["sessions"] == "Rewitalizacja"


@pytest.mark.parametrize(
    "method, tail",
    [
        ("get", ""),
        ("post", ""),
        ("get", "-template.csv"),
        ("get", "-template.xlsx"),
        ("get", "/TOKEN"),
        ("post", "/TOKEN"),
    ],
)
def test_staff_may_not_import(client, db, make_event, as_organiser, method, tail):
    event = make_event()
    stored = stored_for(event, csv_bytes("Anna;Nowak;anna@example.pl;;;mayor;;"))
    staff = as_organiser("staff", events=[event])
    url = f"/admin/events/{event.id}/registrations/import{tail}".replace("TOKEN", stored.token)
    token = csrf_token(client.get("/admin/").text)
    response = client.get(url) if method == "get" else client.post(url, data={"csrf_token": token})
    assert response.status_code == 403
    assert staff.id and count(db, Registration) == 0


def test_old_uploads_are_deleted_by_the_worker(app, make_event, upload_dir):
    import os
    import time

    from app.notifications.worker import run_due_tasks

    event = make_event()
    old = stored_for(event, csv_bytes("Anna;Nowak;anna@example.pl;;;mayor;;"))
    fresh = stored_for(event, csv_bytes("Jan;Kowal;jan@example.pl;;;mayor;;"))
    day_ago = time.time() - 25 * 3600
    os.utime(upload_dir / f"{old.token}.json", (day_ago, day_ago))
    assert "delete old import uploads" in run_due_tasks()
    assert sorted(p.name for p in upload_dir.iterdir()) == [f"{fresh.token}.json"]


def test_a_file_without_a_required_column_imports_nothing(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    response = _upload(client, event, csv_bytes("Anna;a@example.pl", header="Imię;E-mail"))
    preview = client.get(response.headers["Location"])
    assert "W pliku brakuje kolumny „Nazwisko, Kategoria”" in preview.text
    assert 'name="fingerprint"' not in preview.text  # no button to import
    fingerprint = "0" * 64
    done = client.post(
        response.headers["Location"], data={"csrf_token": csrf_token(preview.text), "fingerprint": fingerprint}
    )
    assert done.status_code == 409
    assert count(db, Registration) == 0


def test_invitations_through_the_pages(client, db, make_event, make_session, as_organiser, outbox):
    event = make_event()
    mayors = make_session(event, capacity=5, eligible_categories=["mayor"])
    as_organiser("organiser", events=[event])
    data = csv_bytes("Anna;Nowak;anna@example.pl;UM;;;en;", header=HEADER_PL)
    response = _upload(client, event, data, mode="invitations", session_id=str(mayors.id))
    preview = client.get(response.headers["Location"])
    assert "Utwórz i wyślij 1 kod zaproszenia" in preview.text
    fingerprint = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', preview.text).group(1)
    done = client.post(
        response.headers["Location"], data={"csrf_token": csrf_token(preview.text), "fingerprint": fingerprint}
    )
    assert done.status_code == 303
    assert [m.recipient_email for m in outbox.messages(kind="invitation")] == ["anna@example.pl"]
    assert count(db, Registration) == 0


def _double_click(app, event_id: int, token: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Confirm the same stored upload twice at once; return each thread's outcome."""
    import threading

    from app.events.models import Event
    from app.extensions import db as _db

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        with app.app_context():
            event = _db.session.get(Event, event_id)
            preview = imports.validate(event, imports.load_upload(token, event_id, None))
            barrier.wait()
            try:
                imports.commit(event, preview)
                outcomes.append("ok")
            except imports.ImportFailed:
                outcomes.append("refused")
            except Exception as error:  # noqa: BLE001 - reported by the assertion
                outcomes.append(f"error {error!r}")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.parametrize("mode", ["registrations", "invitations"])
def test_a_double_click_imports_once(app, db, make_event, make_session, mode):
    event = make_event()
    talk = make_session(event, capacity=5)
    data = csv_bytes(f"Anna;Nowak;anna@example.pl;;;mayor;;{talk.id}", f"Jan;Kowal;jan@example.pl;;;mayor;;{talk.id}")
    stored = stored_for(event, data, mode=mode)
    assert _double_click(app, event.id, stored.token) == ["ok", "refused"]
    assert count(db, OutboxMessage) == 2
    assert count(db, InvitationCode if mode == "invitations" else Registration) == 2


def test_without_the_session_lock_a_double_click_sends_invitations_twice(
    app, db, make_event, make_session, monkeypatch
):
    """The twin of the test above: without the lock, both imports of the same list send their codes."""
    import time

    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises whole write transactions; the race shows on PostgreSQL")
    event = make_event()
    talk = make_session(event, capacity=5)
    stored = stored_for(event, csv_bytes(f"Anna;Nowak;anna@example.pl;;;mayor;;{talk.id}"), mode="invitations")
    unused = imports.invitations.unused_invitations

    def slow_unused(session_ids):  # type: ignore[no-untyped-def]
        found = unused(session_ids)
        time.sleep(0.3)  # both transactions have looked before either writes
        return found

    monkeypatch.setattr(imports, "lock_sessions", lambda session_ids: None)
    monkeypatch.setattr(imports.invitations, "unused_invitations", slow_unused)
    assert _double_click(app, event.id, stored.token) == ["ok", "ok"]
    assert count(db, InvitationCode) == 2


def test_formulas_and_html_in_cells_are_stored_as_plain_text(app, db, make_event):
    event = make_event()
    data = csv_bytes('"=HYPERLINK(""http://evil"")";<b>Nowak</b>;anna@example.pl;@SUM(A1);+48;mayor;;')
    imports.commit(event, imports.validate(event, stored_for(event, data)))
    (registration,) = registrations(db, event)
    assert registration.first_name == '=HYPERLINK("http://evil")'
    assert registration.last_name == "<b>Nowak</b>"
    assert (registration.organisation, registration.position) == ("@SUM(A1)", "+48")
