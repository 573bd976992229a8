"""Public JSON API of events and availability (no personal data), described at /api/openapi.json.

``/api/v1/…`` are the documented paths. The first, unversioned paths
(``/api/events``, ``/api/events/<slug>``) answer the same, with a
``Deprecation`` header and a ``Link`` to their ``/api/v1`` successor. Every
error under ``/api/`` is a JSON problem (app.errors). Answers carry an
``ETag`` and ``Last-Modified`` and honour ``If-None-Match`` and
``If-Modified-Since`` with a 304.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for
from flask_babel import gettext

from .api_spec import openapi_document
from .db import utcnow
from .errors import MESSAGES, problem
from .events.changes import public_changed_at
from .events.models import Series
from .events.services import EventNotFound, event_summary, get_public_event, list_public_events
from .extensions import db
from .pagecache import conditional
from .registration.availability import event_availability

bp = Blueprint("api", __name__, url_prefix="/api")

# RFC 9745: the unversioned paths are deprecated since the day /api/v1 came (2026-12-05).
DEPRECATED_SINCE = "@1796428800"
WHEN_VALUES = ("all", "upcoming", "past")


class InvalidParameter(Exception):
    """A query parameter has a value the API does not accept (answered with a 422)."""

    def __init__(self, name: str, message: str) -> None:
        self.name, self.message = name, message
        super().__init__(message)


@bp.errorhandler(InvalidParameter)
def invalid_parameter(error: InvalidParameter):  # type: ignore[no-untyped-def]
    """Answer a bad query parameter with a 422 problem naming it."""
    return problem(
        422,
        gettext("Invalid parameter"),
        error.message,
        errors=[{"parameter": error.name, "detail": error.message}],
    )


@bp.route("/v1/events")
def events() -> Response:
    """List public events, optionally of one series and only upcoming or past ones."""
    when = request.args.get("when", "all")
    if when not in WHEN_VALUES:
        raise InvalidParameter("when", gettext("Use one of: %(values)s.", values=", ".join(WHEN_VALUES)))
    series_slug = request.args.get("series")
    if (
        series_slug is not None
        and db.session.execute(db.select(Series.id).where(Series.slug == series_slug)).scalar() is None
    ):
        raise InvalidParameter("series", gettext("There is no series with this identifier."))
    now = utcnow()
    upcoming, past = list_public_events(now)
    chosen = (upcoming if when != "past" else []) + (
        [e for events in past.values() for e in events] if when != "upcoming" else []
    )
    if series_slug is not None:
        chosen = [e for e in chosen if e.series.slug == series_slug]
    response = jsonify({"events": [event_summary(e) for e in chosen]})
    # Every event counts: one that ends or is unpublished changes a filtered list too.
    everything = upcoming + [e for es in past.values() for e in es]
    return conditional(response, public_changed_at(everything, now, with_availability=False, any_event_edit=True))


@bp.route("/v1/events/<slug>")
def event(slug: str) -> Response:
    """Return one event with per-session and per-group availability."""
    try:
        found = get_public_event(slug)
    except EventNotFound:
        title, _message = MESSAGES[404]
        return problem(404, title, gettext("There is no public event with this identifier."))[0]
    return conditional(jsonify(event_availability(found)), public_changed_at([found], utcnow()))


@bp.route("/v1/openapi.json")
@bp.route("/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@bp.route("/events")
def events_unversioned() -> Response:
    """Answer as /api/v1/events, marked deprecated (the first, unversioned path)."""
    return _deprecated(events(), url_for(".events"))


@bp.route("/events/<slug>")
def event_unversioned(slug: str) -> Response:
    """Answer as /api/v1/events/<slug>, marked deprecated (the first, unversioned path)."""
    return _deprecated(event(slug), url_for(".event", slug=slug))


def _deprecated(response: Response, successor: str) -> Response:
    """Mark an answer of an unversioned path deprecated (RFC 9745) and link its successor."""
    response.headers["Deprecation"] = DEPRECATED_SINCE
    response.headers["Link"] = f'<{successor}>; rel="successor-version"'
    return response
