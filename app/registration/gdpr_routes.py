"""The participant's GDPR rights from the private link: download the data, withdraw consent, erase."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from . import gdpr, services
from .errors import RegistrationError
from .forms import ConfirmForm

bp = Blueprint("gdpr", __name__)


def _registration_or_404(token: str):  # type: ignore[no-untyped-def]
    """Return the registration of a manage token or answer 404."""
    registration = services.find_registration_by_token(token)
    if registration is None or registration.anonymised_at is not None:
        abort(404)
    return registration


@bp.route("/r/<token>/data.json")
def download(token: str) -> Response:
    """Download everything stored about the participant as JSON."""
    registration = _registration_or_404(token)
    body = json.dumps(gdpr.export_data(registration), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-registration.json"'},
    )


@bp.route("/r/<token>/erase", methods=["GET", "POST"])
def erase(token: str):  # type: ignore[no-untyped-def]
    """Ask for confirmation (GET) and erase the registration's personal data (POST)."""
    registration = _registration_or_404(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        event_slug = registration.event.slug
        gdpr.erase_registration(registration)
        flash(_("Your registration and personal data have been erased."), "success")
        return redirect(url_for("events.event", slug=event_slug), code=303)
    return render_template(
        "registration/confirm_erase.html", registration=registration, event=registration.event, form=form, token=token
    )


@bp.route("/r/<token>/marketing/<any(withdraw, give):action>", methods=["POST"])
def marketing_consent(token: str, action: str):  # type: ignore[no-untyped-def]
    """Withdraw (or give again) the consent to news about future events, whatever the registration window."""
    registration = _registration_or_404(token)
    # CSRFProtect has already refused a POST without a valid token (400 page); the form only reads it.
    if ConfirmForm().validate_on_submit():
        try:
            gdpr.set_marketing_consent(registration, given=action == "give")
        except RegistrationError as error:
            flash(str(error.message), "danger")
        else:
            if action == "give":
                flash(_("Thank you: we will send you news about future events."), "success")
            else:
                flash(_("Your consent is withdrawn: we will not send you news about future events."), "success")
    return redirect(url_for("registration.manage", token=token) + "#personal-data", code=303)
