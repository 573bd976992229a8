"""Login and logout of organisers, and setting a forgotten password from an emailed link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..forms import attach_error
from ..i18n import current_language
from ..security import safe_next
from . import services
from .forms import ForgotPasswordForm, LoginForm, ResetPasswordForm
from .sessions import end_outlived_session, end_session, start_session

bp = Blueprint("auth", __name__, url_prefix="/admin")
bp.before_app_request(end_outlived_session)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Show the login form and log in on valid credentials."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            organiser = services.authenticate(form.email.data, form.password.data, request.remote_addr or "?")
        except services.AuthError as error:
            form.form_errors.append(error.message)
        else:
            start_session(organiser)
            target = safe_next(form.next.data)
            return redirect(target if target != url_for("events.index") else url_for("admin.index"))
    return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    """Log out: every session of the account ends on the server, not only this cookie."""
    if current_user.is_authenticated:
        services.log_out(current_user.id, request.remote_addr or "?")
    end_session()
    flash(_("You have been logged out on every device."), "info")
    return redirect(url_for("auth.login"))


# Where the reset link's token waits between opening the link and submitting the new password.
RESET_TOKEN_KEY = "password_reset_token"


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():  # type: ignore[no-untyped-def]
    """Ask for an account's email and mail it a link to set a new password; the answer never tells whether it exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, request.remote_addr or "?", current_language())
        flash(
            _(
                "If an account has this address, we have emailed it a link to set a new password. "
                "The link works for %(hours)s h.",
                hours=f"{current_app.config['PASSWORD_RESET_HOURS']:g}",
            ),
            "info",
        )
        return redirect(url_for(".login"), code=303)
    return render_template("auth/forgot_password.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/reset-password/<token>")
def reset_password_link(token: str):  # type: ignore[no-untyped-def]
    """Open an emailed link: keep its token in the session and show the form at an address without it.

    The token then stays out of the form page's address, its Referer headers
    and the browser's history.
    """
    try:
        services.check_reset_link(token)
    except services.ResetLinkInvalid as error:
        return _invalid_link(error)
    session[RESET_TOKEN_KEY] = token
    return redirect(url_for(".reset_password"), code=303)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():  # type: ignore[no-untyped-def]
    """Set a new password with the link opened in this browser; then log in with it."""
    token = session.get(RESET_TOKEN_KEY, "")
    try:
        organiser = services.check_reset_link(token)
    except services.ResetLinkInvalid as error:
        return _invalid_link(error)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data, request.remote_addr or "?")
        except services.ResetLinkInvalid as error:
            return _invalid_link(error)
        except services.AuthError as error:
            attach_error(form, error)
        else:
            end_session()  # whoever was logged in here, and the token, go
            flash(_("Your new password is set. Log in with it."), "success")
            return redirect(url_for(".login"), code=303)
    page = render_template("auth/reset_password.html", form=form, account=organiser)
    return page, 422 if form.is_submitted() else 200


def _invalid_link(error: services.ResetLinkInvalid):  # type: ignore[no-untyped-def]
    """Say why a reset link does not work (410 when it did once), with the way to a new one."""
    session.pop(RESET_TOKEN_KEY, None)
    gone = isinstance(error, (services.ResetLinkExpired, services.ResetLinkUsed))
    return render_template("auth/reset_link_invalid.html", message=error.message), 410 if gone else 404
