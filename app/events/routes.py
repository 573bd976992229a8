"""Public pages of the programme: the list of events and an event's page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for

from ..db import utcnow
from .services import EventNotFound, get_public_event, list_public_events, programme_by_day, waitlist_counts

bp = Blueprint("events", __name__)


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    """List upcoming events and past editions by series."""
    upcoming, past = list_public_events()
    return render_template("events/index.html", upcoming=upcoming, past=past, now=utcnow())


@bp.route("/events/<slug>/")
def event(slug: str):  # type: ignore[no-untyped-def]
    """Show an event's programme by day, with places left."""
    try:
        event = get_public_event(slug)
    except EventNotFound:
        abort(404)
    return render_template(
        "events/event.html",
        event=event,
        days=programme_by_day(event),
        waiting=waitlist_counts(event.id),
        is_open=event.is_registration_open(utcnow()),
    )


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


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a local path, else the home page."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("events.index")
