"""Every action the audit log records has a name in both languages, and details are shown in words."""

from __future__ import annotations

import re
from pathlib import Path

from app.labels import AUDIT_ACTION_LABELS, audit_details

APP = Path(__file__).resolve().parent.parent / "app"


def _recorded_actions() -> set[str]:
    """Return the action names the code records (f-strings expanded by hand below)."""
    found = set()
    for path in APP.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'\brecord\(\s*"([^"]+)"', text))
        found |= set(re.findall(r'AuditEntry\([^)]*action="([a-z_.]+)"', text))
        found |= set(re.findall(r'"(registration\.marketing_consent_\w+)"', text))
    return found | {
        "event.publish",
        "event.close",
        "event.reopen",
        "session.counter_repaired",
        "group.counter_repaired",
    }


def test_every_recorded_action_has_a_label():
    actions = _recorded_actions()
    assert len(actions) > 40
    assert sorted(actions - set(AUDIT_ACTION_LABELS)) == []


def test_details_are_named_and_row_ids_left_out():
    details = {"booking_id": 49, "from_group_id": 3, "to_group_id": 4, "fields": ["city", "venue"], "override": True}
    names = {"group:3": "Warsztat — Grupa 1", "group:4": "Warsztat — Grupa 2"}
    shown = dict(audit_details(details, names))
    assert shown == {
        "from group": "Warsztat — Grupa 1",
        "to group": "Warsztat — Grupa 2",
        "fields": "city, venue",
        "override": "✓",
    }


def test_the_registration_history_and_the_dashboard_speak_polish(
    client, db, make_event, make_session, register, as_organiser
):
    from app.registration import admin_services

    event = make_event()
    session = make_session(event, groups=[2, 2])
    registration = register(event, session)
    booking = registration.bookings[0]
    other = next(g for g in session.groups if g.id != booking.group_id)
    admin_services.move_to_group(event.id, registration.id, booking.id, other.id)
    as_organiser("organiser", events=[event])
    history = client.get(f"/admin/events/{event.id}/registrations/{registration.id}").text
    assert "Przeniesienie do innej grupy" in history and "registration.group_moved" not in history
    assert "booking_id" not in history and f"{session.title} — {other.name}" in history
    dashboard = client.get(f"/admin/events/{event.id}/dashboard").text
    assert "Przeniesienie do innej grupy" in dashboard and "registration.group_moved" not in dashboard
