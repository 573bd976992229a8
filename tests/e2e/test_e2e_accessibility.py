"""axe-core in Chromium: no serious or critical violation on the public, participant and back-office pages.

Each page is also saved as a screenshot (test-artifacts/e2e/screenshots/a11y-<name>.png).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_support import (
    DESKTOP,
    Person,
    axe_violations,
    describe_violations,
    expect,
    flow_event_title,
    login,
    register,
    screenshot,
    unique_email,
)

SLUG = "e2e-a11y"
LODZ = "v-sesja-dialogu-lodz"
SANDOMIERZ = "pracownia-miast-sandomierz"


@dataclass
class Visitors:
    """A participant's and an organiser's browser contexts, and the addresses their pages need."""

    participant: Any
    organiser: Any
    manage_url: str
    booking_id: int
    event_id: int
    registration_id: int
    session_id: int


@pytest.fixture(scope="module")
def visitors(browser, server) -> Any:  # type: ignore[no-untyped-def]
    """Register one participant and log an organiser in, once for the module."""
    contexts = [browser.new_context(base_url=server.url, reduced_motion="reduce", **DESKTOP) for _ in range(2)]
    participant, organiser = contexts
    page = participant.new_page()
    person = Person("Ida", "Dostępna", unique_email("a11y"), sessions=["Debata: transport publiczny"])
    register(page, SLUG, person)
    expect(page).to_have_url(re.compile("/registered$"))
    manage_url = server.manage_link(server.wait_for_mail(person.email, "Zgłoszenie przyjęte"))
    page.goto(manage_url)
    cancel_href = page.locator("table tbody tr a").first.get_attribute("href")
    page.close()

    page = organiser.new_page()
    login(page)
    page.goto("/admin/")
    page.get_by_role("link", name=flow_event_title(SLUG), exact=True).click()
    event_id = int(re.search(r"/events/(\d+)/", page.url).group(1))
    page.goto(f"/admin/events/{event_id}/registrations")
    page.get_by_role("link", name=f"{person.last_name} {person.first_name}").click()
    registration_id = int(re.search(r"/registrations/(\d+)", page.url).group(1))
    page.goto(f"/admin/events/{event_id}/exports")
    sign_in = page.get_by_role("link", name=re.compile("Warsztat: rewitalizacja")).get_attribute("href")
    page.close()
    yield Visitors(
        participant=participant,
        organiser=organiser,
        manage_url=manage_url,
        booking_id=int(re.search(r"/bookings/(\d+)/", cancel_href).group(1)),
        event_id=event_id,
        registration_id=registration_id,
        session_id=int(re.search(r"/sessions/(\d+)/", sign_in).group(1)),
    )
    for context in contexts:
        context.close()


PUBLIC = {
    "home": "/",
    "home-en": "/?lang=en",
    "event": f"/events/{LODZ}/",
    "event-ranked": f"/events/{SANDOMIERZ}/",
    "register": f"/events/{LODZ}/register",
    "register-ranked": f"/events/{SANDOMIERZ}/register",
    "register-en": f"/events/{SANDOMIERZ}/register?lang=en",
    "resend-link": f"/events/{LODZ}/resend-link",
    "privacy": "/privacy",
    "past-event": "/events/pracownia-miast-krakow-2016/",
    "not-found": "/events/no-such-event/",
    "login": "/admin/login",
}
PARTICIPANT = {
    "manage": "{manage}",
    "manage-en": "{manage}?lang=en",
    "confirm-cancel": "{manage}/bookings/{booking}/cancel",
    "confirm-cancel-all": "{manage}/cancel",
    "erase": "{manage}/erase",
}
ADMIN = {
    "admin-events": "/admin/",
    "admin-dashboard": "/admin/events/{event}/dashboard",
    "admin-registrations": "/admin/events/{event}/registrations",
    "admin-registration": "/admin/events/{event}/registrations/{registration}",
    "admin-registration-new": "/admin/events/{event}/registrations/new",
    "admin-event-edit": "/admin/events/{event}/edit",
    "admin-sessions": "/admin/events/{event}/sessions/",
    "admin-speakers": "/admin/events/{event}/speakers/",
    "admin-speaker-new": "/admin/events/{event}/speakers/new",
    "admin-partner-new": "/admin/events/{event}/partners/new",
    "admin-exports": "/admin/events/{event}/exports",
    "admin-sign-in-sheet": "/admin/events/{event}/sessions/{session}/sign-in",
    "admin-badges": "/admin/events/{event}/badges",
    "admin-accounts": "/admin/accounts/",
    "admin-series": "/admin/series/",
}


def _check(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshot the page and assert that axe finds nothing serious."""
    screenshot(page, f"a11y-{name}")
    violations = axe_violations(page, name)
    assert not violations, f"axe on {name} ({page.url}):\n{describe_violations(violations)}"


@pytest.mark.parametrize("name", PUBLIC)
def test_public_page_has_no_serious_violations(new_page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Public pages, as a visitor sees them."""
    page = new_page("desktop")
    page.goto(PUBLIC[name])
    _check(page, name)


def test_form_with_errors_has_no_serious_violations(new_page) -> None:  # type: ignore[no-untyped-def]
    """The registration form sent empty: the errors are announced and tied to their fields."""
    page = new_page("desktop")
    page.goto(f"/events/{LODZ}/register")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#first_name")).to_have_attribute("aria-invalid", "true")
    # The summary takes the focus and leads to each field in error.
    expect(page.locator("#form-errors")).to_be_focused()
    page.locator("#form-errors a[href='#first_name']").click()
    expect(page.locator("#first_name")).to_be_focused()
    _check(page, "register-errors")


@pytest.mark.parametrize("name", PARTICIPANT)
def test_participant_page_has_no_serious_violations(visitors: Visitors, name: str) -> None:
    """Pages behind the private link."""
    page = visitors.participant.new_page()
    page.goto(PARTICIPANT[name].format(manage=visitors.manage_url, booking=visitors.booking_id))
    try:
        _check(page, name)
    finally:
        page.close()


@pytest.mark.parametrize("name", ADMIN)
def test_admin_page_has_no_serious_violations(visitors: Visitors, name: str) -> None:
    """The main back-office pages of an administrator."""
    page = visitors.organiser.new_page()
    response = page.goto(
        ADMIN[name].format(event=visitors.event_id, registration=visitors.registration_id, session=visitors.session_id)
    )
    assert response is not None and response.ok, f"{name}: HTTP {response and response.status}"
    try:
        _check(page, name)
    finally:
        page.close()
