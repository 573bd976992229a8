"""Typed model of the email outbox."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import UTCDateTime, enum_type, utcnow
from ..extensions import db


class MessageKind(str, enum.Enum):
    """What an email tells the participant."""

    REGISTRATION_RECEIVED = "registration_received"
    CHANGES_CONFIRMED = "changes_confirmed"
    BOOKING_CANCELLED = "booking_cancelled"
    REGISTRATION_CANCELLED = "registration_cancelled"
    PROMOTED = "promoted"
    REQUEST_APPROVED = "request_approved"
    REQUEST_DECLINED = "request_declined"
    MANAGE_LINK = "manage_link"
    RANKED_RESULT = "ranked_result"
    RANKED_OFFER = "ranked_offer"
    INVITATION = "invitation"  # an organiser's invitation code for a restricted session
    BULK = "bulk"  # an organiser's message to many participants
    PASSWORD_RESET = "password_reset"  # a link to set an organiser's forgotten password (no event)
    CERTIFICATE = "certificate"  # the certificate of attendance is ready, after the event
    REMINDER = "reminder"  # days or hours before the event (registration.reminders)
    APPROVAL_DIGEST = "approval_digest"  # to an organiser: requests awaiting approval (no event)


class MessageStatus(str, enum.Enum):
    """Delivery state of an outbox message."""

    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a worker (released after OUTBOX_CLAIM_TIMEOUT)
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of retries; kept for organisers


class OutboxMessage(db.Model):
    """One rendered email waiting to be delivered, or its delivery record."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MessageKind] = mapped_column(enum_type(MessageKind, "message_kind"))
    status: Mapped[MessageStatus] = mapped_column(
        enum_type(MessageStatus, "message_status"), default=MessageStatus.PENDING
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id", ondelete="SET NULL"), index=True)
    # Header values are stored already cleaned of line breaks (services._header_text).
    recipient_email: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # [{"filename": ..., "content_type": ..., "content": <text>}]; an image may instead carry
    # "content" in base64 with "encoding": "base64", or "qr_code": <text> to be drawn when sent;
    # "content_id" and "disposition": "inline" make it an inline part.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Private parts of the bodies (a manage token): needed until the message is delivered, then
    # replaced in the stored bodies and forgotten, so that a sent row holds no working link.
    redact: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Set instead of the bodies when the email is rendered at delivery, not in the request that
    # queued it: {"template": <name under templates/email/>, "context": <what the templates show,
    # frozen when the change was committed>} (notifications.services.freeze). The delivery
    # renders the bodies from it and stores them (its private parts redacted) in the commit that
    # marks the message sent, which also forgets the snapshot.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Kept across retries so that a receiver can recognise a message sent twice.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Workers look for due messages: status first, then time.
        Index("ix_outbox_message_due", "status", "next_attempt_at", "id"),
        Index("ix_outbox_message_claimed", "status", "claimed_at"),
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind.value} {self.status.value}>"
