"""An organiser's login session in the signed cookie: started at login, checked on every request, ended at logout.

The cookie holds the account's id and session version (``Organiser.get_id``)
and the time of login. A session stops opening the back office when the
account's version changes (logout, a new password, the account disabled: every
copy of the cookie at once, saved or stolen) or ADMIN_MAX_SESSION_HOURS after
login, however busy it is.
"""

from __future__ import annotations

from flask import current_app, flash, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from ..db import utcnow
from . import services
from .models import Organiser

LOGGED_IN_AT = "login_at"
SEEN_AT = "seen_at"  # the last request, for the idle timeout (admin.access)


def start_session(organiser: Organiser) -> None:
    """Log ``organiser`` in on a fresh session: nothing from before survives (session fixation)."""
    _clear()
    login_user(organiser)
    session.permanent = True
    now = utcnow().timestamp()
    session[LOGGED_IN_AT] = now
    session[SEEN_AT] = now


def keep_session(organiser: Organiser) -> None:
    """Carry this session over to the account's new session version (its own password change)."""
    login_user(organiser)


def end_session() -> None:
    """Forget the login and everything else of the session but its language."""
    logout_user()
    _clear()


def load_user(session_id: str) -> Organiser | None:
    """Return the account of the session (Flask-Login's user loader), or None when the session is over."""
    if services.session_outlived(session.get(LOGGED_IN_AT), utcnow()):
        return None
    return services.load_organiser(session_id)


def end_outlived_session() -> None:
    """End a login session past its maximum lifetime, telling why (before every request)."""
    if "_user_id" in session and services.session_outlived(session.get(LOGGED_IN_AT), utcnow()):
        end_session()
        hours = current_app.config["ADMIN_MAX_SESSION_HOURS"]
        flash(
            _("Your session has ended %(hours)s hours after you logged in. Please log in again.", hours=f"{hours:g}"),
            "info",
        )


def _clear() -> None:
    """Empty the session, keeping the chosen language."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
