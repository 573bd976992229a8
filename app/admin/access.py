"""Access checks of the back office, done on the server for every route."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from ..auth.models import Role
from ..auth.services import can_manage_event, can_see_event
from ..events.models import Event
from ..extensions import db


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


def event_or_404(event_id: int, manage: bool = False) -> Event:
    """Return an event the current account may see (404 otherwise).

    With ``manage``, the account must also be allowed to change it (403 for staff).
    """
    event = db.session.get(Event, event_id)
    if event is None or not can_see_event(current_user, event_id):
        abort(404)
    if manage and not can_manage_event(current_user, event_id):
        abort(403)
    return event
