"""Login and logout of organisers."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..security import safe_next
from . import services
from .forms import LoginForm
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
