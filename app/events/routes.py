"""Public pages of the programme: the list of events and an event's page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session

from ..db import utcnow
from ..pagecache import cached_page
from ..security import safe_next
from .services import EventNotFound, get_public_event_row, list_public_events, partners_by_kind, public_programme

bp = Blueprint("events", __name__)


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    """List upcoming events and past editions by series."""
    upcoming, past = list_public_events()
    return render_template("events/index.html", upcoming=upcoming, past=past, now=utcnow())


@bp.route("/events/<slug>/")
def event(slug: str):  # type: ignore[no-untyped-def]
    """Show an event's programme by day, with places left (kept for EVENT_PAGE_CACHE_SECONDS)."""

    def render() -> str:
        try:
            event = get_public_event_row(slug)
        except EventNotFound:
            abort(404)
        programme = public_programme(event)
        return render_template(
            "events/event.html",
            event=event,
            days=programme.days,
            waiting=programme.waiting,
            speakers=programme.speakers,
            partners=partners_by_kind(event),
            is_open=event.is_registration_open(utcnow()),
        )

    return cached_page("event", slug, float(current_app.config.get("EVENT_PAGE_CACHE_SECONDS", 0)), render)


@bp.route("/privacy")
def privacy():  # type: ignore[no-untyped-def]
    """Show the privacy notice."""
    return render_template("events/privacy.html")


@bp.route("/language/<code>")
def set_language(code: str):  # type: ignore[no-untyped-def]
    """Remember the chosen language and go back to a local page."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
