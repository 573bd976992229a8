"""Public pages of the programme: the list of events and an event's page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext

from ..db import utcnow
from ..i18n import current_language
from ..pagecache import cached_page, conditional
from ..registration.calendar import programme_ics
from ..security import safe_next
from .changes import public_changed_at
from .models import Event
from .services import (
    EventNotFound,
    SeriesNotFound,
    get_public_event,
    get_public_event_row,
    get_public_series,
    list_public_events,
    partners_by_kind,
    public_programme,
)

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


@bp.route("/events/<slug>/programme.ics")
def programme_feed(slug: str) -> Response:
    """Return the event's public programme as a calendar feed (one entry per session)."""
    try:
        event = get_public_event(slug)
    except EventNotFound:
        abort(404)
    return _feed([event], gettext("Programme: %(title)s", title=event.title), slug, any_event_edit=False)


@bp.route("/series/<slug>/programme.ics")
def series_feed(slug: str) -> Response:
    """Return the programmes of every public event of a series as one calendar feed."""
    try:
        series, events = get_public_series(slug)
    except SeriesNotFound:
        abort(404)
    return _feed(events, series.name, slug, any_event_edit=True)


def _feed(events: list[Event], name: str, filename: str, any_event_edit: bool) -> Response:
    """Answer a programme feed with its validators (a calendar app asking again gets a 304)."""
    base_url = current_app.config["BASE_URL"].rstrip("/")
    changed_at = public_changed_at(events, utcnow(), with_availability=False, any_event_edit=any_event_edit)
    body = programme_ics(
        events,
        name,
        current_language(),
        urlsplit(base_url).hostname or "zapisy",
        changed_at,
        lambda event: base_url + url_for("events.event", slug=event.slug),
    )
    response = Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'inline; filename="{filename}.ics"'},
    )
    return conditional(response, changed_at)
