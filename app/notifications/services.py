"""The outbox's one door: an email rendered in its recipient's language, added in the caller's transaction.

It knows no domain: each domain says what to send (``registration.emails``,
``admin.bulk``) and calls ``queue_email`` (a template pair under
``templates/email/``) or ``add_to_outbox`` (a body written already). Both
only add a row and flush: call them inside the ``write_transaction`` of the
change they report, so that the email exists if and only if the change was
committed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale

from ..events.models import Event
from ..extensions import db
from ..i18n import localized
from .links import absolute_url, mail_domain
from .models import MessageKind, MessageStatus, OutboxMessage

# A bare address: no spaces, line breaks, angle brackets, quotes or commas.
ADDRESS_PATTERN = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+$")


def header_text(value: str, limit: int) -> str:
    """Return ``value`` fit for a mail header: no line breaks or control characters, one line."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in value or "")
    return " ".join(cleaned.split())[:limit]


def is_plain_address(value: str) -> bool:
    """Tell whether ``value`` is a single bare email address safe to put in a header."""
    return len(value) <= 254 and bool(ADDRESS_PATTERN.match(value))


def email_language(language: str) -> str:
    """Return ``language`` if the app speaks it, else Polish."""
    return language if language in current_app.config["LANGUAGES"] else "pl"


def queue_email(
    kind: MessageKind,
    event: Event | None,
    recipient_email: str,
    language: str,
    subject: object,
    now: datetime,
    context: dict[str, Any],
    *,
    template: str | None = None,
    recipient_name: str = "",
    registration_id: int | None = None,
    attachments: Iterable[dict[str, Any]] = (),
    redact: Iterable[str] = (),
    snapshot: bool = False,
) -> OutboxMessage:
    """Render ``templates/email/<template>.{txt,html}`` (the kind's name by default) in ``language`` and queue it.

    ``subject`` is a translatable text with an ``%(event)s`` placeholder for the
    event's title. The templates get ``context`` with the event, its links, the
    organiser's name and the subject; an email about no event (an organiser's
    account) gets none of the event's. ``redact``: secrets in the bodies (a manage
    token, a password-reset link) that the row keeps only until the message is
    delivered. Flushes only.

    ``snapshot``: store what the templates get instead of rendering them now; the
    delivery renders them (:func:`render_snapshot`), in ``language``. ``context``
    must then hold plain values only (text, numbers, dates, lists and dicts of them:
    what the change committed, not database objects, which would say what is true
    when the email is sent), and the event is given to the templates as its
    title (in ``language``), city and start.
    """
    language = email_language(language)
    values: dict[str, Any] = {"event": event, "language": language, "kind": kind.value}
    if event is not None:
        values.update(
            event_url=absolute_url("events.event", slug=event.slug),
            resend_url=absolute_url("notifications.resend_link", slug=event.slug),
            organiser_name=event.series.organiser_name if event.series else "",
            contact_email=event.contact_email,
        )
    values.update(context)
    name = template or kind.value
    title = localized(event, "title", language) if event is not None else ""
    with force_locale(language):
        values["subject"] = subject_text = header_text(str(subject) % {"event": title}, 300)
    frozen = None
    if snapshot:
        if event is not None:
            values["event"] = {"title": title, "city": event.city, "starts_at": event.starts_at}
        frozen = {"template": name, "context": freeze(values)}
        body_text = body_html = ""
    else:
        body_text, body_html = _render(name, language, values)
    message = add_to_outbox(
        kind,
        event,
        recipient_email,
        language,
        subject_text,
        body_text,
        body_html,
        now,
        recipient_name=recipient_name,
        registration_id=registration_id,
        attachments=attachments,
        redact=redact,
    )
    message.snapshot = frozen
    db.session.flush()
    return message


def _render(template: str, language: str, values: dict[str, Any]) -> tuple[str, str]:
    """Return the text and HTML bodies of ``templates/email/<template>`` rendered in ``language``."""
    with force_locale(language):
        return render_template(f"email/{template}.txt", **values), render_template(f"email/{template}.html", **values)


def render_snapshot(snapshot: dict[str, Any], language: str) -> tuple[str, str]:
    """Return the text and HTML bodies of a message queued with ``snapshot=True`` (see :func:`queue_email`)."""
    return _render(snapshot["template"], language, thaw(snapshot["context"]))


def message_bodies(message: OutboxMessage) -> tuple[str, str]:
    """Return a queued message's text and HTML bodies, rendered from its snapshot if it has one."""
    if message.snapshot:
        return render_snapshot(message.snapshot, message.language)
    return message.body_text, message.body_html


_DATETIME = "$datetime"


def freeze(value: Any) -> Any:
    """Return ``value`` as JSON can store it: dates as ``{"$datetime": ISO 8601}``, tuples as lists."""
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dict):
        return {str(key): freeze(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [freeze(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"an email snapshot holds plain values only, not {type(value).__name__}")


def thaw(value: Any) -> Any:
    """Return what :func:`freeze` stored, with its dates back."""
    if isinstance(value, dict):
        if len(value) == 1 and _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def add_to_outbox(
    kind: MessageKind,
    event: Event | None,
    recipient_email: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str,
    now: datetime,
    *,
    recipient_name: str = "",
    registration_id: int | None = None,
    attachments: Iterable[dict[str, Any]] = (),
    redact: Iterable[str] = (),
) -> OutboxMessage:
    """Add an email written already to the outbox, due now, from the event's organiser (not flushed).

    Without an event it comes from the default sender (MAIL_DEFAULT_SENDER), with no Reply-To.

    A recipient that is not a plain address is kept as failed at once, so that
    organisers see who could not be told. ``redact`` as for :func:`queue_email`.
    """
    recipient = recipient_email.strip()
    contact = (event.contact_email or "").strip() if event is not None else ""
    sender = event.series.organiser_name if event is not None and event.series else ""
    message = OutboxMessage(
        kind=kind,
        event_id=event.id if event is not None else None,
        registration_id=registration_id,
        recipient_email=recipient[:254],
        recipient_name=header_text(recipient_name, 200),
        sender_name=header_text(sender, 200),
        reply_to=contact if is_plain_address(contact) else "",
        language=language,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachments=list(attachments),
        redact=[secret for secret in redact if secret],
        message_id=make_msgid(domain=mail_domain()),
        next_attempt_at=now,
        created_at=now,
    )
    if not is_plain_address(recipient):
        message.status = MessageStatus.FAILED
        message.last_error = "invalid recipient address"
    db.session.add(message)
    return message
