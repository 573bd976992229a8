"""Public availability of an event's places: confirmed, held, waiting and left, per session and group."""

from __future__ import annotations

from ..events.models import Event
from ..events.services import event_summary, waitlist_counts
from .holds import held_counts


def event_availability(event: Event) -> dict:
    """Return public availability of the event's sessions and groups (no personal data)."""
    waiting = waitlist_counts(event.id)
    held_by_session, held_by_group = held_counts(event.id)
    sessions = []
    for session in event.sessions:
        sessions.append(
            {
                "id": session.id,
                "kind": session.kind.value,
                "title": {"pl": session.title_pl, "en": session.title_en or session.title_pl},
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
                "room": session.room,
                "booking_mode": session.booking_mode.value,
                "eligible_categories": list(session.eligible_categories or []),
                "capacity": session.capacity,
                # Places held for registrations awaiting email confirmation count in
                # "places_left" like confirmed ones, but are shown apart.
                "confirmed": session.taken - held_by_session.get(session.id, 0),
                "held": held_by_session.get(session.id, 0),
                "waitlisted": waiting.get(session.id, 0),
                "places_left": session.places_left,
                "groups": [
                    {
                        "id": group.id,
                        "name": group.label,
                        "room": group.room,
                        "capacity": group.capacity,
                        "confirmed": group.taken - held_by_group.get(group.id, 0),
                        "held": held_by_group.get(group.id, 0),
                        "places_left": group.places_left,
                    }
                    for group in session.groups
                ],
            }
        )
    return {**event_summary(event), "sessions": sessions}
