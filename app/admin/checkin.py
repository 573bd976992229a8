"""Check-in at the venue: scan badges or search by name, mark people present, undo."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.services import can_manage_event
from ..checkin import services
from ..checkin.services import CheckInError
from ..labels import BOOKING_STATUS_LABELS, category_label
from ..registration.models import Registration
from . import stats
from .access import event_or_404, protect

bp = protect(Blueprint("admin_checkin", __name__, url_prefix="/admin"))


def _wants_json() -> bool:
    """Tell whether the page's script (fetch) asked, rather than a plain form."""
    return request.accept_mimetypes.best == "application/json"


def _person(registration: Registration) -> dict[str, Any]:
    """Return what check-in needs to know of a participant (no email or phone)."""
    return {
        "name": registration.full_name,
        "organisation": registration.organisation,
        "category": category_label(registration.category),
        "bookings": [
            {
                "session": booking.session.title,
                "group": booking.group.label if booking.group else "",
                "status": str(BOOKING_STATUS_LABELS[booking.status]),
            }
            for booking in registration.live_bookings
        ],
    }


def _answer(
    status: str, message: str, category: str, event_id: int, scope: str, registration: Registration | None = None
):  # type: ignore[no-untyped-def]
    """Answer the script with JSON, or a plain form with a flash and a redirect."""
    if _wants_json():
        body: dict[str, Any] = {"status": status, "message": message}
        if registration is not None:
            body["person"] = _person(registration)
        return jsonify(body)
    flash(message, category)
    return redirect(url_for(".page", event_id=event_id, scope=scope))


@bp.route("/events/<int:event_id>/check-in")
def page(event_id: int):  # type: ignore[no-untyped-def]
    """Show the scanner, the name search and the latest check-ins."""
    event = event_or_404(event_id)
    try:
        scope = services.parse_scope(event, request.args.get("scope"))
    except CheckInError:
        scope = services.Scope()
    query = request.args.get("q", "")[:200]
    people = services.search(event, query) if query.strip() else []
    return render_template(
        "admin/checkin/page.html",
        event=event,
        scope=scope,
        choices=services.scope_choices(event),
        query=query,
        people=people,
        checked=services.live_check_ins([p.id for p in people]),
        recent=services.recent(event),
        can_undo=can_manage_event(current_user, event.id),
    )


@bp.route("/events/<int:event_id>/check-in", methods=["POST"])
def check_in(event_id: int):  # type: ignore[no-untyped-def]
    """Mark the person with the posted code (or registration id) present."""
    event = event_or_404(event_id)
    scope_value = request.form.get("scope", "event")[:40]
    registration_id = request.form.get("registration_id", "").strip()
    try:
        scope = services.parse_scope(event, scope_value)
        result = services.check_in(
            event,
            scope,
            code=request.form.get("code", "")[:200],
            registration_id=int(registration_id) if registration_id.isdigit() and len(registration_id) < 10 else None,
            actor=current_user._get_current_object(),
        )
    except CheckInError as error:
        return _answer(error.status, str(error.message), "warning", event.id, scope_value)
    name = result.registration.full_name
    if result.is_new:
        if scope.session is not None:
            message = _("%(name)s checked in for %(session)s.", name=name, session=scope.session.title)
        else:
            message = _("%(name)s checked in.", name=name)
        return _answer("ok", message, "success", event.id, scope.key, result.registration)
    message = _(
        "%(name)s is already checked in at %(time)s.",
        name=name,
        time=format_time(result.check_in.checked_in_at, "HH:mm"),
    )
    return _answer("already", message, "info", event.id, scope.key, result.registration)


@bp.route("/events/<int:event_id>/check-in/<int:check_in_id>/undo", methods=["POST"])
def undo(event_id: int, check_in_id: int):  # type: ignore[no-untyped-def]
    """Undo a check-in (organisers and admins only)."""
    event = event_or_404(event_id, manage=True)
    try:
        services.undo_check_in(event, check_in_id, actor=current_user._get_current_object())
    except CheckInError as error:
        flash(str(error.message), "warning")
    else:
        flash(_("Check-in undone."), "success")
    return redirect(url_for(".page", event_id=event.id, scope=request.form.get("scope", "event")[:40]))


@bp.route("/events/<int:event_id>/attendance.json")
def attendance(event_id: int):  # type: ignore[no-untyped-def]
    """Return present and confirmed counts of the event, its sessions and groups (polled by the dashboard)."""
    event = event_or_404(event_id)
    figures = stats.attendance(event)
    return jsonify(
        present=figures.present,
        registered=figures.registered,
        sessions={str(k): v for k, v in figures.sessions.items()},
        groups={str(k): v for k, v in figures.groups.items()},
    )


@bp.app_template_global()
def event_attendance(event):  # type: ignore[no-untyped-def]
    """Return the attendance figures of an event for the dashboard template."""
    return stats.attendance(event)
