"""A participant in a real browser: register, see a clash refused, use the emailed link, cancel; the queue moves."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from e2e_support import Person, expect, fill_person, register, screenshot, session_checkbox, unique_email


@dataclass(frozen=True)
class Words:
    """What the pages and emails say, in one language."""

    register: str
    confirmed: str
    waitlisted: str
    save: str
    saved: str
    place_cancelled: str
    received: str
    changed: str
    promoted: str
    transport: str
    greenery: str
    expert: str
    budgeting: str
    regeneration: str


WORDS = {
    "pl": Words(
        register="Zapisz się",
        confirmed="Potwierdzone",
        waitlisted="Lista rezerwowa",
        save="Zapisz zmiany",
        saved="Zmiany zostały zapisane.",
        place_cancelled="Miejsce zostało anulowane.",
        received="Zgłoszenie przyjęte",
        changed="Twoje zgłoszenie zostało zmienione",
        promoted="Masz miejsce z listy rezerwowej",
        transport="Debata: transport publiczny",
        greenery="Debata: zieleń miejska",
        expert="Rozmowa z ekspertem",
        budgeting="Warsztat: budżet obywatelski",
        regeneration="Warsztat: rewitalizacja",
    ),
    "en": Words(
        register="Register",
        confirmed="Confirmed",
        waitlisted="Waiting list",
        save="Save changes",
        saved="Your changes have been saved.",
        place_cancelled="Your place has been cancelled.",
        received="Registration received",
        changed="Your registration has been changed",
        promoted="You have a place from the waiting list",
        transport="Debate: public transport",
        greenery="Debate: urban greenery",
        expert="Meet the expert",
        budgeting="Workshop: participatory budgeting",
        regeneration="Workshop: urban regeneration",
    ),
}


def open_event(page, slug: str, language: str) -> None:  # type: ignore[no-untyped-def]
    """Open the event page, switching the site to ``language`` with the switch in the header."""
    page.goto(f"/events/{slug}/")
    if language != "pl":
        page.get_by_role("navigation", name="Nawigacja główna").get_by_role("link", name=language.upper()).click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def booking_row(page, title: str):  # type: ignore[no-untyped-def]
    """Return the row of the bookings table for the session titled ``title``."""
    return page.locator("table tbody tr", has_text=title)


@pytest.mark.parametrize(("language", "device"), [("pl", "phone"), ("en", "desktop")])
def test_participant_registers_manages_and_cancels(server, new_page, language: str, device: str) -> None:  # type: ignore[no-untyped-def]
    """Register with a clash refused, get the email, change a workshop, cancel a place; the waiting person gets it."""
    words = WORDS[language]
    slug = f"e2e-{language}"
    page = new_page(device)
    open_event(page, slug, language)
    screenshot(page, f"event-{language}-{device}")
    page.get_by_role("link", name=words.register, exact=True).click()
    expect(page).to_have_url(re.compile(f"/events/{slug}/register$"))

    first = Person(
        "Zofia",
        "Wójcik-Łęcka",
        unique_email("first"),
        sessions=[words.transport, words.greenery, words.expert, words.budgeting],
    )
    register(page, slug, first, navigate=False)
    # Two debates at the same time: refused in the page, the rest of the form kept.
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#sessions-error")).to_contain_text(words.transport)
    expect(page.locator("#sessions-error")).to_contain_text(words.greenery)
    expect(page.locator("#last_name")).to_have_value(first.last_name)
    expect(session_checkbox(page, words.expert)).to_be_checked()
    screenshot(page, f"register-clash-{language}-{device}")
    session_checkbox(page, words.greenery).uncheck()
    page.locator("#consent").check()
    page.get_by_role("button", name=words.register, exact=True).click()

    expect(page).to_have_url(re.compile(f"/events/{slug}/registered$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(first.first_name)
    for title in (words.transport, words.expert, words.budgeting):
        expect(booking_row(page, title)).to_contain_text(words.confirmed)
    expect(booking_row(page, words.greenery)).to_have_count(0)
    screenshot(page, f"registered-{language}-{device}")
    first_link = server.manage_link(server.wait_for_mail(first.email, words.received))

    # The one place of "meet the expert" is taken: the second participant waits.
    other = new_page(device)
    open_event(other, slug, language)
    second = Person("Jan", "Kowalczyk", unique_email("second"), category="councillor", sessions=[words.expert])
    register(other, slug, second)
    expect(other).to_have_url(re.compile(f"/events/{slug}/registered$"))
    expect(booking_row(other, words.expert)).to_contain_text(words.waitlisted)
    second_link = server.manage_link(server.wait_for_mail(second.email, words.received))

    # The first participant opens the emailed link and swaps a workshop.
    page.goto(first_link)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, f"manage-{language}-{device}")
    before = server.mail_count(first.email)
    session_checkbox(page, words.budgeting).uncheck()
    session_checkbox(page, words.regeneration).check()
    page.get_by_role("button", name=words.save, exact=True).click()
    expect(page.locator(".alert-success")).to_have_text(words.saved)
    expect(booking_row(page, words.regeneration)).to_contain_text(words.confirmed)
    expect(booking_row(page, words.budgeting)).to_have_count(0)
    server.wait_for_mail(first.email, words.changed, after=before)

    # ... and gives up the expert meeting, through the confirmation page.
    booking_row(page, words.expert).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+/cancel$"))
    screenshot(page, f"confirm-cancel-{language}-{device}")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".alert-success")).to_have_text(words.place_cancelled)
    expect(booking_row(page, words.expert)).to_have_count(0)

    # The waiting participant is promoted and told so by email.
    promoted = server.wait_for_mail(second.email, words.promoted)
    assert words.expert in promoted.get_body(preferencelist=("plain",)).get_content()
    other.goto(second_link)
    expect(booking_row(other, words.expert)).to_contain_text(words.confirmed)


def test_the_register_button_sends_the_form_once(server, new_page) -> None:  # type: ignore[no-untyped-def]
    """After the first click the button is busy and disabled, and a second try sends nothing more."""
    words = WORDS["pl"]
    slug = "e2e-pl"
    page = new_page("desktop")
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(f"/events/{slug}/register")
    fill_person(page, Person("Ewa", "Dwuklik", unique_email("twice")))
    session_checkbox(page, words.transport).check()
    page.locator("#consent").check()
    # While the first submission is on its way, note the button's state and submit again
    # (sessionStorage outlives the navigation to the success page).
    page.evaluate("""() => document.addEventListener("submit", (event) => setTimeout(() => {
        const button = event.target.querySelector("button[type=submit]");
        sessionStorage.setItem("button", JSON.stringify([button.disabled, button.getAttribute("aria-busy")]));
        event.target.requestSubmit();
    }, 20), {once: true})""")
    page.get_by_role("button", name=words.register, exact=True).click()
    expect(page).to_have_url(re.compile(f"/events/{slug}/registered$"))
    assert page.evaluate("() => sessionStorage.getItem('button')") == '[true,"true"]'
    assert len([url for url in posts if url.endswith(f"/events/{slug}/register")]) == 1
