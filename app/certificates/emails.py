"""The email of certificates: "your certificate of attendance is ready", with a new private link."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..notifications.links import absolute_url
from ..notifications.models import MessageKind, OutboxMessage
from ..registration.emails import queue_message
from ..registration.models import Registration

SUBJECT = _l("Your certificate of attendance: %(event)s")


def queue_certificate_offer(registration: Registration, token: str, now: datetime) -> OutboxMessage:
    """Queue the email offering the certificate, in the participant's language (flushes only).

    ``token`` is the registration's new manage token: the outbox row keeps it only until delivery.
    """
    return queue_message(
        MessageKind.CERTIFICATE,
        registration,
        now,
        subject=SUBJECT,
        redact=[token],
        manage_url=absolute_url("registration.manage", token=token),
        certificate_url=absolute_url("certificates.download", token=token),
    )
