"""Back-office home: the list of events an account may see."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from ..auth.services import visible_events
from .access import protect

bp = protect(Blueprint("admin", __name__, url_prefix="/admin"))


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    """List the events this account may see."""
    return render_template("admin/index.html", events=visible_events(current_user))
