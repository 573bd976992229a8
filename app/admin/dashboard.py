"""Dashboards of events and series, and bulk email."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from ..audit.services import entries
from ..auth.models import Role
from ..auth.services import can_manage_event
from ..events.models import Series
from ..extensions import db
from ..labels import AUDIT_ACTION_LABELS, category_label
from ..notifications.delivery import deliver_after_response
from ..registration.reminders import reminder_overview
from . import stats
from .access import event_or_404, protect
from .bulk import (
    Audience,
    BulkError,
    Letter,
    check_audience,
    describe_audience,
    failed_messages,
    recipients,
    render,
    retry_failed,
    send_bulk,
)
from .forms_bulk import BulkEmailForm

bp = protect(Blueprint("admin_dashboard", __name__, url_prefix="/admin"))


@bp.route("/events/<int:event_id>/dashboard")
def event_dashboard(event_id: int):  # type: ignore[no-untyped-def]
    """Show the fill of every session and group, registrations per day and the mix of people."""
    event = event_or_404(event_id)
    per_day = stats.registrations_per_day(event)
    chart = Markup(
        stats.bar_chart_svg(  # noqa: S704 - built from escaped parts only
            [(day.isoformat(), n) for day, n in per_day], title=_("Registrations per day")
        )
    )
    return render_template(
        "admin/dashboard/event.html",
        event=event,
        fill=stats.session_fill(event),
        chart=chart,
        total=sum(n for _day, n in per_day),
        per_day=[(day, n) for day, n in per_day if n],
        by_category=[(category_label(value), n) for value, n in stats.counts_by(event, "category")],
        by_city=stats.counts_by(event, "city"),
        audit=entries(event_id=event.id, limit=30),
        audit_labels=AUDIT_ACTION_LABELS,
        # Undelivered emails name their recipients: not for staff.
        failed=failed_messages(event.id) if current_user.role.sees_personal_data else None,
        reminders=reminder_overview(event),
        can_manage=can_manage_event(current_user, event.id),
    )


@bp.route("/events/<int:event_id>/outbox/<int:message_id>/retry", methods=["POST"])
def retry_email(event_id: int, message_id: int):  # type: ignore[no-untyped-def]
    """Put a failed email back in the queue."""
    event = event_or_404(event_id, manage=True)
    if retry_failed(event.id, message_id):
        flash(_("The email is queued again."), "success")
    else:
        flash(_("This email is not waiting for a retry."), "info")
    return deliver_after_response(redirect(url_for(".event_dashboard", event_id=event.id), code=303))


@bp.route("/events/<int:event_id>/bulk-email", methods=["GET", "POST"])
def bulk_email(event_id: int):  # type: ignore[no-untyped-def]
    """Write to the confirmed or waiting participants of the event, a session or a group: preview, then send."""
    event = event_or_404(event_id, manage=True)
    form = BulkEmailForm()
    form.session_id.choices = [SelectChoice("", _("Whole event"))] + [
        SelectChoice(s.id, s.title) for s in event.sessions
    ]
    form.group_id.choices = [SelectChoice("", _("All groups"))] + [
        SelectChoice(g.id, f"{s.title} — {g.label}") for s in event.sessions for g in s.groups
    ]
    preview = None
    if form.validate_on_submit():
        audience = Audience(event.id, form.status.data, form.session_id.data, form.group_id.data)
        letter = Letter(
            form.subject_pl.data,
            form.body_pl.data,
            form.subject_en.data or "",
            form.body_en.data or "",
            has_greeting=bool(form.has_greeting.data),
        )
        try:
            audience = check_audience(event, audience)
            # Send only what was previewed: the same audience, still the count shown.
            key = f"{audience.status}:{audience.session_id}:{audience.group_id}"
            seen_key, _sep, seen_count = (form.previewed.data or "").rpartition(":")
            if form.send.data and seen_key == key and seen_count.isdigit():
                count = send_bulk(event, audience, letter, expected=int(seen_count))
                flash(
                    ngettext(
                        "The message is queued for %(num)d participant.",
                        "The message is queued for %(num)d participants.",
                        count,
                    ),
                    "success",
                )
                return deliver_after_response(redirect(url_for(".event_dashboard", event_id=event.id), code=303))
            if form.send.data:
                form.form_errors.append(_("Check the recipients in the preview before sending."))
        except BulkError as error:
            form.form_errors.append(error.message)
        preview = _bulk_preview(event, audience, letter, form)
    return render_template("admin/dashboard/bulk_email.html", event=event, form=form, preview=preview)


def _bulk_preview(event, audience: Audience, letter: Letter, form: BulkEmailForm) -> dict | None:  # type: ignore[no-untyped-def]
    """Return who a bulk email reaches (in words, by name, how many) and a sample per language; None for a bad audience."""
    try:
        audience = check_audience(event, audience)
    except BulkError:
        return None
    people = recipients(audience)
    samples = {}
    for person in people:
        samples.setdefault(person.language, render(event, person, letter))
    form.previewed.data = f"{audience.status}:{audience.session_id}:{audience.group_id}:{len(people)}"
    return {
        "count": len(people),
        "samples": samples,
        "who": describe_audience(audience),
        "names": [person.full_name for person in people],
    }


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
