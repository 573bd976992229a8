"""At a 360 px phone, no public page scrolls sideways, in Polish and in English."""

from __future__ import annotations

import re

import pytest
from e2e_support import Person, event_id_of, expect, flow_event_title, login, register, screenshot, unique_email

# A phone widens its layout to fit what sticks out (and zooms out): window.innerWidth grows
# with the page, so the page is measured against the device's width.
WIDTH_CHECK = "() => document.documentElement.scrollWidth"
# The innermost element that sticks out furthest, to say what to fix.
CULPRIT = """(limit) => { let worst = null; for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect(); if (r.right > limit + 1 && (!worst || r.right >= worst[1]))
  worst = [el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 60), r.right]; }
  return worst; }"""

# Each word of an element sits on one line: a one-word text gives one line box, and no
# line box of a longer one starts inside a word. Text only for screen readers is not laid out.
ONE_LINE = """(el) => { const text = el.textContent.trim(); const range = document.createRange();
  range.selectNodeContents(el); const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  return text.includes(' ') || el.closest('.visually-hidden') !== null || el.querySelector(':scope > .visually-hidden:only-child') !== null || lines.size <= 1; }"""

# A session of every test event, by the page's language (a registration names at least one).
TALK = {"pl": "Debata: transport publiczny", "en": "Debate: public transport"}


def _fits(page, what: str) -> None:  # type: ignore[no-untyped-def]
    """Assert the page does not scroll sideways at the device's width."""
    width = page.viewport_size["width"]
    scroll = page.evaluate(WIDTH_CHECK)
    assert scroll <= width, f"{what}: {scroll}px wide at {width}px; widest: {page.evaluate(CULPRIT, width)}"


def _short_words_whole(page) -> None:  # type: ignore[no-untyped-def]
    """Assert no header, button or badge of one word is split over lines."""
    for short in page.locator("main th, main .btn, main .badge").all():
        if short.is_visible():
            assert short.evaluate(ONE_LINE), f"split over lines: {short.inner_text()!r}"


@pytest.mark.parametrize("language", ["pl", "en"])
def test_no_public_page_scrolls_sideways_at_360_px(server, new_page, language: str) -> None:  # type: ignore[no-untyped-def]
    page = new_page("narrow")
    page.goto(f"/language/{language}")
    page.goto("/")
    _fits(page, "the event list")
    slugs = sorted(set(re.findall(r'href="/events/([a-z0-9-]+)/"', page.content())))
    assert "pracownia-miast-sandomierz" in slugs, slugs
    for slug in slugs:
        for path in (f"/events/{slug}/", f"/events/{slug}/register", f"/events/{slug}/resend-link"):
            page.goto(path)
            _fits(page, path)
    page.goto("/privacy")
    _fits(page, "/privacy")
    page.goto("/admin/login")
    _fits(page, "/admin/login")

    # A long name and organisation on the success and manage pages.
    person = Person(
        first_name="Konstantynopolitańczykowianeczka" * 3,
        last_name="Wierzchosławiczówna-Grzegorzewska",
        email=unique_email("narrow"),
        organisation="Stowarzyszenie" * 8,
        sessions=[TALK[language]],
    )
    register(page, "e2e-pl" if language == "pl" else "e2e-en", person)
    page.wait_for_url("**/registered")
    _fits(page, "the success page")
    # Long words may break anywhere, but not the short ones of headers and badges.
    _short_words_whole(page)
    screenshot(page, f"phone-360-registered-{language}")
    page.locator("a[href*='/r/']").first.click()
    expect(page.locator("h1")).to_be_visible()
    _fits(page, "the manage page")
    _short_words_whole(page)


def test_a_very_long_name_keeps_the_admin_list_within_the_window(server, new_page) -> None:  # type: ignore[no-untyped-def]
    participant = new_page("narrow")
    person = Person(
        first_name="Bartłomiej",
        last_name="Długonazwiskowski" * 6,
        email=unique_email("longname"),
        organisation="Fundacja" * 12,
        sessions=[TALK["pl"]],
    )
    register(participant, "e2e-keyboard", person)
    participant.wait_for_url("**/registered")
    organiser = new_page("desktop")
    login(organiser)
    event_id = event_id_of(organiser, flow_event_title("e2e-keyboard"))
    organiser.goto(f"/admin/events/{event_id}/registrations?q=Bartłomiej")
    expect(organiser.locator("table")).to_contain_text("Długonazwiskowski")
    _fits(organiser, "the registrations list")
    organiser.get_by_role("link", name=re.compile("Długonazwiskowski")).first.click()
    _fits(organiser, "the registration's page")
