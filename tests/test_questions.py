"""An event's own registration questions: the form builder, answers on every page, exports and GDPR."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from app.db import utcnow
from app.exports.rows import PersonRecord, QuestionColumn, person_headers, person_rows
from app.extensions import db as _db
from app.registration import gdpr, questions
from app.registration.models import Answer, Question, QuestionKind, Registration
from app.registration.questions import QuestionData
from tests.conftest import FORM_DEFAULTS, NOW, csrf_token, submit

DIETS = "Wegetariańska | Vegetarian\nWegańska | Vegan\nBez ograniczeń | No restrictions"


def _question(event, kind=QuestionKind.SHORT_TEXT, label_pl="Pytanie", label_en="Question", **extra):  # type: ignore[no-untyped-def]
    """Add a question through the organiser's service."""
    data = QuestionData(kind=kind, label_pl=label_pl, label_en=label_en, **extra)
    return questions.create_question(event.id, data)


def _diet(event, **extra):  # type: ignore[no-untyped-def]
    return _question(event, QuestionKind.CHOICE, "Dieta", "Diet", options_text=DIETS, is_special_category=True, **extra)


def _option(question, polish: str) -> str:  # type: ignore[no-untyped-def]
    return next(o["id"] for o in question.options if o["pl"] == polish)


def _answers(db, registration_id: int) -> dict[int, str]:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return questions.answers_of(registration_id)


def _manage_link(html: str) -> str:
    match = re.search(r'href="http://zapisy\.test(/r/[A-Za-z0-9_-]+)"', html)
    assert match, "no manage link on the page"
    return match.group(1)


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    text = response.data.decode("utf-8")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


# --- the public form -------------------------------------------------------------------------


def test_questions_are_asked_in_both_languages_and_the_answers_stored(client, db, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=10)
    diet = _diet(event, is_required=True)
    nip = _question(event, QuestionKind.SHORT_TEXT, "NIP do faktury", "Tax ID for the invoice")
    car = _question(event, QuestionKind.YES_NO, "Przyjadę samochodem", "I will come by car")
    topics = _question(
        event, QuestionKind.CHOICES, "Tematy", "Topics", options_text="Transport | Transport\nZieleń | Greenery"
    )
    polish = client.get(f"/events/{event.slug}/register").text
    assert "Dieta" in polish and "Wegańska" in polish and "Przyjadę samochodem" in polish and "Tak" in polish
    english = client.get(f"/events/{event.slug}/register?lang=en").text
    assert "Diet" in english and "Vegan" in english and "I will come by car" in english and "Dieta" not in english
    # The required question has the asterisk, each optional one says so, as the built-in fields do.
    assert re.search(r"Przyjadę samochodem <span[^>]*>\(opcjonalnie\)</span>", polish)
    assert re.search(r"Tax ID for the invoice <span[^>]*>\(optional\)</span>", english)
    assert not re.search(r"Dieta <span[^>]*>\(opcjonalnie\)", polish) and re.search(
        r"Dieta <span[^>]*>\*</span>", polish
    )

    response = submit(
        client,
        f"/events/{event.slug}/register",
        {
            **FORM_DEFAULTS,
            "sessions": [session.id],
            f"q_{diet.id}": _option(diet, "Wegańska"),
            f"q_{nip.id}": "  123-456-32-18 ",
            f"q_{car.id}": "yes",
            f"q_{topics.id}": [_option(topics, "Zieleń"), _option(topics, "Transport")],
        },
    )
    assert response.status_code == 303
    registration = db.session.execute(select(Registration)).scalar_one()
    stored = _answers(db, registration.id)
    assert stored == {
        diet.id: _option(diet, "Wegańska"),
        nip.id: "123-456-32-18",
        car.id: "yes",
        topics.id: f"{_option(topics, 'Transport')},{_option(topics, 'Zieleń')}",  # in the options' order
    }


