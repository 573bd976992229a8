"""CSV and XLSX exports, sign-in sheets and badges: right people, inert cells, Polish order, access."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.exports.cells import neutralise_for_csv
from app.exports.collation import sorted_by_name
from app.registration import services

OWASP = [
    "=1+2",
    "+1+2",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    '=HYPERLINK("http://evil","x")',
    "=cmd|' /C calc'!A0",
]


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Parse a CSV download (BOM, semicolons)."""
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


@pytest.fixture
def scene(make_event, make_session, register):  # type: ignore[no-untyped-def]
    """An event with a workshop of two groups (one place each) and a restricted round table."""
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[1, 1], title_pl="Warsztat")
    table = make_session(event, start_hour=12, capacity=5, eligible_categories=["mayor"], title_pl="Stół")
    people = {
        "zabek": register(event, workshop, table, last_name="Ząbek", first_name="Ewa"),
        "lis": register(event, workshop, last_name="Lis", first_name="Jan"),
        "sowa": register(event, workshop, table, last_name="Sowa", first_name="Ola", category="business"),
        "lukasz": register(event, table, last_name="Łukaszewicz", first_name="Piotr"),
        "gone": register(event, table, last_name="Śliwa", first_name="Anna"),
    }
    services.cancel_registration(people["gone"])
    return event, workshop, table, people


def _names(rows: list[list[str]]) -> list[str]:
    """Return the last names of data rows."""
    return [row[0] for row in rows[1:]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"Ząbek", "Lis", "Sowa", "Łukaszewicz", "Śliwa"}),
        ("?status=cancelled", {"Śliwa"}),
        ("?status=requested", {"Sowa"}),
        ("?status=waitlisted", {"Sowa"}),
        ("?status=confirmed", {"Ząbek", "Lis", "Łukaszewicz"}),
        ("?session={workshop}", {"Ząbek", "Lis", "Sowa"}),
        ("?session={workshop}&status=confirmed", {"Ząbek", "Lis"}),
        ("?session={workshop}&status=waitlisted", {"Sowa"}),
        ("?session={table}&status=requested", {"Sowa"}),
        ("?session={table}", {"Ząbek", "Sowa", "Łukaszewicz"}),
        ("?session={table}&status=cancelled", {"Śliwa"}),
        ("?group={group0}", {"Ząbek"}),
        ("?group={group1}", {"Lis"}),
    ],
)
def test_each_filter_returns_exactly_the_right_people(client, scene, as_organiser, query, expected):
    event, workshop, table, _people = scene
    as_organiser("organiser", events=[event])
    url = f"/admin/events/{event.id}/export.csv" + query.format(
        workshop=workshop.id, table=table.id, group0=workshop.groups[0].id, group1=workshop.groups[1].id
    )
    response = client.get(url)
    assert response.status_code == 200
    assert set(_names(_csv(response))) == expected


def test_session_list_has_session_group_and_waiting_position(client, scene, as_organiser):
    event, workshop, _table, _people = scene
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    rows = _csv(client.get(f"/admin/events/{event.id}/export.csv?session={workshop.id}"))
    header = rows[0]
    assert header[:2] == ["Last name", "First name"] and "Waiting-list position" in header
    by_name = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    assert by_name["Sowa"]["Status"] == "Waiting list" and by_name["Sowa"]["Waiting-list position"] == "1"
    assert by_name["Ząbek"]["Group"] in {"Grupa 1", "Grupa 2"} and by_name["Ząbek"]["Session"] == "Warsztat"


def test_csv_headers_response_and_audit(client, scene, as_organiser, db):
    event, *_ = scene
    organiser = as_organiser("organiser", events=[event])
    response = client.get(f"/admin/events/{event.id}/export.csv?delimiter=,")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{event.slug}.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    assert "," in response.data.decode().splitlines()[0] and ";" not in response.data.decode().splitlines()[0]
    db.session.rollback()
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "export")).scalar_one()
    assert entry.actor_id == organiser.id and entry.details["format"] == "csv"


@pytest.mark.parametrize("payload", OWASP)
def test_owasp_injection_examples_come_out_inert_in_csv(
    client, make_event, make_session, register, as_organiser, payload
):
    event = make_event()
    register(
        event, organisation=payload.replace("\r", "").replace("\n", "").replace("\t", "") or "x", last_name="Kowalski"
    )
    assert neutralise_for_csv(payload).startswith("'")
    as_organiser("admin")
    rows = _csv(client.get(f"/admin/events/{event.id}/export.csv"))
    organisation = rows[1][2]
    assert not organisation.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))


