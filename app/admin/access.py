"""Access checks of the back office, done on the server for every route."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..auth.models import Role
from ..auth.services import can_manage_event, can_see_event
from ..db import utcnow
from ..events.models import Event
from ..extensions import db


def protect(bp: Blueprint) -> Blueprint:
    """Put every route of ``bp`` behind the login, with idle expiry and no caching."""
    bp.before_request(require_login)
    bp.after_request(no_store)
    return bp


def require_login():  # type: ignore[no-untyped-def]
    """Send anonymous visitors to the login page; end idle sessions."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    now = utcnow().timestamp()
    idle = timedelta(seconds=current_app.config["ADMIN_IDLE_TIMEOUT"]).total_seconds()
    if now - session.get("seen_at", 0) > idle:
        logout_user()
        session.clear()
        flash(_("Your session expired after a period of inactivity. Please log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    session["seen_at"] = now
    return None


def no_store(response):  # type: ignore[no-untyped-def]
    """Keep back-office pages out of shared caches and the browser's history cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def roles_required(*roles: Role) -> Callable:
    """Allow the view only to accounts with one of ``roles`` (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def event_or_404(event_id: int, manage: bool = False, personal: bool = False) -> Event:
    """Return an event the current account may see (404 otherwise).

    With ``manage``, the account must also be allowed to change it; with ``personal``,
    to see its participants' contact details, lists and exports (403 for staff).
    """
    event = db.session.get(Event, event_id)
    if event is None or not can_see_event(current_user, event_id):
        abort(404)
    if manage and not can_manage_event(current_user, event_id):
        abort(403)
    if personal and not current_user.role.sees_personal_data:
        abort(403)
    return event
