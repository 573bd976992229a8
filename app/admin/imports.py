"""Import of invited participants from a CSV or XLSX file: upload, preview, confirm."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from ..events.models import Event
from ..forms import attach_error
from ..labels import CATEGORY_LABELS, LANGUAGE_LABELS
from ..notifications.delivery import deliver_after_response
from ..registration import imports
from ..registration.import_files import MAX_FILE_BYTES, ImportFileError, read_file
from .access import event_or_404, protect
from .forms_import import ConfirmImportForm, ImportForm

bp = protect(Blueprint("admin_import", __name__, url_prefix="/admin"))

BASE = "/events/<int:event_id>/registrations/import"


def _event(event_id: int) -> Event:
    """Return the event if this account may change it and see its participants (403 for staff)."""
    return event_or_404(event_id, manage=True, personal=True)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Response:
    """Answer a file over the request limit with the upload page's message instead of a bare 413."""
    flash(_("The file is larger than 1 MB. Split the list into smaller files."), "danger")
    event_id = (request.view_args or {}).get("event_id")
    if event_id is None:
        abort(413)
    return redirect(url_for(".upload", event_id=event_id), code=303)


@bp.route(BASE, methods=["GET", "POST"])
def upload(event_id: int):  # type: ignore[no-untyped-def]
    """Show the upload form; read the uploaded file, keep it, and go to its preview."""
    event = _event(event_id)
    form = ImportForm(event)
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.stream.read(MAX_FILE_BYTES + 1)
        try:
            parsed = read_file(upload.filename or "", data)
        except ImportFileError as error:
            attach_error(form, error)
        else:
            stored = imports.save_upload(event, current_user.id, upload.filename or "", data, parsed, form.options())
            return redirect(url_for(".preview", event_id=event.id, token=stored.token), code=303)
    page = render_template(
        "admin/imports/upload.html",
        event=event,
        form=form,
        columns=imports.COLUMN_LABELS,
        required=imports.REQUIRED_COLUMNS,
        categories=CATEGORY_LABELS,
    )
    return page, 422 if form.is_submitted() else 200


@bp.get("/events/<int:event_id>/registrations/import-template.<any(csv, xlsx):fmt>")
def template(event_id: int, fmt: str) -> Response:
    """Download the template of the import, with the headers in the page's language."""
    event = _event(event_id)
    if fmt == "csv":
        body, mimetype = imports.template_csv(event), "text/csv; charset=utf-8"
    else:
        body = imports.template_xlsx(event)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=import-{event.slug}.{fmt}"
    return response


@bp.route(BASE + "/<token>", methods=["GET", "POST"])
def preview(event_id: int, token: str):  # type: ignore[no-untyped-def]
    """Show every row of an upload with its errors or outcome; on confirmation, import all valid rows or none."""
    event = _event(event_id)
    try:
        stored = imports.load_upload(token, event.id, current_user.id)
    except imports.UploadNotFound as error:
        flash(str(error.message), "warning")
        return redirect(url_for(".upload", event_id=event.id), code=303)
    result = imports.validate(event, stored)
    form = ConfirmImportForm()
    failures: list[str] = []
    status = 200
    if request.method == "POST":
        status = 409
        if not form.validate_on_submit():
            failures = [_("The form could not be read. Please try again.")]
            status = 400
        elif form.fingerprint.data != result.fingerprint:
            failures = [
                _("The event changed since you saw this preview: nothing has been imported. Check it again."),
                *imports.changes_since_seen(result),
            ]
        else:
            try:
                done = imports.commit(event, result)
            except imports.ImportFailed as error:
                failures = [str(error.message), *error.reasons]
                result = imports.validate(event, stored)
            except imports.ImportRefused as error:
                failures = [str(error.message)]
            else:
                imports.discard_upload(token)
                _flash_result(done)
                return deliver_after_response(
                    redirect(url_for("admin_registrations.index", event_id=event.id), code=303)
                )
    form.fingerprint.data = result.fingerprint
    imports.remember_seen(result)
    page = render_template(
        "admin/imports/preview.html",
        event=event,
        preview=result,
        stored=stored,
        form=form,
        failures=failures,
        columns=imports.COLUMN_LABELS,
        outcome_labels=imports.OUTCOME_WORDS,
        categories=CATEGORY_LABELS,
        languages=LANGUAGE_LABELS,
    )
    return page, status


def _flash_result(done: imports.ImportResult) -> None:
    """Say what the import stored."""
    if done.mode == imports.INVITATIONS:
        flash(
            ngettext(
                "%(num)d invitation code has been created and emailed.",
                "%(num)d invitation codes have been created and emailed.",
                done.imported,
            ),
            "success",
        )
    else:
        flash(
            ngettext(
                "%(num)d registration has been imported and its confirmation email queued.",
                "%(num)d registrations have been imported and their confirmation emails queued.",
                done.imported,
            )
            + " "
            + _(
                "Places confirmed: %(confirmed)s, on waiting lists: %(waitlisted)s, requests: %(requested)s.",
                confirmed=done.confirmed,
                waitlisted=done.waitlisted,
                requested=done.requested,
            ),
            "success",
        )
    if done.skipped:
        flash(
            ngettext("%(num)d row with errors was left out.", "%(num)d rows with errors were left out.", done.skipped),
            "warning",
        )