def test_a_missing_required_answer_is_shown_next_to_its_field_and_the_rest_is_kept(client, db, make_event):
    event = make_event()
    diet = _diet(event, is_required=True)
    nip = _question(event, QuestionKind.SHORT_TEXT, "NIP", "Tax ID")
    response = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, f"q_{nip.id}": "5250001009"})
    assert response.status_code == 422
    assert f'id="q_{diet.id}-error"' in response.text and "Proszę odpowiedzieć na to pytanie." in response.text
    assert 'value="5250001009"' in response.text and 'value="Łukasz"' in response.text
    assert f'href="#q_{diet.id}"' in response.text  # the error summary links to the question
    assert db.session.execute(select(func.count()).select_from(Registration)).scalar_one() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nip", "<script>alert(1)</script>", "bez znaczników HTML"),
        ("nip", "x" * 201, "200"),
        ("notes", "y" * 2001, "2000"),
        ("diet", "o99", "Ta opcja jest niedostępna."),
        ("topics", "evil", "Ten wybór jest niedostępny."),
        ("car", "maybe", "Ta opcja jest niedostępna."),
        ("nip", "a\u202eb", "niedozwolone znaki"),
    ],
)
def test_hostile_answers_get_a_clear_message_and_nothing_is_stored(client, db, make_event, field, value, message):
    event = make_event()
    fields = {
        "diet": _diet(event),
        "nip": _question(event, QuestionKind.SHORT_TEXT, "NIP", "Tax ID"),
        "notes": _question(event, QuestionKind.LONG_TEXT, "Uwagi", "Notes"),
        "topics": _question(event, QuestionKind.CHOICES, "Tematy", "Topics", options_text="A\nB"),
        "car": _question(event, QuestionKind.YES_NO, "Auto", "Car"),
    }
    response = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, f"q_{fields[field].id}": value})
    assert response.status_code == 422
    assert message in response.text and f'id="q_{fields[field].id}-error"' in response.text
    assert db.session.execute(select(func.count()).select_from(Answer)).scalar_one() == 0


def test_a_question_for_some_categories_is_required_only_of_them_and_kept_only_for_them(client, db, make_event):
    event = make_event()
    parking = _question(
        event, QuestionKind.YES_NO, "Parking dla włodarzy", "Parking for mayors", categories=["mayor"], is_required=True
    )
    page = client.get(f"/events/{event.slug}/register").text
    assert "Tylko dla: włodarze" in page or "Tylko dla:" in page
    refused = submit(client, f"/events/{event.slug}/register", {**FORM_DEFAULTS})
    assert refused.status_code == 422 and f'id="q_{parking.id}-error"' in refused.text
    business = {**FORM_DEFAULTS, "category": "business", "email": "firma@example.com", f"q_{parking.id}": "yes"}
    assert submit(client, f"/events/{event.slug}/register", business).status_code == 303
    registration = db.session.execute(select(Registration)).scalar_one()
    assert _answers(db, registration.id) == {}  # not asked of business: not kept


def test_an_event_without_questions_costs_one_query_and_writes_no_answer(app, client, db, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=5)
    page = client.get(f"/events/{event.slug}/register")
    statements: list[str] = []

    def remember(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement.lower())

    engine = _db.engine
    sa_event.listen(engine, "before_cursor_execute", remember)
    try:
        response = client.post(
            f"/events/{event.slug}/register",
            data={**FORM_DEFAULTS, "sessions": [session.id], "csrf_token": csrf_token(page.text)},
        )
    finally:
        sa_event.remove(engine, "before_cursor_execute", remember)
    assert response.status_code == 303
    assert len([s for s in statements if "from question" in s]) == 1
    assert not [s for s in statements if "answer" in s]


def test_hidden_questions_leave_the_form_and_keep_their_answers(client, db, make_event, register):
    event = make_event()
    diet = _diet(event)
    registration = register(event)
    questions.change_answers(registration, [diet], {diet.id: _option(diet, "Wegańska")})
    questions.set_question_active(event.id, diet.id, False)
    assert "Dieta" not in client.get(f"/events/{event.slug}/register").text
    assert _answers(db, registration.id) == {diet.id: _option(diet, "Wegańska")}


