"""Deliver due outbox messages: claim atomically, send a batch over one connection, record the outcome.

Claims are taken in a short write transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises claimers) and committed
before any network I/O, so several workers never hold the same message. A
claim left by a killed worker is released after ``OUTBOX_CLAIM_TIMEOUT``
seconds. Each outcome is committed on its own, right after the message is
handed over, so that a crash re-sends at most the message in flight. A
message's private parts (``OutboxMessage.redact``: a manage token) stay in
its row until it is delivered, as a retry needs them, and are replaced in the
stored bodies by the same commit that marks it sent. A failed message keeps
them: an organiser may put it back in the queue.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import smtplib
import socket
import traceback
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app
from markupsafe import escape
from sqlalchemy import select, text, update
from werkzeug.wrappers import Response

from ..db import utcnow, write_transaction
from ..extensions import db, mail
from .mailer import BadHeaderError, OutboxMail, TimeoutConnection, attachment
from .models import MessageStatus, OutboxMessage
from .services import render_snapshot

log = logging.getLogger(__name__)

# What a private part of a delivered message's bodies becomes in its row.
REDACTED = "[removed]"

# Anything shaped like an email address, as SMTP replies quote them (with or without <>).
_ADDRESS = re.compile(r"[^\s<>()\[\]@,;:\"']+@[^\s<>()\[\]@,;:\"']+")


@dataclass(frozen=True)
class ClaimedMessage:
    """A claimed message, detached from the database session."""

    id: int
    kind: str
    attempts: int
    recipient_email: str
    recipient_name: str
    sender_name: str
    reply_to: str
    subject: str
    body_text: str
    body_html: str
    attachments: list[dict[str, Any]]
    message_id: str
    created_at: datetime
    redact: list[str] = field(default_factory=list)
    language: str = "pl"
    # What the bodies are rendered from when they were not written at queue time (see with_bodies).
    snapshot: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: OutboxMessage) -> ClaimedMessage:
        """Copy the fields needed for sending out of ``row``."""
        return cls(
            id=row.id,
            kind=row.kind.value,
            attempts=row.attempts,
            recipient_email=row.recipient_email,
            recipient_name=row.recipient_name,
            sender_name=row.sender_name,
            reply_to=row.reply_to,
            subject=row.subject,
            body_text=row.body_text,
            body_html=row.body_html,
            attachments=list(row.attachments or []),
            message_id=row.message_id,
            created_at=row.created_at,
            redact=list(row.redact or []),
            language=row.language,
            snapshot=row.snapshot,
        )

    def with_bodies(self) -> ClaimedMessage:
        """Return the claim with its bodies rendered from its snapshot (itself when it has none)."""
        if not self.snapshot:
            return self
        body_text, body_html = render_snapshot(self.snapshot, self.language)
        return replace(self, body_text=body_text, body_html=body_html)


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        """Add the counts of another round."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.errors += other.errors


class TemporaryFailure(Exception):
    """Delivery may succeed later (4xx reply, connection trouble)."""


class PermanentFailure(Exception):
    """Delivery will never succeed (5xx reply, a message that cannot be built)."""


class ConnectionLost(TemporaryFailure):
    """The connection is unusable: the rest of the batch must wait for the next round."""


class Transport(Protocol):
    """Hands messages over; raises TemporaryFailure or PermanentFailure."""

    def open(self) -> None: ...

    def send(self, message: OutboxMail, claim: ClaimedMessage) -> None: ...

    def close(self) -> None: ...


