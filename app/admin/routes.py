"""Back-office pages: the list of events an account may see."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..auth.services import visible_events
from ..db import utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_login():  # type: ignore[no-untyped-def]
    """Send anonymous visitors to the login page; end idle sessions."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    now = utcnow().timestamp()
    idle = timedelta(seconds=current_app.config["ADMIN_IDLE_TIMEOUT"]).total_seconds()
    seen = session.get("seen_at", 0)
    if now - seen > idle:
        logout_user()
        session.clear()
        flash(_("Your session expired after a period of inactivity. Please log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    session["seen_at"] = now
    return None


@bp.after_request
def no_store(response):  # type: ignore[no-untyped-def]
    """Keep back-office pages out of shared caches and the browser's history cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    """List the events this account may see."""
    return render_template("admin/index.html", events=visible_events(current_user))
