"""Unnamed groups read "Grupa N" in Polish and "Group N" in English everywhere (issue 18, point 5)."""

from __future__ import annotations

import csv
import io

from app.events.models import Group
from tests.conftest import submit


def _unnamed_workshop(db, make_event, make_session):  # type: ignore[no-untyped-def]
    """Return an event whose workshop has groups: unnamed, named "Stolik Agora", unnamed."""
    event = make_event()
    session = make_session(event, groups=[2, 2, 2])
    first, second, third = session.groups
    first.name, second.name, third.name = "", "Stolik Agora", ""
    db.session.commit()
    return event, session


def test_the_event_page_numbers_unnamed_groups_in_the_readers_language(client, db, make_event, make_session):
    event, _session = _unnamed_workshop(db, make_event, make_session)
    polish = client.get(f"/events/{event.slug}/").text
    assert "Grupa 1" in polish and "Grupa 3" in polish and "Stolik Agora" in polish
    assert "Group 1" not in polish
    english = client.get(f"/events/{event.slug}/?lang=en").text
    assert "Group 1" in english and "Group 3" in english and "Stolik Agora" in english
    assert "Grupa 1" not in english


def test_the_confirmation_email_names_the_group_in_the_participants_language(
    db, make_event, make_session, register, outbox
):
    event, session = _unnamed_workshop(db, make_event, make_session)
    register(event, session, language="en")
    register(event, session, language="pl")
    english, polish = outbox.messages(kind="registration_received")
    # The first two places go to the emptiest groups, in order: group 1, then the named one.
    assert "Group: Group 1" in english.body_text and "Grupa" not in english.body_text
    assert "Grupa: Stolik Agora" in polish.body_text


def test_exports_and_admin_pages_use_the_same_numbering(client, db, make_event, make_session, register, as_organiser):
    event, session = _unnamed_workshop(db, make_event, make_session)
    for _ in range(3):
        register(event, session)
    as_organiser("organiser", events=[event])
    text = client.get(f"/admin/events/{event.id}/export.csv?session={session.id}").data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    column = rows[0].index("Grupa")
    assert sorted(row[column] for row in rows[1:]) == ["Grupa 1", "Grupa 3", "Stolik Agora"]
    sessions_page = client.get(f"/admin/events/{event.id}/sessions/").text
    assert "Grupa 1" in sessions_page and "Grupa 3" in sessions_page


def test_an_organiser_may_leave_the_group_name_empty(client, db, make_event, make_session, as_organiser):
    event = make_event()
    session = make_session(event, groups=[3])
    as_organiser("organiser", events=[event])
    response = submit(
        client, f"/admin/events/{event.id}/sessions/{session.id}/groups/new", {"name": "", "capacity": "4"}
    )
    assert response.status_code in (302, 303)
    db.session.expire_all()
    added = db.session.get(Group, session.groups[-1].id)
    assert (added.name, added.capacity) == ("", 4)
    assert added.label == "Grupa 2"
