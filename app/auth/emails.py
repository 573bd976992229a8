"""The emails of organiser accounts: the link to set a forgotten password.

Queued through the outbox (``notifications.services.queue_email``) in the
caller's transaction; they concern no event, so they come from the default sender.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..notifications.links import absolute_url
from ..notifications.models import MessageKind, OutboxMessage
from ..notifications.services import queue_email
from .models import Organiser

PASSWORD_RESET_SUBJECT = _l("A new password for the back office")


def queue_password_reset(organiser: Organiser, token: str, language: str, now: datetime) -> OutboxMessage:
    """Email the account the link that sets a new password (flushes only)."""
    return queue_email(
        MessageKind.PASSWORD_RESET,
        None,
        organiser.email,
        language,
        PASSWORD_RESET_SUBJECT,
        now,
        {
            "reset_url": absolute_url("auth.reset_password_link", token=token),
            "account_email": organiser.email,
            "hours": f"{current_app.config['PASSWORD_RESET_HOURS']:g}",
        },
        recipient_name=organiser.name,
        redact=[token],  # the row keeps the working link only until the email is delivered
    )
