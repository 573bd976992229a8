"""The registration form with the keyboard only: every stop has a visible focus, Space ticks, Enter submits."""

from __future__ import annotations

import re

from e2e_support import expect, screenshot

SLUG = "e2e-keyboard"

# A focus indicator: an outline or a box shadow (Bootstrap's focus ring) on a rendered element.
FOCUS_STATE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== 'none';
  const box = el.getBoundingClientRect();
  return {element: el.outerHTML.slice(0, 160), shown: box.width > 0 && box.height > 0, ring: outline || shadow};
}"""


def tab_to(page, selector: str, limit: int = 60) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until ``selector`` has the focus, checking that every stop on the way shows it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        assert state["shown"] and state["ring"], f"no visible focus on {state['element']}"
        if page.evaluate("selector => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab")


def test_registration_form_with_keyboard_only(server, new_page) -> None:  # type: ignore[no-untyped-def]
    """Fill, tick and submit the form without a mouse; the first Tab reaches the skip link."""
    page = new_page("desktop")
    page.goto(f"/events/{SLUG}/register")
    page.keyboard.press("Tab")
    skip = page.locator("a[href='#main']")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()

    for selector, text in [
        ("#first_name", "Ewa"),
        ("#last_name", "Klawiaturowa"),
        ("#email", "ewa-kbd@example.com"),
        ("#organisation", "Urząd Gminy"),
        ("#city", "Kutno"),
    ]:
        tab_to(page, selector)
        page.keyboard.type(text)
    tab_to(page, "#category")
    page.keyboard.press("ArrowDown")  # the first category after "— choose —"
    expect(page.locator("#category")).to_have_value("mayor")
    tab_to(page, "input[name=sessions]:not(:checked)")  # the first session: the opening
    page.keyboard.press("Space")
    tab_to(page, "#consent")
    page.keyboard.press("Space")
    expect(page.locator("#consent")).to_be_checked()
    screenshot(page, "keyboard-focus", full_page=False)
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(f"/events/{SLUG}/registered$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ewa")
    expect(page.locator("table tbody tr")).to_have_count(1)
