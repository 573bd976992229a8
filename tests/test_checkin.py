"""Check-in at the venue: scanning codes, no double counting, undo, access, attendance in lists."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEntry
from app.checkin.models import CheckIn
from app.registration import services as registration_services
from tests.conftest import csrf_token, login

JSON = {"Accept": "application/json"}


@pytest.fixture
def scene(make_event, make_session, register):  # type: ignore[no-untyped-def]
    """An event with a workshop of two groups and two participants (one per group)."""
    event = make_event()
    workshop = make_session(event, start_hour=10, groups=[1, 1], title_pl="Warsztat", title_en="Workshop")
    anna = register(
        event,
        workshop,
        first_name="Anna",
        last_name="Ząbek",
        phone="+48 600 100 200",
        email="anna.zabek@example.com",
        organisation="Urząd Miasta Łodzi",
    )
    jan = register(event, workshop, first_name="Jan", last_name="Lis", email="jan.lis@example.com")
    return event, workshop, anna, jan


def _token(client, event) -> str:  # type: ignore[no-untyped-def]
    """Open the check-in page and return its CSRF token."""
    page = client.get(f"/admin/events/{event.id}/check-in")
    assert page.status_code == 200
    return csrf_token(page.text)


def _scan(client, event, code: str = "", scope: str = "event", **extra):  # type: ignore[no-untyped-def]
    """Post a code as the page's script does, and return the JSON answer and status."""
    data = {"code": code, "scope": scope, "csrf_token": _token(client, event), **extra}
    response = client.post(f"/admin/events/{event.id}/check-in", data=data, headers=JSON)
    return response


def _live(db, registration_id: int) -> list[CheckIn]:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return list(
        db.session.execute(
            db.select(CheckIn).where(CheckIn.registration_id == registration_id, CheckIn.undone_at.is_(None))
        ).scalars()
    )


def test_second_scan_says_already_checked_in_and_counts_once(client, db, scene, as_organiser):
    event, _workshop, anna, _jan = scene
    as_organiser("staff", events=[event])
    client.get("/language/en")
    first = _scan(client, event, anna.checkin_code)
    assert first.status_code == 200 and first.json["status"] == "ok"
    assert first.json["message"] == "Anna Ząbek checked in."
    second = _scan(client, event, anna.checkin_code.lower())
    assert second.json["status"] == "already"
    assert re.fullmatch(r"Anna Ząbek is already checked in at \d{2}:\d{2}\.", second.json["message"])
    assert len(_live(db, anna.id)) == 1


def test_already_checked_in_time_is_warsaw_time_in_polish(client, db, scene, as_organiser):
    event, _workshop, anna, _jan = scene
    as_organiser("staff", events=[event])
    client.get("/language/pl")
    _scan(client, event, anna.checkin_code)
    answer = _scan(client, event, anna.checkin_code).json
    from zoneinfo import ZoneInfo

    [row] = _live(db, anna.id)
    expected = row.checked_in_at.astimezone(ZoneInfo("Europe/Warsaw")).strftime("%H:%M")
    assert answer["status"] == "already" and expected in answer["message"]
    assert "już" in answer["message"]


def test_the_unique_index_refuses_a_second_live_check_in_of_one_scope(db, scene):
    event, workshop, anna, _jan = scene
    from datetime import date

    row = {"event_id": event.id, "registration_id": anna.id, "day": date(2030, 1, 1), "scope": "day:2030-01-01"}
    db.session.add(CheckIn(**row))
    db.session.commit()
    db.session.add(CheckIn(**row))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # An undone check-in no longer blocks a new one; session scopes are separate keys.
    db.session.execute(db.update(CheckIn).values(undone_at=db.func.now()))
    db.session.add(CheckIn(**row))
    db.session.add(CheckIn(**{**row, "scope": f"session:{workshop.id}", "session_id": workshop.id}))
    db.session.commit()


def test_the_answer_shows_only_what_check_in_needs(client, scene, as_organiser):
    event, _workshop, anna, _jan = scene
    as_organiser("staff", events=[event])
    client.get("/language/en")
    answer = _scan(client, event, anna.checkin_code).json
    person = answer["person"]
    assert person["name"] == "Anna Ząbek" and person["organisation"] == "Urząd Miasta Łodzi"
    assert person["category"] and person["bookings"][0]["session"] == "Workshop"
    body = str(answer)
    assert "anna.zabek@example.com" not in body and "600 100 200" not in body


