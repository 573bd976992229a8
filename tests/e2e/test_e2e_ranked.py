"""Ranked workshops in a real browser: rank three, an organiser previews and publishes, the participant sees it, late comers pick what is left."""

from __future__ import annotations

import re

import pytest
from e2e_support import Person, event_id_of, expect, login, register, screenshot, unique_email

SLUG = "pracownia-miast-sandomierz"
TITLE = "„Miasto w roli głównej” — konferencja 4. edycji „Pracowni miast”"
RANKING = [
    "Warsztat: smart city w praktyce",
    "Warsztat: strategia miasta w mediach społecznościowych",
    "Warsztat: jak przyciągnąć produkcję filmową do miasta",
]


def test_ranked_workshops_allocated_and_shown(server, new_page) -> None:  # type: ignore[no-untyped-def]
    """A mayor ranks three workshops; the preview books nothing; after publishing the manage page shows the place."""
    page = new_page("desktop")
    person = Person(
        "Marek",
        "Rankingowy",
        unique_email("ranked"),
        city="Sandomierz",
        sessions=["Otwarcie konferencji „Miasto w roli głównej”"],
    )
    page.goto(f"/events/{SLUG}/register")
    block = page.locator("fieldset", has=page.locator("legend", has_text="uszereguj"))
    selects = block.get_by_role("combobox")
    expect(selects).to_have_count(3)
    for select, title in zip(selects.all(), RANKING):
        select.select_option(label=title)
    screenshot(page, "register-ranked")
    register(page, SLUG, person, navigate=False)
    expect(page).to_have_url(re.compile(f"/events/{SLUG}/registered$"))
    expect(page.locator("main ol li")).to_have_text(RANKING)
    manage_url = server.manage_link(server.wait_for_mail(person.email, "Zgłoszenie przyjęte"))

    organiser = new_page("desktop")
    login(organiser)
    event_id = event_id_of(organiser, TITLE)
    response = organiser.goto(f"/admin/events/{event_id}/allocation")
    if response is None or response.status == 404:
        pytest.skip("the allocation pages (/admin/events/<id>/allocation: preview, publish) are not in the app yet")
    screenshot(organiser, "admin-allocation")

    organiser.locator("button[formaction$='/allocation/preview']").click()
    expect(organiser.locator(".alert-info")).to_have_text("Podgląd obliczony: nic jeszcze nie zarezerwowano.")
    expect(organiser.locator("#comparison")).to_be_visible()
    screenshot(organiser, "admin-allocation-preview")
    page.goto(manage_url)
    expect(page.locator("#ranked-results")).to_have_count(0)  # a preview books nothing

    before = server.mail_count(person.email)
    organiser.locator("#publish-preview").click()  # a confirmation page first, saying who is emailed
    expect(organiser.locator("#email-count")).to_contain_text("od razu dostanie e-mail z wynikiem")
    screenshot(organiser, "admin-allocation-confirm")
    organiser.locator("#publication-summary button[type=submit]").click()
    expect(organiser.locator(".alert-success").first).to_be_visible()
    expect(organiser.locator("#publish-preview")).to_have_count(0)
    result = server.wait_for_mail(person.email, "Twoje miejsca na warsztatach", after=before)
    assert RANKING[0] in result.get_body(preferencelist=("plain",)).get_content()

    page.goto(manage_url)
    expect(page.locator("#ranked-results")).to_contain_text(RANKING[0])
    expect(page.locator("table tbody tr", has_text=RANKING[0])).to_contain_text("Potwierdzone")
    screenshot(page, "manage-ranked")

    # Someone registering now is offered what is left, first come, first served: one workshop to pick.
    late = new_page("desktop")
    late.goto(f"/events/{SLUG}/register")
    block = late.locator("fieldset[id^='first-come-']")
    expect(block).to_contain_text(
        "Przydział został opublikowany: pozostałe miejsca są przydzielane według kolejności zgłoszeń."
    )
    expect(block.get_by_role("combobox")).to_have_count(1)
    expect(late.locator("legend", has_text="uszereguj")).to_have_count(0)
    screenshot(late, "register-after-allocation")
