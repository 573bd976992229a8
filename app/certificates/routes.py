"""The participant's certificate of attendance, from the private link."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, url_for

from ..registration import services as registration_services
from ..registration.models import Registration
from . import services
from .services import CertificateError

bp = Blueprint("certificates", __name__)


def pdf_response(body: bytes, filename: str) -> Response:
    """Answer with a PDF to download, kept out of shared caches (it names a person)."""
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.route("/r/<token>/certificate.pdf")
def download(token: str):  # type: ignore[no-untyped-def]
    """Download the participant's certificate of attendance (in their language)."""
    registration = registration_services.find_registration_by_token(token)
    if registration is None or registration.anonymised_at is not None:
        abort(404)
    try:
        body = services.certificate_pdf(registration)
    except CertificateError as error:
        flash(str(error.message), "warning")
        return redirect(url_for("registration.manage", token=token) + "#certificate")
    return pdf_response(body, f"{registration.event.slug}-certificate.pdf")


@bp.app_template_global()
def certificate_availability(registration: Registration) -> str:
    """Return what the manage page says about the participant's certificate (an ``Availability`` value)."""
    return services.availability(registration).value