def test_search_by_name_shows_no_email_or_phone_and_checks_in_by_form(client, db, scene, as_organiser):
    event, _workshop, anna, jan = scene
    as_organiser("staff", events=[event])
    client.get("/language/en")
    page = client.get(f"/admin/events/{event.id}/check-in?q=zabek")
    assert page.status_code == 200
    assert "Anna Ząbek" in page.text and "Urząd Miasta Łodzi" in page.text and "Jan Lis" not in page.text
    assert "anna.zabek@example.com" not in page.text and "600 100 200" not in page.text
    assert anna.checkin_code not in page.text
    # Without the script: a plain form post, answered with a flash and a redirect.
    response = client.post(
        f"/admin/events/{event.id}/check-in",
        data={"registration_id": anna.id, "scope": "event", "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 302
    assert "Anna Ząbek checked in." in client.get(response.headers["Location"]).text
    assert len(_live(db, anna.id)) == 1 and not _live(db, jan.id)
    assert client.get(f"/admin/events/{event.id}/check-in?q=%25").status_code == 200


def test_session_and_group_check_in_need_a_confirmed_place_there(client, db, scene, as_organiser, make_session):
    event, workshop, anna, jan = scene
    other = make_session(event, start_hour=14, title_en="Afternoon")
    as_organiser("staff", events=[event])
    client.get("/language/en")
    anna_group = next(b.group for b in anna.bookings)
    jan_group = next(b.group for b in jan.bookings)
    answer = _scan(client, event, anna.checkin_code, scope=f"session:{other.id}").json
    assert answer["status"] == "no_place" and "Afternoon" in answer["message"]
    answer = _scan(client, event, anna.checkin_code, scope=f"group:{jan_group.id}").json
    assert answer["status"] == "no_place" and anna_group.name in answer["message"]
    answer = _scan(client, event, anna.checkin_code, scope=f"group:{anna_group.id}").json
    assert answer["status"] == "ok" and "Workshop" in answer["message"]
    # The session check-in also marks the arrival; scanning at the session again is "already".
    assert {row.scope.split(":")[0] for row in _live(db, anna.id)} == {"day", "session"}
    assert _scan(client, event, anna.checkin_code, scope=f"session:{workshop.id}").json["status"] == "already"
    assert _scan(client, event, anna.checkin_code).json["status"] == "already"


def test_a_code_of_another_event_is_not_found(client, db, scene, make_event, make_session, register, as_organiser):
    event, _workshop, _anna, _jan = scene
    elsewhere = make_event()
    stranger = register(elsewhere, make_session(elsewhere), email="stranger@example.com")
    as_organiser("admin")
    client.get("/language/en")
    answer = _scan(client, event, stranger.checkin_code).json
    assert answer == {"status": "not_found", "message": "No registration with this code at this event."}
    answer = _scan(client, event, "", registration_id=str(stranger.id)).json
    assert answer["status"] == "not_found"
    assert not _live(db, stranger.id)


def test_a_cancelled_registration_is_not_checked_in(client, db, scene, as_organiser):
    event, _workshop, anna, _jan = scene
    registration_services.cancel_registration(anna)
    as_organiser("staff", events=[event])
    client.get("/language/en")
    assert _scan(client, event, anna.checkin_code).json["status"] == "cancelled"
    assert not _live(db, anna.id)


@pytest.mark.parametrize("code", ["", "   ", "x" * 1000, "Zażółć gęślą 🎉", "' OR 1=1 --", "%", "AB\x00CD", "<script>"])
@pytest.mark.parametrize("scope", ["event", "session:abc", "session:999999999999", "group:0", "", "🎉" * 50])
def test_junk_input_gets_an_answer_not_a_500(client, scene, as_organiser, code, scope):
    event, *_ = scene
    as_organiser("staff", events=[event])
    response = _scan(client, event, code, scope=scope, registration_id="x" * 30)
    if "\x00" in code:
        assert response.status_code == 400  # NUL is refused for every request (app.security)
        return
    assert response.status_code == 200
    assert response.json["status"] in {"empty", "not_found", "bad_scope"}


def test_junk_page_arguments_render(client, scene, as_organiser):
    event, *_ = scene
    as_organiser("staff", events=[event])
    for query in ("?scope=junk", "?q=" + "ą" * 1000, "?q=%25_%5C", "?scope=group:99999999999999"):
        assert client.get(f"/admin/events/{event.id}/check-in{query}").status_code == 200


def test_undo_is_for_organisers_and_audited_staff_get_403(app, client, db, scene, make_organiser):
    event, _workshop, anna, _jan = scene
    staff, organiser = make_organiser("staff", events=[event]), make_organiser("organiser", events=[event])
    login(client, staff)
    assert _scan(client, event, anna.checkin_code).json["status"] == "ok"
    [row] = _live(db, anna.id)
    page = client.get(f"/admin/events/{event.id}/check-in")
    assert "/undo" not in page.text
    response = client.post(
        f"/admin/events/{event.id}/check-in/{row.id}/undo", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 403 and len(_live(db, anna.id)) == 1

    other = app.test_client()
    login(other, organiser)
    page = other.get(f"/admin/events/{event.id}/check-in")
    assert f"/check-in/{row.id}/undo" in page.text
    response = other.post(
        f"/admin/events/{event.id}/check-in/{row.id}/undo", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302 and not _live(db, anna.id)
    entry = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "checkin.undone")).scalar_one()
    assert entry.registration_id == anna.id and entry.actor_id == organiser.id
    # Undone: the next scan checks in again; undoing twice is a message, not an error.
    assert _scan(client, event, anna.checkin_code).json["status"] == "ok"
    response = other.post(
        f"/admin/events/{event.id}/check-in/{row.id}/undo", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302


def test_staff_of_another_event_get_404(client, scene, make_event, as_organiser):
    event, _workshop, anna, _jan = scene
    as_organiser("staff", events=[make_event()])
    page = client.get("/admin/")
    assert client.get(f"/admin/events/{event.id}/check-in").status_code == 404
    assert client.get(f"/admin/events/{event.id}/attendance.json").status_code == 404
    response = client.post(
        f"/admin/events/{event.id}/check-in",
        data={"code": anna.checkin_code, "csrf_token": csrf_token(page.text)},
        headers=JSON,
    )
    assert response.status_code == 404
    assert (
        client.post(f"/admin/events/{event.id}/check-in/1/undo", data={"csrf_token": csrf_token(page.text)}).status_code
        == 404
    )


def test_anonymous_visitors_are_sent_to_login_and_posts_need_csrf(client, scene, as_organiser):
    event, _workshop, anna, _jan = scene
    response = client.get(f"/admin/events/{event.id}/check-in")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    as_organiser("staff", events=[event])
    response = client.post(f"/admin/events/{event.id}/check-in", data={"code": anna.checkin_code}, headers=JSON)
    assert response.status_code == 400


def test_staff_see_the_check_in_link_but_not_registration_details(client, scene, as_organiser):
    event, *_ = scene
    as_organiser("staff", events=[event])
    index = client.get("/admin/")
    assert f"/admin/events/{event.id}/check-in" in index.text


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = response.data.decode("utf-8")[1:]
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_exports_have_an_attended_column(client, db, scene, as_organiser, make_session, register):
    event, workshop, anna, jan = scene
    plenary = make_session(event, start_hour=16, title_en="Plenary", capacity=None)
    register(event, plenary, first_name="Ewa", last_name="Sowa", email="ewa@example.com")
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    _scan(client, event, anna.checkin_code)

    by_name = {row["Last name"]: row for row in _csv(client.get(f"/admin/events/{event.id}/export.csv"))}
    assert (
        by_name["Ząbek"]["Attended"] == "Yes" and by_name["Lis"]["Attended"] == "" and by_name["Sowa"]["Attended"] == ""
    )
    assert list(by_name["Ząbek"])[-2:] == ["Attended", "Registered at"]

    # Nobody scanned at the workshop's door yet: its list falls back to arrivals.
    session_list = {
        row["Last name"]: row for row in _csv(client.get(f"/admin/events/{event.id}/export.csv?session={workshop.id}"))
    }
    assert session_list["Ząbek"]["Attended"] == "Yes" and session_list["Lis"]["Attended"] == ""
    # Once the door is scanned, only people scanned there count.
    _scan(client, event, jan.checkin_code, scope=f"session:{workshop.id}")
    session_list = {
        row["Last name"]: row for row in _csv(client.get(f"/admin/events/{event.id}/export.csv?session={workshop.id}"))
    }
    assert session_list["Ząbek"]["Attended"] == "" and session_list["Lis"]["Attended"] == "Yes"
    assert client.get(f"/admin/events/{event.id}/export.xlsx").status_code == 200


def test_dashboard_and_json_show_present_over_confirmed(client, db, scene, as_organiser):
    event, workshop, anna, jan = scene
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    _scan(client, event, anna.checkin_code)
    figures = client.get(f"/admin/events/{event.id}/attendance.json").json
    group = next(b.group_id for b in anna.bookings)
    assert figures["present"] == 1 and figures["registered"] == 2
    assert figures["sessions"] == {str(workshop.id): 1} and figures["groups"] == {str(group): 1}
    _scan(client, event, jan.checkin_code, scope=f"session:{workshop.id}")
    figures = client.get(f"/admin/events/{event.id}/attendance.json").json
    assert figures["present"] == 2 and figures["sessions"] == {str(workshop.id): 1}  # the door count now

    page = client.get(f"/admin/events/{event.id}/dashboard")
    assert page.status_code == 200
    assert re.search(r"data-present>2</strong> / <span data-registered>2<", page.text)
    assert re.search(rf'data-session="{workshop.id}">1</span> / 2', page.text)


def test_the_script_is_a_static_file_and_the_csp_stays_strict(client, scene, as_organiser):
    event, *_ = scene
    as_organiser("staff", events=[event])
    page = client.get(f"/admin/events/{event.id}/check-in")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert '<script src="/static/js/checkin.js" defer></script>' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "inline script"
    assert 'name="csrf_token"' in page.text
    for path in ("/static/js/checkin.js", "/static/js/vendor/jsQR.js"):
        response = client.get(path)
        assert response.status_code == 200 and "javascript" in response.content_type
        assert "Content-Security-Policy" in response.headers
        response.close()


def test_the_confirmation_email_carries_the_check_in_code(app, db, scene, outbox):
    _event, _workshop, anna, _jan = scene
    message = outbox.messages(kind="registration_received", to="anna.zabek@example.com")[0]
    assert anna.checkin_code in message.body_text and "Pokaż ten kod przy wejściu." in message.body_text
    assert f">{anna.checkin_code}</strong>" in message.body_html
