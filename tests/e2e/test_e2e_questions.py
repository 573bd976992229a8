"""The form builder in a real browser: an organiser adds questions, a participant answers them in English."""

from __future__ import annotations

import re

from e2e_support import (
    Person,
    axe_violations,
    describe_violations,
    expect,
    fill_person,
    flow_event_title,
    login,
    screenshot,
    session_checkbox,
    unique_email,
)

SLUG = "e2e-en"
OPENING = "Opening of the forum"


def test_organiser_builds_questions_and_a_participant_answers_them(server, new_page) -> None:  # type: ignore[no-untyped-def]
    """Add two questions, reorder them, see them in English, answer, change the answer, find it in the list."""
    page = new_page("desktop")
    login(page)
    page.goto("/admin/")
    page.get_by_role("link", name=flow_event_title(SLUG), exact=True).click()
    event_id = int(re.search(r"/admin/events/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    page.goto(f"/admin/events/{event_id}/edit")
    page.get_by_role("link", name="Pytania w formularzu").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pytania w formularzu")

    # A choice question: too few options are refused next to the field, the typed text kept.
    page.get_by_role("link", name="Dodaj pytanie").click()
    page.get_by_label("Rodzaj odpowiedzi").select_option("choice")
    page.get_by_label("Pytanie (po polsku)").fill("Dieta")
    page.get_by_label("Pytanie (po angielsku)").fill("Diet")
    page.get_by_label("Opcje").fill("Wegańska | Vegan")
    page.get_by_role("button", name="Dodaj pytanie").click()
    expect(page.locator("#options-error")).to_contain_text("co najmniej dwóch opcji")
    expect(page.get_by_label("Pytanie (po polsku)")).to_have_value("Dieta")
    page.get_by_label("Opcje").fill("Wegańska | Vegan\nWegetariańska | Vegetarian\nBez ograniczeń | No restrictions")
    page.get_by_label("Odpowiedź jest wymagana").check()
    page.get_by_label("Dane szczególnej kategorii (zdrowie)").check()
    page.get_by_role("button", name="Dodaj pytanie").click()
    expect(page.locator(".alert-success")).to_have_text("Pytanie zostało dodane.")

    # A yes/no question, then moved above the diet.
    page.get_by_role("link", name="Dodaj pytanie").click()
    page.get_by_label("Rodzaj odpowiedzi").select_option("yes_no")
    page.get_by_label("Pytanie (po polsku)").fill("Przyjadę samochodem")
    page.get_by_label("Pytanie (po angielsku)").fill("I will come by car")
    page.get_by_role("button", name="Dodaj pytanie").click()
    rows = page.locator("#questions tbody tr")
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("button", name="W górę").click()
    expect(rows.nth(0)).to_contain_text("Przyjadę samochodem")
    expect(rows.nth(1)).to_contain_text("Dieta")
    expect(rows.nth(1)).to_contain_text("kategoria szczególna (zdrowie)")
    screenshot(page, "admin-questions")
    violations = axe_violations(page, "admin-questions")
    assert not violations, describe_violations(violations)

    # The participant sees the questions in English, in that order; the required one is asked for.
    participant = new_page("desktop")
    participant.goto(f"/events/{SLUG}/register?lang=en")
    questions = participant.locator("#questions legend")
    expect(questions.nth(0)).to_have_text("Questions from the organiser")
    expect(participant.locator("#questions")).to_contain_text("I will come by car")
    person = Person("Jan", "Wróbel", unique_email("diet"), city="Konin")
    fill_person(participant, person)
    session_checkbox(participant, OPENING).check()
    participant.get_by_role("radio", name="Yes").check()
    participant.locator("#consent").check()
    participant.locator("form button[type=submit]").click()
    diet = participant.get_by_role("group", name="Diet")
    expect(diet).to_contain_text("Please answer this question.")
    expect(participant.get_by_role("radio", name="Yes")).to_be_checked()  # the other answers are kept
    screenshot(participant, "register-question-error")
    violations = axe_violations(participant, "register-question-error")
    assert not violations, describe_violations(violations)
    diet.get_by_role("radio", name="Vegan").check()
    participant.locator("#consent").check()
    participant.locator("form button[type=submit]").click()
    expect(participant).to_have_url(re.compile(f"/events/{SLUG}/registered$"))

    # From the private link the answer is changed while registration is open.
    message = server.wait_for_mail(person.email)
    participant.goto(server.manage_link(message))
    participant.get_by_role("link", name="EN", exact=True).click()
    answers = participant.locator("#answers")
    expect(answers.get_by_role("radio", name="Vegan")).to_be_checked()
    answers.get_by_role("radio", name="Vegetarian").check()
    answers.get_by_role("button", name="Save answers").click()
    expect(participant.locator(".alert-success")).to_have_text("Your answers have been saved.")
    expect(participant.locator("#answers").get_by_role("radio", name="Vegetarian")).to_be_checked()

    # The organiser finds the answer in the list, and cannot change the answered question's kind.
    page.goto(f"/admin/events/{event_id}/registrations")
    expect(page.locator("tr", has_text=person.last_name)).to_contain_text("Wegetariańska")
    page.goto(f"/admin/events/{event_id}/questions/")
    page.locator("#questions tbody tr", has_text="Dieta").get_by_role("link", name="Edytuj").click()
    page.get_by_label("Rodzaj odpowiedzi").select_option("short_text")
    page.get_by_role("button", name="Zapisz").click()
    expect(page.locator("#kind-error")).to_contain_text("jego rodzaj nie może się zmienić")
    page.goto(f"/admin/events/{event_id}/questions/")
    expect(page.locator("#questions tbody tr", has_text="Dieta").get_by_role("button", name="Usuń")).to_have_count(0)
