"""Public JSON API of events and availability (no personal data)."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify

from .events.services import EventNotFound, event_summary, get_public_event, list_public_events
from .registration.availability import event_availability

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.route("/events")
def events():  # type: ignore[no-untyped-def]
    """List public events."""
    upcoming, past = list_public_events()
    everything = upcoming + [e for events in past.values() for e in events]
    return jsonify({"events": [event_summary(e) for e in everything]})


@bp.route("/events/<slug>")
def event(slug: str):  # type: ignore[no-untyped-def]
    """Return one event with per-session and per-group availability."""
    try:
        found = get_public_event(slug)
    except EventNotFound:
        abort(404)
    return jsonify(event_availability(found))
