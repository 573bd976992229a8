"""The check-in desk in a browser: a code typed at the desk checks the person in and the list updates at once."""

from __future__ import annotations

import re

from e2e_support import Person, event_id_of, expect, flow_event_title, login, register, unique_email


def test_a_code_check_in_shows_in_the_latest_list_without_reloading(server, new_page) -> None:  # type: ignore[no-untyped-def]
    participant = new_page("phone")
    person = Person(
        first_name="Celina", last_name="Kodowska", email=unique_email("desk"), sessions=["Debata: transport publiczny"]
    )
    register(participant, "e2e-a11y", person)
    participant.wait_for_url("**/registered")
    participant.locator("a[href*='/r/']").first.click()
    code = participant.locator("#checkin-code strong").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4,12}", code), code
    expect(participant.locator("#checkin-code svg")).to_be_visible()

    desk = new_page("desktop")
    login(desk)
    event_id = event_id_of(desk, flow_event_title("e2e-a11y"))
    desk.goto(f"/admin/events/{event_id}/check-in")
    expect(desk.locator("#checkin-recent")).not_to_contain_text("Kodowska")
    desk.locator("#checkin-code").fill(code)
    desk.locator("#checkin-form button[type=submit]").click()
    expect(desk.locator("#checkin-result")).to_contain_text("Kodowska")
    expect(desk.locator("#checkin-recent")).to_contain_text("Celina Kodowska")
    assert desk.url.endswith("/check-in")  # no reload: the script sent it
