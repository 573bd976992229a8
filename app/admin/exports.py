"""Exports and printed lists of an event: CSV, XLSX, sign-in sheets and badges."""

from __future__ import annotations

import os

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..events.models import Group, Session
from ..exports import printing
from ..exports.services import (
    STATUSES,
    ExportError,
    csv_stream,
    list_title,
    safe_filename,
    start_export,
    xlsx_export,
)
from ..extensions import db
from ..labels import BOOKING_STATUS_LABELS
from ..registration.models import BookingStatus
from .access import event_or_404, protect

bp = protect(Blueprint("admin_exports", __name__, url_prefix="/admin"))


def _int_arg(name: str) -> int | None:
    """Return an integer query argument, None when absent; 400 for junk."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        abort(400)
    return int(value)


@bp.route("/events/<int:event_id>/exports")
def exports(event_id: int):  # type: ignore[no-untyped-def]
    """Offer the event's lists for download and printing."""
    event = event_or_404(event_id)
    labels = {"all": _("All statuses"), **{s.value: str(BOOKING_STATUS_LABELS[s]) for s in BookingStatus}}
    return render_template("admin/exports.html", event=event, statuses=[(s, labels.get(s, s)) for s in STATUSES])


@bp.route("/events/<int:event_id>/export.<any(csv, xlsx):kind>")
def export(event_id: int, kind: str):  # type: ignore[no-untyped-def]
    """Download a list as CSV (streamed) or XLSX."""
    event = event_or_404(event_id, personal=True)
    delimiter = "," if request.args.get("delimiter") == "," else ";"
    try:
        export_request = start_export(
            event,
            _int_arg("session"),
            _int_arg("group"),
            request.args.get("status"),
            kind,
            actor=current_user._get_current_object(),
        )
    except ExportError as error:
        flash(str(error.message), "danger")
        return redirect(url_for(".exports", event_id=event.id))
    filename = safe_filename(list_title(event, export_request), kind)
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if kind == "csv":
        chunks = (chunk.encode("utf-8") for chunk in csv_stream(export_request, delimiter))
        response = Response(stream_with_context(chunks), mimetype="text/csv", headers=headers)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    path = xlsx_export(export_request, event)
    response = send_file(
        path,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=filename,
        max_age=0,
    )
    response.headers.update(headers)
    response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
    return response


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/sign-in")
def sign_in_sheet(event_id: int, session_id: int):  # type: ignore[no-untyped-def]
    """Print the sign-in sheet of a session or one of its groups."""
    event = event_or_404(event_id)
    session = db.session.get(Session, session_id)
    if session is None or session.event_id != event.id:
        abort(404)
    group_id = _int_arg("group")
    group = None
    if group_id is not None:
        group = db.session.get(Group, group_id)
        if group is None or group.session_id != session.id:
            abort(404)
    groups = [group] if group else (session.groups or [None])
    sheets = [(g, printing.sign_in_list(session, g)) for g in groups]
    return render_template("exports/sign_in.html", event=event, session=session, sheets=sheets)


@bp.route("/events/<int:event_id>/badges")
def badges(event_id: int):  # type: ignore[no-untyped-def]
    """Print an A4 page of name badges with check-in QR codes."""
    event = event_or_404(event_id)
    return render_template("exports/badges.html", event=event, badges=printing.badges(event))