def test_xlsx_reads_back_equal_with_no_formula_from_user_data(
    client, make_event, make_session, register, as_organiser, tmp_path
):
    event = make_event()
    session = make_session(event, capacity=10, title_pl="Sesja")
    register(event, session, last_name="=1+2", first_name="@SUM(A1)", organisation="-2+3", city="Łódź\x07")
    register(event, session, last_name="Żółkiewski", first_name="Łukasz", organisation="+48 Urząd")
    as_organiser("admin")
    response = client.get(f"/admin/events/{event.id}/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    path = tmp_path / "list.xlsx"
    path.write_bytes(response.data)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[0] == "Podsumowanie" and len(workbook.sheetnames) == 3  # a Polish export in Polish
    participants = workbook[workbook.sheetnames[-1]]
    assert participants.freeze_panes == "A2"
    rows = list(participants.iter_rows(min_row=2, values_only=True))
    assert [r[:3] for r in rows] == [("=1+2", "@SUM(A1)", "-2+3"), ("Żółkiewski", "Łukasz", "+48 Urząd")]
    assert rows[0][4] == "Łódź"  # the control character was removed, not a crash
    assert rows[0][-1].__class__.__name__ == "datetime"
    summary = list(workbook["Podsumowanie"].iter_rows(min_row=3, values_only=True))
    assert summary[0][0] == "Sesja" and summary[0][3] == 2


def test_polish_sorting_uses_a_real_collation():
    names = ["Żak", "Lis", "Łukasz", "Sowa", "Śliwa", "Zając", "Źrebak", "Adamczyk", "Ącki", "Łaski", "Lyko"]
    assert sorted_by_name(names, lambda n: (n,)) == [
        "Adamczyk",
        "Ącki",
        "Lis",
        "Lyko",
        "Łaski",
        "Łukasz",
        "Sowa",
        "Śliwa",
        "Zając",
        "Źrebak",
        "Żak",
    ]


def test_sign_in_sheet_lists_confirmed_in_polish_order(client, scene, as_organiser):
    event, _workshop, table, _people = scene
    as_organiser("staff", events=[event])
    page = client.get(f"/admin/events/{event.id}/sessions/{table.id}/sign-in")
    assert page.status_code == 200
    text = page.text
    assert "Sowa" not in text  # a request, not confirmed
    assert "Śliwa" not in text  # cancelled
    order = [name for name in ("Łukaszewicz", "Ząbek") if name in text]
    assert order == sorted(order, key=text.index) and text.index("Łukaszewicz") < text.index("Ząbek")
    assert "signature" in text


def test_badges_carry_the_checkin_code_not_the_token(client, scene, as_organiser):
    event, _w, _t, people = scene
    as_organiser("staff", events=[event])
    page = client.get(f"/admin/events/{event.id}/badges")
    assert page.status_code == 200
    assert people["lis"].checkin_code in page.text and "<svg" in page.text
    assert people["gone"].last_name not in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/admin/events/{event}/export.csv",
        "/admin/events/{event}/export.xlsx",
        "/admin/events/{event}/exports",
        "/admin/events/{event}/badges",
        "/admin/events/{event}/sessions/{session}/sign-in",
    ],
)
def test_exports_are_refused_to_anonymous_users_and_other_events(client, make_event, make_session, as_organiser, path):
    event, other = make_event(), make_event()
    session = make_session(event, capacity=3)
    url = path.format(event=event.id, session=session.id)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    as_organiser("organiser", events=[other])
    assert client.get(url).status_code == 404


def test_bad_export_options_get_a_message_not_a_500(client, scene, make_event, make_session, as_organiser):
    event, *_ = scene
    elsewhere = make_session(make_event(), capacity=1)
    as_organiser("admin")
    client.get("/language/en")
    for query in (f"?session={elsewhere.id}", "?status=everything", f"?group={elsewhere.id}"):
        response = client.get(f"/admin/events/{event.id}/export.csv{query}", follow_redirects=True)
        assert response.status_code == 200 and "alert-danger" in response.text
    assert client.get(f"/admin/events/{event.id}/export.csv?session=abc").status_code == 400


def test_cli_export_writes_csv_and_xlsx(runner, scene, tmp_path):
    event, workshop, *_ = scene
    target = tmp_path / "out.csv"
    result = runner.invoke(
        args=["export", event.slug, "--session", str(workshop.id), "--status", "confirmed", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_text("utf-8-sig")), delimiter=";"))
    assert {row[0] for row in rows[1:]} == {"Ząbek", "Lis"}
    xlsx = tmp_path / "out.xlsx"
    assert runner.invoke(args=["export", event.slug, "--format", "xlsx", "-o", str(xlsx)]).exit_code == 0
    assert openpyxl.load_workbook(xlsx).sheetnames[0] == "Podsumowanie"
    bad = runner.invoke(args=["export", "no-such-event"])
    assert bad.exit_code != 0 and "no-such-event" in bad.output
    assert runner.invoke(args=["export", event.slug, "--format", "xlsx"]).exit_code != 0


def test_the_status_filter_is_in_words(client, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    page = client.get(f"/admin/events/{event.id}/exports").text
    assert '<option value="waitlisted">Lista rezerwowa</option>' in page
    assert '<option value="all">Wszystkie statusy</option>' in page