def worker_name() -> str:
    """Return a name for this delivery process, stored with its claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver_due(limit: int | None = None, now: datetime | None = None, worker: str | None = None) -> DeliveryReport:
    """Claim up to ``limit`` due messages and deliver them over one connection."""
    config = current_app.config
    limit = limit or config["OUTBOX_BATCH_SIZE"]
    worker = worker or worker_name()
    report = DeliveryReport()
    claims = claim_due(limit, worker, now)
    report.claimed = len(claims)
    if not claims:
        return report
    transport = get_transport()
    try:
        transport.open()
    except TemporaryFailure as error:
        for claim in claims:
            _record_retry(claim, worker, str(error), now, report)
        return report
    try:
        for index, claim in enumerate(claims):
            try:
                claim = claim.with_bodies()  # noqa: PLW2901 - the claim, rendered: what is recorded as sent
                transport.send(build_message(claim), claim)
            except PermanentFailure as error:
                _record_failure(claim, worker, str(error), report)
            except ConnectionLost as error:
                for rest in claims[index:]:
                    _record_retry(rest, worker, str(error), now, report)
                break
            except TemporaryFailure as error:
                _record_retry(claim, worker, str(error), now, report)
            except Exception as error:  # noqa: BLE001 - a bug must not leave the batch claimed
                # The traceback by hand: the exception's text may quote the recipient's address.
                log.error(
                    "Unexpected error delivering outbox message %s\n%s",
                    claim.id,
                    redact_addresses("".join(traceback.format_exception(error)), claim.recipient_email),
                )
                _record_retry(claim, worker, f"{type(error).__name__}: {error}", now, report)
            else:
                _record_sent(claim, worker, now, report)
    finally:
        transport.close()
    return report


def deliver_all_due(batch_size: int | None = None, now: datetime | None = None) -> DeliveryReport:
    """Deliver every message due now, batch after batch; return the totals."""
    worker = worker_name()
    total = DeliveryReport()
    while True:
        report = deliver_due(batch_size, now, worker)
        total.add(report)
        if report.claimed == 0 or report.sent + report.failed == 0:
            # Nothing due, or nothing got through (the server is down): stop for now.
            return total


def claim_due(limit: int, worker: str, now: datetime | None = None) -> list[ClaimedMessage]:
    """Mark up to ``limit`` due messages as being sent by ``worker``; return them.

    Also releases claims older than ``OUTBOX_CLAIM_TIMEOUT`` (their worker died).
    """
    now = now or utcnow()
    stale_before = now - timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT"])
    with write_transaction():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_at < stale_before)
            .values(status=MessageStatus.PENDING, claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        ids = (
            db.session.execute(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        if not ids:
            return []
        # The status condition makes the claim safe even where FOR UPDATE is ignored.
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == MessageStatus.PENDING)
            .values(
                status=MessageStatus.SENDING,
                claimed_at=now,
                claimed_by=worker,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        rows = (
            db.session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status == MessageStatus.SENDING,
                    OutboxMessage.claimed_by == worker,
                )
                .order_by(OutboxMessage.id)
                .execution_options(populate_existing=True)
            )
            .scalars()
            .all()
        )
        claims = [ClaimedMessage.from_row(row) for row in rows]
    return claims


def build_message(claim: ClaimedMessage) -> OutboxMail:
    """Return the Flask-Mail message of a claim.

    Header values were cleaned of line breaks when queued, and are checked again here.
    :raises PermanentFailure: when the message cannot be built.
    """
    default_name, sender_address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"] or "")
    try:
        to = Address(display_name=claim.recipient_name, addr_spec=claim.recipient_email)
        from_ = Address(display_name=claim.sender_name or default_name, addr_spec=sender_address)
    except (ValueError, IndexError) as error:
        raise PermanentFailure(f"invalid address: {error}") from error
    if not sender_address:
        raise PermanentFailure("MAIL_DEFAULT_SENDER has no address")
    message = OutboxMail(
        to=to,
        from_=from_,
        subject=claim.subject,
        body=claim.body_text,
        html=claim.body_html,
        reply_to=claim.reply_to or None,
        date=claim.created_at.timestamp(),
        extra_headers={"Auto-Submitted": "auto-generated"},
        attachments=[_attachment(item) for item in claim.attachments],
    )
    message.msgId = claim.message_id
    if message.has_bad_headers() or _has_line_break(claim.recipient_name, claim.sender_name, claim.subject):
        raise PermanentFailure("a header value contains a line break")
    return message


def _attachment(item: dict[str, Any]) -> Any:
    """Return the attachment of an outbox row's description (text, base64, or a QR code to draw)."""
    if "qr_code" in item:
        data = checkin_qr_png(item["qr_code"])
    elif item.get("encoding") == "base64":
        data = base64.b64decode(item["content"])
    else:
        data = item["content"].encode("utf-8")
    return attachment(
        item["filename"], item["content_type"], data, item.get("disposition", "attachment"), item.get("content_id")
    )


def checkin_qr_png(code: str) -> bytes:
    """Return the QR code of ``code`` as a PNG image (for the check-in desk's scanner)."""
    import segno  # lazy: needed only when an email with a check-in code is sent

    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def get_transport() -> Transport:
    """Return SMTP when ``MAIL_SERVER`` is set, else the .eml directory.

    In production the .eml files (whole emails, private links included) are
    written only to a directory named on purpose in ``OUTBOX_MAIL_DIR``: a
    forgotten ``MAIL_SERVER`` leaves the emails waiting in the outbox instead.
    """
    config = current_app.config
    if config.get("MAIL_SERVER"):
        return SMTPTransport(current_app._get_current_object(), float(config["MAIL_TIMEOUT"]))  # type: ignore[attr-defined]
    if config.get("IS_PRODUCTION") and not config.get("OUTBOX_MAIL_DIR"):
        return NoTransport()
    return FileTransport(mail_directory())


