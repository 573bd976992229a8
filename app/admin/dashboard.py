"""Dashboards of events and series, and bulk email."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ..audit.services import entries
from ..auth.models import Role
from ..events import stats
from ..events.models import Series
from ..extensions import db
from ..labels import category_label
from .access import event_or_404, protect

bp = protect(Blueprint("admin_dashboard", __name__, url_prefix="/admin"))


@bp.route("/events/<int:event_id>/dashboard")
def event_dashboard(event_id: int):  # type: ignore[no-untyped-def]
    """Show the fill of every session and group, registrations per day and the mix of people."""
    event = event_or_404(event_id)
    per_day = stats.registrations_per_day(event)
    chart = Markup(stats.bar_chart_svg(  # noqa: S704 - built from escaped parts only
        [(day.isoformat(), n) for day, n in per_day], title=_("Registrations per day")
    ))
    return render_template(
        "admin/dashboard/event.html",
        event=event,
        fill=stats.session_fill(event),
        chart=chart,
        total=sum(n for _day, n in per_day),
        by_category=[(category_label(value), n) for value, n in stats.counts_by(event, "category")],
        by_city=stats.counts_by(event, "city"),
        audit=entries(event_id=event.id, limit=30),
    )


@bp.route("/series/<int:series_id>/overview")
def series_dashboard(series_id: int):  # type: ignore[no-untyped-def]
    """Show a series' meetings by city and year, with participants and workshop places."""
    series = db.session.get(Series, series_id)
    if series is None:
        abort(404)
    rows = stats.series_overview(series)
    if current_user.role != Role.ADMIN:
        visible = {e.id for e in current_user.events}
        if not any(row.event.id in visible for row in rows):
            abort(404)
        rows = [row for row in rows if row.event.id in visible]
    by_year: dict[int, list[stats.SeriesRow]] = {}
    for row in rows:
        by_year.setdefault(row.event.starts_at.year, []).append(row)
    return render_template(
        "admin/dashboard/series.html",
        series=series,
        by_year=sorted(by_year.items()),
        cities=sorted({row.event.city for row in rows}),
        participants=sum(row.participants for row in rows),
        workshop_places=sum(row.workshop_places for row in rows),
        returns=stats.series_returns([row.event for row in rows]),
    )
