"""An organiser in a real browser: approve a request, move a participant, download the lists, print a sign-in sheet."""

from __future__ import annotations

import csv
import io
import re
import unicodedata

import openpyxl
from e2e_support import Person, event_id_of, expect, login, register, screenshot, unique_email

SLUG = "v-sesja-dialogu-lodz"
TITLE = "V Sesja Dialogu „Miasta Przyszłości”"
MAYORS_ONLY = "Spotkanie grupy zawodowej: prezydenci, burmistrzowie i wójtowie"
WORKSHOP = "Warsztat: strategie samorządów w praktyce"


def test_organiser_approves_moves_exports_and_prints(server, new_page) -> None:  # type: ignore[no-untyped-def]
    """A councillor's request for the mayors' meeting is approved; the organiser moves, exports and prints."""
    participant = new_page("desktop")
    person = Person(
        "Bożena",
        "Grzegrzółka",
        unique_email("councillor"),
        category="councillor",
        organisation="Rada Miasta Łodzi",
        city="Łódź",
        sessions=[MAYORS_ONLY, WORKSHOP],
    )
    register(participant, SLUG, person)
    expect(participant).to_have_url(re.compile(f"/events/{SLUG}/registered$"))
    expect(participant.locator("tr", has_text=MAYORS_ONLY)).to_contain_text("Czeka na akceptację organizatora")
    server.wait_for_mail(person.email, "Zgłoszenie przyjęte")

    page = new_page("desktop")
    login(page)
    screenshot(page, "admin-events")
    event_id = event_id_of(page, TITLE)
    screenshot(page, "admin-dashboard")
    page.get_by_role("link", name="Zgłoszenia", exact=True).first.click()
    page.get_by_role("searchbox").fill(person.last_name)
    page.get_by_role("button", name="Pokaż").click()
    page.get_by_role("link", name=f"{person.last_name} {person.first_name}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(person.last_name)

    # Approve the request for the mayors-only meeting.
    before = server.mail_count(person.email)
    page.locator("tr", has_text=MAYORS_ONLY).get_by_role("button", name="Zaakceptuj").click()
    expect(page.locator(".alert-success")).to_have_text("Prośba została zaakceptowana: miejsce jest potwierdzone.")
    expect(page.locator("tr", has_text=MAYORS_ONLY)).to_contain_text("Potwierdzone")
    server.wait_for_mail(person.email, "Twoja prośba została zaakceptowana", after=before)

    # Move the workshop place to the other small group.
    row = page.locator("tr", has_text=WORKSHOP)
    expect(row).to_contain_text("Grupa 1")
    target = row.get_by_role("combobox")
    target.select_option(target.locator("option", has_text="Grupa 2").get_attribute("value"))
    row.get_by_role("button", name="Przenieś").click()
    expect(page.locator(".alert-success")).to_have_text("Uczestnik został przeniesiony do innej grupy.")
    expect(page.locator("tr", has_text=WORKSHOP)).to_contain_text("Grupa 2")
    screenshot(page, "admin-registration")

    # Download the whole event's list as CSV and as Excel, and read both.
    page.goto(f"/admin/events/{event_id}/exports")
    screenshot(page, "admin-exports")
    with page.expect_download() as download:
        page.get_by_role("button", name="Pobierz CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert any(person.last_name in row and person.email in row for row in rows), rows[:3]

    with page.expect_download() as download:
        page.get_by_role("button", name="Pobierz Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    cells = {str(cell) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for cell in row}
    assert person.last_name in cells and person.email in cells

    # Print the workshop's sign-in sheet: one page per group, the participant in group 2.
    page.get_by_role("link", name=f"Lista obecności: {WORKSHOP}").click()
    expect(page.locator("table.sign-in")).to_have_count(2)
    expect(page.locator("table.sign-in").nth(1)).to_contain_text(person.last_name)
    screenshot(page, "admin-sign-in-sheet")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    from pypdf import PdfReader  # here: without it (no requirements installed) the module still collects

    reader = PdfReader(io.BytesIO(pdf))
    printed = unicodedata.normalize("NFC", "\n".join(p.extract_text() for p in reader.pages))
    assert f"{person.last_name} {person.first_name}" in printed, printed[:500]
    assert WORKSHOP in printed