def mail_directory() -> Path:
    """Return the directory of the .eml files written without a mail server."""
    configured = current_app.config.get("OUTBOX_MAIL_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "mail"


class NoTransport:
    """No way to deliver: production without ``MAIL_SERVER`` (every message waits for a later attempt)."""

    def open(self) -> None:
        """Refuse, as a temporary failure: setting MAIL_SERVER lets the messages go."""
        log.error(
            "MAIL_SERVER is not set: emails wait in the outbox (.eml files are written in production "
            "only to an OUTBOX_MAIL_DIR set on purpose)"
        )
        raise TemporaryFailure("MAIL_SERVER is not set")

    def send(self, message: OutboxMail, claim: ClaimedMessage) -> None:
        """Never reached: ``open`` refuses."""
        raise TemporaryFailure("MAIL_SERVER is not set")

    def close(self) -> None:
        """Nothing to close."""


class FileTransport:
    """Writes each message as an .eml file (development: no mail server needed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def open(self) -> None:
        """Create the directory."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TemporaryFailure(f"cannot create {self.directory}: {error}") from error

    def send(self, message: OutboxMail, claim: ClaimedMessage) -> None:
        """Write the message; the name sorts by time of queueing."""
        name = f"{claim.created_at:%Y%m%d-%H%M%S}-{claim.id:07d}-{claim.kind}.eml"
        target = self.directory / name
        partial = target.with_suffix(".part")
        try:
            data = message.as_bytes()
        except (ValueError, TypeError) as error:
            raise PermanentFailure(f"the message cannot be written: {error}") from error
        try:
            partial.write_bytes(data)
            partial.replace(target)
        except OSError as error:
            raise TemporaryFailure(f"cannot write {target}: {error}") from error

    def close(self) -> None:
        """Nothing to close."""


class SMTPTransport:
    """Sends over one SMTP connection per batch, through Flask-Mail."""

    def __init__(self, app: Flask, timeout: float) -> None:
        # Settings are read now (not at start-up) and sending is never suppressed:
        # the outbox decides what is delivered.
        self.state = mail.init_mail({**app.config, "MAIL_SUPPRESS_SEND": False})
        self.timeout = timeout
        self.connection: TimeoutConnection | None = None

    def open(self) -> None:
        """Connect (and log in); any failure is temporary."""
        connection = TimeoutConnection(self.state, self.timeout)
        try:
            connection.host = connection.configure_host()
        except smtplib.SMTPResponseException as error:
            raise TemporaryFailure(f"connecting: {_reply(error.smtp_code, error.smtp_error)}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(f"connecting: {_describe(error)}") from error
        self.connection = connection

    def send(self, message: OutboxMail, claim: ClaimedMessage) -> None:
        """Send one message and classify a refusal by its reply code."""
        assert self.connection is not None
        try:
            self.connection.send(message)
        except BadHeaderError as error:
            raise PermanentFailure("a header value contains a line break") from error
        except (ValueError, TypeError) as error:  # raised while building, before anything is sent
            raise PermanentFailure(f"the message cannot be written: {error}") from error
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            detail = "; ".join(_reply(code, text) for code, text in error.recipients.values())
            if codes and min(codes) >= 500:
                raise PermanentFailure(detail) from error
            raise TemporaryFailure(detail) from error
        except smtplib.SMTPResponseException as error:
            detail = _reply(error.smtp_code, error.smtp_error)
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(detail) from error
            if error.smtp_code == 421:  # the server closes the connection
                raise ConnectionLost(detail) from error
            raise TemporaryFailure(detail) from error
        except (smtplib.SMTPException, OSError) as error:
            raise ConnectionLost(_describe(error)) from error

    def close(self) -> None:
        """Say QUIT, ignoring a connection that is already gone."""
        if self.connection is None or self.connection.host is None:
            return
        try:
            self.connection.host.quit()
        except (smtplib.SMTPException, OSError):
            self.connection.host.close()
        self.connection = None


def _reply(code: int, text: bytes | str) -> str:
    """Format an SMTP reply for ``last_error``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _describe(error: BaseException) -> str:
    """Describe a connection error for ``last_error``."""
    if isinstance(error, TimeoutError):
        return f"timed out ({error})"
    return f"{type(error).__name__}: {error}"


def redact_addresses(text: str, address: str = "") -> str:
    """Return an error text fit for logs: the recipient's address and any other email address replaced."""
    if address:
        text = re.sub(re.escape(address), "[recipient]", text, flags=re.IGNORECASE)
    return _ADDRESS.sub("[address]", text)


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before the next attempt: exponential, capped."""
    config = current_app.config
    seconds = float(config["OUTBOX_RETRY_BASE"]) * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, float(config["OUTBOX_RETRY_MAX"])))


def _finish(claim: ClaimedMessage, worker: str, **values: Any) -> None:
    """Record the outcome of a claim, unless the claim was released and taken by another worker."""
    with write_transaction():
        if db.session.get_bind().dialect.name == "postgresql":
            # One commit per message, without waiting for the WAL flush: a database
            # crash could lose the last few outcomes, and those messages would be
            # sent again, which a worker crash can do anyway (at-least-once delivery).
            db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == claim.id,
                OutboxMessage.status == MessageStatus.SENDING,
                OutboxMessage.claimed_by == worker,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _record_sent(claim: ClaimedMessage, worker: str, now: datetime | None, report: DeliveryReport) -> None:
    """Mark a claim sent, removing its private parts from the stored bodies."""
    _finish(
        claim,
        worker,
        status=MessageStatus.SENT,
        sent_at=now or utcnow(),
        claimed_at=None,
        last_error="",
        **redacted_values(claim),
    )
    report.sent += 1


def redacted_values(claim: ClaimedMessage) -> dict[str, Any]:
    """Return the row's new bodies (and attachments) without the claim's private parts; nothing when it has none.

    A claim rendered from its snapshot leaves its bodies in the row instead (what was
    sent), and the snapshot, which holds the private parts too, is forgotten.
    """
    rendered: dict[str, Any] = (
        {"body_text": claim.body_text, "body_html": claim.body_html, "snapshot": None} if claim.snapshot else {}
    )
    if not claim.redact:
        return rendered
    in_html = claim.redact + [str(escape(secret)) for secret in claim.redact]
    values: dict[str, Any] = {
        **rendered,
        "body_text": redact_secrets(claim.body_text, claim.redact),
        "body_html": redact_secrets(claim.body_html, in_html),
        "redact": [],
    }
    attachments = [
        {**item, "content": redact_secrets(item["content"], claim.redact)}
        if isinstance(item.get("content"), str) and item.get("encoding") != "base64"
        else item
        for item in claim.attachments
    ]
    if attachments != claim.attachments:
        values["attachments"] = attachments
    return values


def redact_secrets(text: str, secrets: list[str]) -> str:
    """Return ``text`` with every occurrence of each secret replaced by REDACTED."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _record_failure(claim: ClaimedMessage, worker: str, error: str, report: DeliveryReport) -> None:
    """Mark a claim failed for good, keeping the error."""
    # The row keeps the whole reply (erasure blanks it); logs and reports never carry the address.
    redacted = redact_addresses(error, claim.recipient_email)
    log.warning("Outbox message %s failed: %s", claim.id, redacted)
    _finish(claim, worker, status=MessageStatus.FAILED, claimed_at=None, last_error=error[:2000])
    report.failed += 1
    report.errors.append(redacted)


def _record_retry(claim: ClaimedMessage, worker: str, error: str, now: datetime | None, report: DeliveryReport) -> None:
    """Schedule another attempt with backoff, or fail the claim after the last one."""
    if claim.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _record_failure(claim, worker, f"gave up after {claim.attempts} attempts: {error}", report)
        return
    redacted = redact_addresses(error, claim.recipient_email)
    log.info("Outbox message %s will be retried: %s", claim.id, redacted)
    _finish(
        claim,
        worker,
        status=MessageStatus.PENDING,
        next_attempt_at=(now or utcnow()) + retry_delay(claim.attempts),
        claimed_at=None,
        claimed_by=None,
        last_error=error[:2000],
    )
    report.retried += 1
    report.errors.append(redacted)


def deliver_after_response(response: Response) -> Response:
    """Deliver due messages once ``response`` has been sent, if so configured.

    Runs when the server closes the response, so the participant never waits;
    any error is logged and swallowed: the messages stay queued for the worker.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config["OUTBOX_DELIVER_AFTER_REQUEST"]:
        return response

    def deliver() -> None:
        with app.app_context():
            try:
                deliver_due(app.config["OUTBOX_REQUEST_BATCH"])
            except Exception:  # noqa: BLE001 - the change is committed; the worker will retry
                app.logger.exception("Delivering the outbox after a request failed")

    response.call_on_close(deliver)
    return response


def _has_line_break(*values: str) -> bool:
    """Tell whether any value holds a CR or LF."""
    return any("\r" in value or "\n" in value for value in values)
