"""The registration form framed by an organiser's own site (FRAME_ANCESTORS), in a real browser."""

from __future__ import annotations

from e2e_support import DESKTOP, Person, expect, fill_person, session_checkbox, unique_email


def _context(browser):  # type: ignore[no-untyped-def]
    """Return a fresh browser context (own cookies)."""
    context = browser.new_context(timezone_id="Europe/Warsaw", locale="pl-PL", **DESKTOP)
    context.set_default_timeout(10_000)
    return context


def test_a_participant_registers_inside_the_organisers_page(browser, framing_server) -> None:  # type: ignore[no-untyped-def]
    """The allowed site frames the form; sending it in the frame works (the session cookie crosses) and ends on the success page."""
    context = _context(browser)
    page = context.new_page()
    page.goto(framing_server.site + "/index.html")
    expect(page.get_by_role("heading", name="Our conference")).to_be_visible()
    frame = page.frame_locator("#form")
    expect(frame.locator("form button[type=submit]")).to_be_visible()

    person = Person("Irena", "Ramka", unique_email("framed"), sessions=["Debata: transport publiczny"])
    fill_person(frame, person)
    for title in person.sessions:
        session_checkbox(frame, title).check()
    frame.locator("#consent").check()
    frame.locator("form button[type=submit]").click()

    expect(frame.get_by_role("heading", level=1)).to_contain_text("Irena")
    expect(frame.locator('a[href*="/r/"]')).to_have_attribute("target", "_top")
    # The organiser's page is still there around it.
    assert page.url == framing_server.site + "/index.html"
    cookies = [c for c in context.cookies(framing_server.url) if c["name"] == "session"]
    assert cookies and cookies[0]["sameSite"] == "None" and cookies[0]["secure"]
    context.close()


def test_a_site_not_named_cannot_frame_the_form(browser, framing_server) -> None:  # type: ignore[no-untyped-def]
    """Another origin gets an empty frame: the browser refuses the form there (frame-ancestors)."""
    context = _context(browser)
    page = context.new_page()
    page.goto(framing_server.other_site + "/index.html")
    expect(page.get_by_role("heading", name="Our conference")).to_be_visible()
    frame = page.frame_locator("#form")
    page.wait_for_timeout(1000)
    expect(frame.locator("form")).to_have_count(0)
    context.close()