# --- the manage page -------------------------------------------------------------------------


def test_the_participant_changes_answers_while_registration_is_open_then_sees_them_only(client, db, make_event):
    event = make_event()
    diet = _diet(event, is_required=True)
    notes = _question(event, QuestionKind.LONG_TEXT, "Potrzeby dostępności", "Accessibility needs")
    response = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, f"q_{diet.id}": _option(diet, "Wegańska")}
    )
    manage = _manage_link(client.get(response.headers["Location"]).text)
    page = client.get(manage)
    assert page.status_code == 200 and "Twoje odpowiedzi na pytania organizatora" in page.text
    assert re.search(
        rf'value="{_option(diet, "Wegańska")}"[^>]*checked|checked[^>]*value="{_option(diet, "Wegańska")}"', page.text
    )

    token = csrf_token(page.text)
    refused = client.post(manage + "/answers", data={"csrf_token": token, f"q_{notes.id}": "<b>ramp</b>"})
    assert refused.status_code == 422 and "bez znaczników HTML" in refused.text
    assert "<b>ramp</b>" not in refused.text and "&lt;b&gt;ramp&lt;/b&gt;" in refused.text  # kept, escaped
    missing = client.post(manage + "/answers", data={"csrf_token": token, f"q_{notes.id}": "Wózek"})
    assert missing.status_code == 422 and "Proszę odpowiedzieć na to pytanie." in missing.text

    saved = client.post(
        manage + "/answers",
        data={"csrf_token": token, f"q_{diet.id}": _option(diet, "Wegetariańska"), f"q_{notes.id}": "Wózek\nrampa"},
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#answers")
    registration = db.session.execute(select(Registration)).scalar_one()
    assert _answers(db, registration.id) == {diet.id: _option(diet, "Wegetariańska"), notes.id: "Wózek\nrampa"}

    event.registration_closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    closed = client.get(manage)
    assert "Wegetariańska" in closed.text and "Zapisz odpowiedzi" not in closed.text
    late = client.post(manage + "/answers", data={"csrf_token": token, f"q_{diet.id}": _option(diet, "Wegańska")})
    assert late.status_code == 422
    assert _answers(db, registration.id)[diet.id] == _option(diet, "Wegetariańska")


# --- the organiser's form builder ------------------------------------------------------------


def test_the_organiser_builds_edits_orders_hides_and_deletes_questions(client, db, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    base = f"/admin/events/{event.id}/questions"
    assert client.get(base + "/").status_code == 200
    bad = submit(client, base + "/new", {"kind": "choice", "label_pl": "Dieta", "options": "Jedna"})
    assert bad.status_code == 422 and "co najmniej dwóch opcji" in bad.text
    response = submit(
        client,
        base + "/new",
        {"kind": "choice", "label_pl": "Dieta", "label_en": "Diet", "options": DIETS, "is_active": "y"},
    )
    assert response.status_code == 303
    response = submit(client, base + "/new", {"kind": "short_text", "label_pl": "NIP", "is_active": "y"})
    assert response.status_code == 303
    diet, nip = questions.event_questions(event.id)
    assert [o["en"] for o in diet.options] == ["Vegetarian", "Vegan", "No restrictions"]

    listing = client.get(base + "/")
    token = csrf_token(listing.text)
    assert client.post(f"{base}/{nip.id}/move/up", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert [q.label_pl for q in questions.event_questions(event.id)] == ["NIP", "Dieta"]

    assert client.post(f"{base}/{nip.id}/hide", data={"csrf_token": token}).status_code == 303
    assert "NIP" not in client.get(f"/events/{event.slug}/register").text
    assert client.post(f"{base}/{nip.id}/delete", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert [q.label_pl for q in questions.event_questions(event.id, include_hidden=True)] == ["Dieta"]

    edit = client.get(f"{base}/{diet.id}/edit")
    assert "Wegetariańska | Vegetarian" in edit.text


def test_an_answered_question_keeps_its_kind_options_and_answers(client, db, make_event, register, as_organiser):
    event = make_event()
    diet = _diet(event)
    vegan = _option(diet, "Wegańska")
    registration = register(event)
    questions.change_answers(registration, [diet], {diet.id: vegan})
    as_organiser("organiser", events=[event])
    url = f"/admin/events/{event.id}/questions/{diet.id}/edit"
    form = {"label_pl": "Dieta", "label_en": "Diet", "is_active": "y"}

    kind = submit(client, url, {**form, "kind": "short_text"})
    assert kind.status_code == 422 and "jego rodzaj nie może się zmienić" in kind.text
    kept = "Wegetariańska | Vegetarian\nBez ograniczeń | No restrictions"
    removed = submit(client, url, {**form, "kind": "choice", "options": kept})
    assert removed.status_code == 422 and "„Wegańska”" in removed.text
    # A new Polish label with the same English one keeps the option (and the answer's meaning).
    renamed = submit(
        client, url, {**form, "kind": "choice", "options": "Wegetariańska\nWeganska | Vegan\nInna | Other"}
    )
    assert renamed.status_code == 303
    db.session.expire_all()
    edited = db.session.get(Question, diet.id)
    assert _option(edited, "Weganska") == vegan
    assert questions.display_value(edited, vegan, "pl") == "Weganska"
    delete = client.post(
        f"/admin/events/{event.id}/questions/{diet.id}/delete", data={"csrf_token": csrf_token(client.get(url).text)}
    )
    assert delete.status_code == 303
    assert "nie może zostać usunięte" in client.get(f"/admin/events/{event.id}/questions/").text
    assert _answers(db, registration.id) == {diet.id: vegan}


def test_the_builder_counts_the_live_answers_per_option(client, db, make_event, register, as_organiser):
    from app.registration import services

    event = make_event()
    diet = _diet(event)
    car = _question(event, QuestionKind.YES_NO, "Auto", "Car")
    vegan = _option(diet, "Wegańska")
    people = [register(event) for _ in range(3)]
    for person, car_answer in zip(people, ["yes", "yes", "no"]):
        questions.change_answers(person, [diet, car], {diet.id: vegan, car.id: car_answer})
    services.cancel_registration(people[0])
    assert questions.answer_counts(event.id) == {diet.id: {vegan: 2}, car.id: {"yes": 1, "no": 1}}
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/questions/").text
    assert re.search(r"Wegańska · <span lang=\"en\">Vegan</span> — <strong>2</strong>", page)
    assert "Tak: <strong>1</strong> · Nie: <strong>1</strong>" in page


def test_staff_cannot_edit_questions(client, make_event, as_organiser):
    event = make_event()
    diet = _diet(event)
    as_organiser("staff", events=[event])
    assert client.get(f"/admin/events/{event.id}/questions/").status_code == 403
    assert client.get(f"/admin/events/{event.id}/questions/{diet.id}/edit").status_code == 403


def test_a_question_of_another_event_is_404(client, make_event, as_organiser):
    mine, other = make_event(), make_event()
    theirs = _diet(other)
    as_organiser("organiser", events=[mine])
    assert client.get(f"/admin/events/{mine.id}/questions/{theirs.id}/edit").status_code == 404


def test_parse_options_keeps_ids_by_either_label_and_refuses_bad_lines():
    first = questions.parse_options("Tak | Yes\nNie | No", [])
    assert [o["id"] for o in first] == ["o1", "o2"]
    again = questions.parse_options("Nie | Nope\nRaczej tak | Yes\nMoże | Maybe", first)
    assert [(o["id"], o["pl"]) for o in again] == [("o2", "Nie"), ("o1", "Raczej tak"), ("o3", "Może")]
    for text in (" | English only", "A\nA", "x" * 151):
        with pytest.raises(questions.InvalidOptions):
            questions.parse_options(text, [])


def test_cloning_an_event_copies_its_questions(db, make_event):
    from datetime import date

    from app.admin import programme

    event = make_event()
    diet = _diet(event, is_required=True, categories=["mayor"])
    _question(event, QuestionKind.YES_NO, "Auto", "Car")
    questions.set_question_active(event.id, diet.id, False)
    clone = programme.clone_event(
        event.id, programme.CloneData(slug="copy-of-event", city="Kielce", venue="", starts_on=date(2027, 5, 5))
    )
    copied = questions.event_questions(clone.id, include_hidden=True)
    assert [(q.label_pl, q.kind, q.is_active) for q in copied] == [
        ("Dieta", QuestionKind.CHOICE, False),
        ("Auto", QuestionKind.YES_NO, True),
    ]
    assert copied[0].options == diet.options and copied[0].categories == ["mayor"] and copied[0].is_special_category


# --- the organiser's lists -------------------------------------------------------------------


@pytest.fixture
def answered(make_event, make_session, register):  # type: ignore[no-untyped-def]
    """An event with a diet question and a NIP, and one participant who answered both."""
    event = make_event()
    session = make_session(event, capacity=5, title_pl="Sesja")
    diet = _diet(event)
    nip = _question(event, QuestionKind.SHORT_TEXT, "NIP", "Tax ID")
    registration = register(event, session, last_name="Kowalska")
    questions.change_answers(registration, [diet, nip], {diet.id: _option(diet, "Wegańska"), nip.id: "=1+2"})
    return event, session, registration, diet, nip


def test_answers_appear_in_the_admin_list_and_detail(client, answered, as_organiser):
    event, _session, registration, _diet_question, _nip = answered
    as_organiser("organiser", events=[event])
    listing = client.get(f"/admin/events/{event.id}/registrations").text
    assert "Dieta:" in listing and "Wegańska" in listing
    detail = client.get(f"/admin/events/{event.id}/registrations/{registration.id}").text
    assert "Wegańska" in detail and "NIP" in detail and "=1+2" in detail and "kategoria szczególna" in detail


def test_exports_have_one_column_per_question(client, answered, as_organiser, tmp_path):
    event, session, _registration, _diet_question, _nip = answered
    as_organiser("organiser", events=[event])
    rows = _csv(client.get(f"/admin/events/{event.id}/export.csv"))
    assert rows[0][-2:] == ["Dieta", "NIP"]
    assert rows[1][-2:] == ["Wegańska", "'=1+2"]  # the formula neutralised like any cell
    by_session = _csv(client.get(f"/admin/events/{event.id}/export.csv?session={session.id}"))
    assert by_session[0][-2:] == ["Dieta", "NIP"] and by_session[1][-2:] == ["Wegańska", "'=1+2"]
    client.get("/language/en")
    english = _csv(client.get(f"/admin/events/{event.id}/export.csv"))
    assert english[0][-2:] == ["Diet", "Tax ID"] and english[1][-2] == "Vegan"
    path = tmp_path / "list.xlsx"
    path.write_bytes(client.get(f"/admin/events/{event.id}/export.xlsx").data)
    sheet = openpyxl.load_workbook(path)[openpyxl.load_workbook(path).sheetnames[-1]]
    header, first = list(sheet.iter_rows(values_only=True))[:2]
    assert header[-2:] == ("Diet", "Tax ID") and first[-2:] == ("Vegan", "=1+2")


def test_row_builders_put_answers_in_the_question_columns():
    record = PersonRecord(1, "Nowak", "Anna", "", "", "", "mayor", "a@b.pl", "", "pl", "active", NOW, answers={7: "X"})
    columns = [QuestionColumn(5, "Dieta"), QuestionColumn(7, "NIP")]
    assert person_headers(str, columns)[-2:] == ["Dieta", "NIP"]
    [row] = person_rows([record], str, lambda kind, value: value, columns)
    assert row[-2:] == ["", "X"]


# --- GDPR ------------------------------------------------------------------------------------


def test_the_data_export_has_the_answers_and_erasure_deletes_them(client, db, make_event):
    event = make_event()
    diet = _diet(event)
    response = submit(
        client, f"/events/{event.slug}/register", {**FORM_DEFAULTS, f"q_{diet.id}": _option(diet, "Wegańska")}
    )
    manage = _manage_link(client.get(response.headers["Location"]).text)
    data = json.loads(client.get(manage + "/data.json").data)
    assert data["answers"] == [
        {"question": "Dieta", "question_en": "Diet", "answer": "Wegańska", "special_category": True}
    ]
    page = client.get(manage + "/erase")
    assert client.post(manage + "/erase", data={"csrf_token": csrf_token(page.text)}).status_code == 303
    assert db.session.execute(select(func.count()).select_from(Answer)).scalar_one() == 0


def _ended(db, event, days_ago: float) -> None:  # type: ignore[no-untyped-def]
    event.starts_at = utcnow() - timedelta(days=days_ago + 1)
    event.ends_at = utcnow() - timedelta(days=days_ago)
    event.registration_opens_at = event.registration_closes_at = None
    db.session.commit()


def test_special_category_answers_are_purged_first(app, db, make_event, register, runner):
    past, future = make_event(), make_event()
    answers = {}
    for event in (past, future):
        diet, nip = _diet(event), _question(event, QuestionKind.SHORT_TEXT, "NIP", "Tax ID")
        registration = register(event)
        questions.change_answers(registration, [diet, nip], {diet.id: _option(diet, "Wegańska"), nip.id: "123"})
        answers[event.id] = (registration.id, diet.id, nip.id)
    _ended(db, past, 0.5)

    dry = runner.invoke(args=["gdpr", "purge-special", "--dry-run"])
    assert dry.exit_code == 0 and "Would erase 1 special-category answers" in dry.output
    done = runner.invoke(args=["gdpr", "purge-special"])
    assert done.exit_code == 0 and "Erased 1 special-category answers" in done.output
    registration_id, _diet_id, nip_id = answers[past.id]
    assert _answers(db, registration_id) == {nip_id: "123"}  # the rest waits for the general purge
    assert len(_answers(db, answers[future.id][0])) == 2  # not ended: untouched
    assert runner.invoke(args=["gdpr", "purge-special"]).output.startswith("Erased 0")
    assert runner.invoke(args=["gdpr", "purge-special", "--before", "tomorrow"]).exit_code != 0

    gdpr.purge_before(utcnow())
    assert _answers(db, registration_id) == {}


@pytest.mark.app_config(GDPR_SPECIAL_RETENTION_DAYS=2, GDPR_RETENTION_DAYS=0)
def test_the_worker_purges_special_answers_after_their_retention_even_with_retention_off(db, make_event, register):
    from app.notifications.worker import run_due_tasks

    event = make_event()
    diet = _diet(event)
    registration = register(event)
    questions.change_answers(registration, [diet], {diet.id: _option(diet, "Wegańska")})
    _ended(db, event, 1)
    assert "purge special-category answers" in run_due_tasks(lambda: 10.0)
    assert _answers(db, registration.id) != {}  # one day after the end: within the 2 days
    _ended(db, event, 3)
    assert "purge special-category answers" in run_due_tasks(lambda: 10.0 + 3600)
    assert _answers(db, registration.id) == {}


def test_the_demo_sandomierz_conference_asks_about_diet(runner, db, client):
    runner.invoke(args=["seed-demo"])
    from app.events.models import Event

    event = db.session.execute(select(Event).where(Event.slug == "pracownia-miast-sandomierz")).scalar_one()
    [diet, *_rest] = questions.event_questions(event.id)
    assert diet.label_pl.startswith("Dieta") and diet.is_special_category
    assert "Gluten-free" in client.get(f"/events/{event.slug}/register?lang=en").text
