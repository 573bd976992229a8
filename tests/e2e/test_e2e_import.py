"""An organiser imports invited mayors from a CSV file in a real browser: preview, import, emails; then in English."""

from __future__ import annotations

import re

from e2e_support import event_id_of, expect, login, screenshot, unique_email

TITLE = "V Sesja Dialogu „Miasta Przyszłości”"
WORKSHOP = "Warsztat: strategie samorządów w praktyce"


def test_organiser_imports_a_list_of_invited_mayors(server, new_page) -> None:  # type: ignore[no-untyped-def]
    """Two valid rows and one with errors: the preview says so, the import registers the two and emails them."""
    first, second = unique_email("import-a"), unique_email("import-b")
    lines = [
        "Imię;Nazwisko;E-mail;Instytucja;Kategoria;Język;Sesje",
        f"Grażyna;Wąsowicz;{first};Urząd Miasta Sandomierza;burmistrz;pl;{WORKSHOP}",
        f"John;Smith;{second};City of Example;mayor;en;",
        "Zły;Wiersz;nie-adres;;kosmonauta;;",
    ]
    page = new_page("desktop")
    login(page)
    event_id = event_id_of(page, TITLE)
    page.goto(f"/admin/events/{event_id}/registrations")
    page.get_by_role("link", name="Importuj z pliku").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Importuj uczestników z pliku")
    page.locator("#file").set_input_files(
        {"name": "zaproszeni.csv", "mimeType": "text/csv", "buffer": "\r\n".join(lines).encode("cp1250")}
    )
    page.locator("#consent").check()
    page.get_by_role("button", name="Sprawdź plik").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Podgląd importu")
    expect(page.get_by_text("odczytany jako Windows-1250")).to_be_visible()
    expect(page.locator("tr", has_text=first)).to_contain_text("potwierdzone miejsce")
    expect(page.locator("tr", has_text="nie-adres")).to_contain_text("„nie-adres” nie jest adresem e-mail.")
    screenshot(page, "admin-import-preview")
    page.get_by_role("button", name="Importuj 2 zgłoszenia").click()

    expect(page).to_have_url(re.compile(f"/admin/events/{event_id}/registrations$"))
    expect(page.locator(".alert-success")).to_contain_text("Zaimportowano 2 zgłoszenia")
    expect(page.locator(".alert-warning")).to_contain_text("Pominięto 1 wiersz z błędami.")
    server.wait_for_mail(first, "Zgłoszenie przyjęte")
    server.wait_for_mail(second, "Registration received")

    # The same pages in English.
    page.get_by_role("link", name="EN").first.click()
    page.goto(f"/admin/events/{event_id}/registrations/import")
    expect(page.get_by_role("heading", level=1)).to_have_text("Import participants from a file")
    expect(page.get_by_role("link", name="Excel (.xlsx)")).to_be_visible()
