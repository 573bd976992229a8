"""A newcomer's first day: register, open /dev/mail, follow the email's private link in one click."""

from __future__ import annotations

import re

from e2e_support import DESKTOP, Person, expect, register, unique_email


def _open_context(browser, dev_server):  # type: ignore[no-untyped-def]
    """Return a fresh browser context on the development server."""
    context = browser.new_context(base_url=dev_server.url, timezone_id="Europe/Warsaw", locale="pl-PL", **DESKTOP)
    context.set_default_timeout(10_000)
    return context


def _open_message_to(page, address: str) -> None:  # type: ignore[no-untyped-def]
    """Open /dev/mail and the email written to ``address`` (delivered just after the response: reload until listed)."""
    page.goto("/dev/mail")
    row = page.locator("table tbody tr", has_text=address)
    for _attempt in range(50):
        if row.count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(row).to_have_count(1)
    # The list shows the email's links: the private one among them.
    expect(row.get_by_role("link", name=re.compile(r"\/r\/"))).to_have_count(1)
    row.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/dev/mail/[\w.-]+\.eml$"))


def test_the_private_link_in_the_html_preview_opens_the_manage_page_in_the_window(browser, dev_server) -> None:  # type: ignore[no-untyped-def]
    """A click on the link inside the framed HTML leaves /dev/mail for the manage page (not inside the frame)."""
    context = _open_context(browser, dev_server)
    page = context.new_page()
    person = Person("Ewa", "Nowak", unique_email("devmail"), sessions=["Debata: transport publiczny"])
    register(page, "e2e-pl", person)
    expect(page).to_have_url(re.compile(r"/registered"))
    _open_message_to(page, person.email)

    frame = page.frame_locator("iframe[title=HTML]")
    frame.get_by_role("link", name=re.compile(r"\/r\/")).click()
    expect(page).to_have_url(re.compile(r"/r/[A-Za-z0-9_\-]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Twoje zgłoszenie")
    expect(page.locator("main")).to_contain_text("Ewa")
    expect(page.locator("iframe")).to_have_count(0)
    context.close()


def test_the_private_link_in_the_plain_text_is_a_link(browser, dev_server) -> None:  # type: ignore[no-untyped-def]
    """The text part's URLs are links too."""
    context = _open_context(browser, dev_server)
    page = context.new_page()
    person = Person("Adam", "Kowal", unique_email("devtext"), sessions=["Debata: zieleń miejska"])
    register(page, "e2e-pl", person)
    expect(page).to_have_url(re.compile(r"/registered"))
    _open_message_to(page, person.email)

    page.locator("pre").get_by_role("link", name=re.compile(r"\/r\/")).click()
    expect(page).to_have_url(re.compile(r"/r/[A-Za-z0-9_\-]+$"))
    context.close()
