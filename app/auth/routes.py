"""Login and logout of organisers."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..db import utcnow
from ..security import safe_next
from . import services
from .forms import LoginForm

bp = Blueprint("auth", __name__, url_prefix="/admin")


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
            # A fresh session on login: nothing from before survives (session fixation).
            language = session.get("lang")
            session.clear()
            if language:
                session["lang"] = language
            login_user(organiser)
            session.permanent = True
            session["seen_at"] = utcnow().timestamp()
            target = safe_next(form.next.data)
            return redirect(target if target != url_for("events.index") else url_for("admin.index"))
    return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    """Log out and forget the session."""
    if current_user.is_authenticated:
        services.record_logout(current_user._get_current_object(), request.remote_addr or "?")
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))
