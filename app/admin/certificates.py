"""Certificates of attendance of an event: the list, every certificate in one PDF, one person's, and the email."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..auth.services import can_manage_event
from ..certificates import services
from ..certificates.routes import pdf_response
from ..certificates.services import CertificateError
from ..extensions import db
from ..i18n import current_language
from ..notifications.delivery import deliver_after_response
from ..registration.models import Registration
from .access import event_or_404, protect

bp = protect(Blueprint("admin_certificates", __name__, url_prefix="/admin"))


@bp.route("/events/<int:event_id>/certificates")
def index(event_id: int):  # type: ignore[no-untyped-def]
    """List the participants who get a certificate, with the downloads and the email button."""
    event = event_or_404(event_id)
    people = services.present_registrations(event)
    return render_template(
        "admin/certificates.html",
        event=event,
        people=people,
        ended=services.has_ended(event),
        not_offered=sum(1 for p in people if p.certificate_offered_at is None),
        can_send=can_manage_event(current_user, event.id),
    )


@bp.route("/events/<int:event_id>/certificates.pdf")
def download_all(event_id: int):  # type: ignore[no-untyped-def]
    """Download every certificate of the event in one PDF, a page per participant (in their language)."""
    event = event_or_404(event_id)
    try:
        body = services.event_certificates_pdf(event, current_language())
    except CertificateError as error:
        flash(str(error.message), "warning")
        return redirect(url_for(".index", event_id=event.id))
    return pdf_response(body, f"{event.slug}-certificates.pdf")


@bp.route("/events/<int:event_id>/certificates/<int:registration_id>.pdf")
def download_one(event_id: int, registration_id: int):  # type: ignore[no-untyped-def]
    """Download one participant's certificate."""
    event = event_or_404(event_id)
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        abort(404)
    try:
        body = services.certificate_pdf(registration)
    except CertificateError as error:
        flash(str(error.message), "warning")
        return redirect(url_for(".index", event_id=event.id))
    return pdf_response(body, f"{event.slug}-certificate-{registration.id}.pdf")


@bp.route("/events/<int:event_id>/certificates/send", methods=["POST"])
def send(event_id: int):  # type: ignore[no-untyped-def]
    """Email each checked-in participant not emailed yet a link to their certificate (organisers and admins)."""
    event = event_or_404(event_id, manage=True)
    try:
        sent = services.offer_certificates(event.id, actor=current_user._get_current_object())
    except CertificateError as error:
        flash(str(error.message), "warning")
    else:
        if sent:
            flash(ngettext("%(num)d email queued.", "%(num)d emails queued.", sent), "success")
        else:
            flash(_("Everybody checked in has been emailed already."), "info")
    return deliver_after_response(redirect(url_for(".index", event_id=event.id), code=303))
