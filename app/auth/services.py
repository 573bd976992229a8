"""Account use cases: create organisers, check passwords with throttling, change and reset passwords."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..errors import DomainError
from ..events.models import Event
from ..extensions import db
from .emails import queue_password_reset
from .models import Organiser, PasswordResetToken, Role
from .throttle import Throttle, backoff_seconds, get_throttle

# The audit log's actor of a refused login: whoever typed it is not known.
ANONYMOUS = "anonymous"
# Checked against when the account does not exist, so both cases take as long.
_DUMMY_HASH = generate_password_hash("not a real password", method="scrypt")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # what the forms accept; scrypt would take any length


class AuthError(DomainError):
    """A refused login or account change, with a translatable message."""

    message = _l("Invalid email or password.")


class TooManyAttempts(AuthError):
    """Too many failed logins from this address (for this account, or for any)."""

    message = _l("Too many failed attempts. Wait a few minutes and try again.")


class ResetLinkInvalid(AuthError):
    """A password reset link that is not (or no longer) one."""

    message = _l("This link to set a new password is not valid. Ask for a new one below.")


class ResetLinkExpired(ResetLinkInvalid):
    """A password reset link past its time."""

    def __init__(self) -> None:
        hours = f"{current_app.config['PASSWORD_RESET_HOURS']:g}"
        super().__init__(
            _l(
                "This link to set a new password has expired: a link works for %(hours)s h. Ask for a new one below.",
                hours=hours,
            )
        )


class ResetLinkUsed(ResetLinkInvalid):
    """A password reset link used already, or made void by a later password."""

    message = _l(
        "This link to set a new password has been used already, or the password has changed since. "
        "Ask for a new one below if you need it."
    )


class WaitBeforeRetrying(TooManyAttempts):
    """The back-off of this account from this address has not passed yet."""

    def __init__(self, seconds: int) -> None:
        super().__init__(_l("Too many failed attempts. Try again in %(seconds)s s.", seconds=seconds))
        self.seconds = seconds


def normalize_account_email(email: str) -> str:
    """Return the stored form of an account email."""
    return email.strip().lower()


def create_organiser(email: str, password: str, role: Role, name: str = "") -> Organiser:
    """Create an account.

    :raises AuthError: for a short password or an email already in use.
    """
    email = normalize_account_email(email)
    check_password_policy(password)
    with write_transaction():
        if db.session.execute(select(Organiser.id).where(Organiser.email == email)).first():
            raise AuthError(_l("An account with this email already exists."))
        organiser = Organiser(
            email=email, name=name, role=role, password_hash=generate_password_hash(password, method="scrypt")
        )
        db.session.add(organiser)
        db.session.flush()
        record("account.created", account_id=organiser.id, account=email, role=role.value)
    return organiser


def check_password_policy(password: str, field: str | None = None) -> None:
    """Refuse a password too short (or absurdly long) to be an account's.

    :raises AuthError: naming ``field``.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(_l("The password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH), field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AuthError(_l("The password may have at most %(n)s characters.", n=MAX_PASSWORD_LENGTH), field=field)


def change_password(
    organiser_id: int, current_password: str, new_password: str, ip: str, now: datetime | None = None
) -> Organiser:
    """Set the account's own new password once its current one is confirmed; every session of it ends.

    A wrong current password counts as a failed login of the account from
    ``ip`` (a borrowed session must not become a way to guess it).

    :raises TooManyAttempts, AuthError: naming the field at fault.
    """
    now = now or utcnow()
    check_password_policy(new_password, field="new_password")
    organiser = _account(organiser_id)
    throttle = get_throttle()
    pair_key, ip_key = login_key(organiser.email, ip), f"ip:{ip}"
    _check_throttle(throttle, pair_key, ip_key, now)
    if not check_password_hash(organiser.password_hash, current_password):
        with write_transaction():
            throttle.hit(pair_key, now)
            throttle.hit(ip_key, now)
        raise AuthError(_l("The current password is not right."), field="current_password")
    with write_transaction():
        organiser = _account(organiser_id)
        _set_password(organiser, new_password)
        throttle.reset(pair_key)
        record("account.password_changed", actor=organiser, account_id=organiser.id, ip=ip)
    return organiser


def set_password(organiser_id: int, password: str, actor: str = "cli") -> Organiser:
    """Give the account a new password without the old one (the command line); every session of it ends.

    :raises AuthError: for a password against the policy or an unknown account.
    """
    check_password_policy(password)
    with write_transaction():
        organiser = _account(organiser_id)
        _set_password(organiser, password)
        record("account.password_set", actor=actor, account_id=organiser.id, account=organiser.email)
    return organiser


def _set_password(organiser: Organiser, password: str, now: datetime | None = None) -> None:
    """Store the hash of a new password, end the account's sessions and void its reset links (flushes only)."""
    organiser.password_hash = generate_password_hash(password, method="scrypt")
    _end_sessions(organiser)
    db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.organiser_id == organiser.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now or utcnow())
    )


# What token_urlsafe(32) gives; anything else in a link is refused before hashing.
RESET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def hash_reset_token(token: str) -> str:
    """Return the stored form of a reset link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def request_password_reset(email: str, ip: str, language: str, now: datetime | None = None) -> None:
    """Email a link that sets a new password to the enabled account of ``email``, if there is one.

    The caller answers the same whatever happens here, so the page tells nobody
    whether an account exists. Requests over PASSWORD_RESET_MAX_PER_IP (per
    address) or PASSWORD_RESET_MAX_PER_ACCOUNT (per email) an hour send
    nothing, so nobody can flood an organiser's inbox. The link's token is
    stored only as a hash and works once, for PASSWORD_RESET_HOURS.
    """
    now = now or utcnow()
    email = normalize_account_email(email)
    config = current_app.config
    throttle = get_throttle(timedelta(hours=1))
    ip_key, account_key = f"reset-ip:{ip}", f"reset:{email}"
    with write_transaction():
        over = (
            throttle.count(ip_key, now) >= config["PASSWORD_RESET_MAX_PER_IP"]
            or throttle.count(account_key, now) >= config["PASSWORD_RESET_MAX_PER_ACCOUNT"]
        )
        throttle.hit(ip_key, now)
        throttle.hit(account_key, now)
        if over:
            current_app.logger.warning("Password reset requests over the limit from %s", ip)
            return
        # Links a week past their time are of no use even to say "expired".
        db.session.execute(delete(PasswordResetToken).where(PasswordResetToken.expires_at < now - timedelta(days=7)))
        organiser = db.session.execute(select(Organiser).where(Organiser.email == email)).scalar_one_or_none()
        if organiser is None or not organiser.is_enabled:
            reason = "unknown_account" if organiser is None else "disabled"
            record(
                "account.password_reset_requested",
                actor=ANONYMOUS,
                ip=ip,
                reason=reason,
                account_id=organiser.id if organiser else None,
                account=organiser.email if organiser else None,
            )
            return
        token = secrets.token_urlsafe(32)
        db.session.add(
            PasswordResetToken(
                organiser_id=organiser.id,
                token_hash=hash_reset_token(token),
                created_at=now,
                expires_at=now + timedelta(hours=config["PASSWORD_RESET_HOURS"]),
            )
        )
        queue_password_reset(organiser, token, language, now)
        record(
            "account.password_reset_requested", actor=ANONYMOUS, account_id=organiser.id, account=organiser.email, ip=ip
        )


def check_reset_link(token: str, now: datetime | None = None) -> Organiser:
    """Return the account a password reset link may set a password for.

    :raises ResetLinkInvalid, ResetLinkExpired, ResetLinkUsed:
    """
    return _reset_link(token, now or utcnow())[1]


def reset_password(token: str, password: str, ip: str, now: datetime | None = None) -> Organiser:
    """Set the password of the account a reset link is for, once: the link, the account's other links and its sessions end.

    :raises ResetLinkInvalid, ResetLinkExpired, ResetLinkUsed, AuthError: the last naming the field at fault.
    """
    now = now or utcnow()
    check_password_policy(password, field="new_password")
    with write_transaction():
        link, organiser = _reset_link(token, now)
        # Single use even when two requests race: only one can change used_at from NULL.
        taken = db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.id == link.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=now)
        )
        if taken.rowcount != 1:
            raise ResetLinkUsed()
        _set_password(organiser, password, now)
        record("account.password_reset", actor=organiser, account_id=organiser.id, ip=ip)
    return organiser


def _reset_link(token: str, now: datetime) -> tuple[PasswordResetToken, Organiser]:
    """Return a usable reset link's row and its enabled account.

    :raises ResetLinkInvalid, ResetLinkExpired, ResetLinkUsed:
    """
    if not RESET_TOKEN.match(token or ""):
        raise ResetLinkInvalid()
    link = db.session.execute(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_reset_token(token))
    ).scalar_one_or_none()
    if link is None:
        raise ResetLinkInvalid()
    if link.used_at is not None:
        raise ResetLinkUsed()
    if link.expires_at <= now:
        raise ResetLinkExpired()
    organiser = db.session.get(Organiser, link.organiser_id, populate_existing=True)
    if organiser is None or not organiser.is_enabled:
        raise ResetLinkInvalid()
    return link, organiser


def authenticate(email: str, password: str, ip: str, now: datetime | None = None) -> Organiser:
    """Return the account for valid credentials.

    Failures slow down guessing without locking anyone out: each account and
    source address together get a short exponential back-off (the right
    password from another address still works at once), and an address that
    fails too often, whatever the accounts, is refused for a while. The
    messages never tell whether the account exists.

    :raises TooManyAttempts, AuthError:
    """
    email = normalize_account_email(email)
    now = now or utcnow()
    throttle = get_throttle()
    pair_key, ip_key = login_key(email, ip), f"ip:{ip}"
    _check_throttle(throttle, pair_key, ip_key, now)
    organiser = db.session.execute(select(Organiser).where(Organiser.email == email)).scalar_one_or_none()
    valid = check_password_hash(organiser.password_hash if organiser else _DUMMY_HASH, password)
    with write_transaction():
        if not valid or organiser is None or not organiser.is_enabled:
            throttle.hit(pair_key, now)
            throttle.hit(ip_key, now)
            _record_failed_login(organiser, valid, ip)
        else:
            throttle.reset(pair_key)
            organiser = db.session.get(Organiser, organiser.id)
            organiser.last_login_at = now
            record("account.login", actor=organiser, account_id=organiser.id, ip=ip)
    if not valid or organiser is None or not organiser.is_enabled:
        raise AuthError()
    return organiser


def login_key(email: str, ip: str) -> str:
    """Return the throttle's key of one account's attempts from one address."""
    return f"login:{normalize_account_email(email)}|{ip}"


def _check_throttle(throttle: Throttle, pair_key: str, ip_key: str, now: datetime) -> None:
    """Refuse an attempt from an address over its limit, or before the account's back-off from it has passed.

    :raises TooManyAttempts, WaitBeforeRetrying:
    """
    config = current_app.config
    if throttle.count(ip_key, now) >= config["LOGIN_MAX_FAILURES_PER_IP"]:
        db.session.rollback()
        raise TooManyAttempts()
    recent = throttle.recent(pair_key, now)
    if recent.last_at is not None:
        wait = (
            backoff_seconds(
                recent.count, config["LOGIN_BACKOFF_AFTER"], config["LOGIN_BACKOFF_BASE"], config["LOGIN_BACKOFF_MAX"]
            )
            - (now - recent.last_at).total_seconds()
        )
        if wait > 0:
            db.session.rollback()
            raise WaitBeforeRetrying(math.ceil(wait))


def _record_failed_login(organiser: Organiser | None, valid: bool, ip: str) -> None:
    """Audit a refused login (flushes only): the account it was for, if any, the IP and why.

    What was typed is never stored: for an unknown account the "email" may
    be a password typed into the wrong field, or a stranger's address.
    """
    if organiser is None:
        record("account.login_failed", actor=ANONYMOUS, ip=ip, reason="unknown_account")
        return
    reason = "wrong_password" if not valid else "disabled"
    record(
        "account.login_failed", actor=ANONYMOUS, account_id=organiser.id, account=organiser.email, ip=ip, reason=reason
    )


def log_out(organiser_id: int, ip: str) -> None:
    """End every session of the account, copies of its cookie included, and audit the logout."""
    with write_transaction():
        organiser = _account(organiser_id)
        _end_sessions(organiser)
        record("account.logout", actor=organiser, account_id=organiser.id, ip=ip)


def _end_sessions(organiser: Organiser) -> None:
    """Give the account a new session version, so that every session cookie of it is stale (flushes only)."""
    organiser.session_version = Organiser.session_version + 1
    db.session.flush()


def session_outlived(logged_in_at: object, now: datetime) -> bool:
    """Tell whether a session that logged in at ``logged_in_at`` (a timestamp; None: unknown) is past its lifetime.

    The lifetime (ADMIN_MAX_SESSION_HOURS) counts from the login, not from the
    last request: a stolen cookie used often still stops working.
    """
    if not isinstance(logged_in_at, (int, float)):
        return True
    limit = current_app.config["ADMIN_MAX_SESSION_HOURS"] * 3600
    return now.timestamp() - logged_in_at > limit


def load_organiser(session_id: str) -> Organiser | None:
    """Return the account of a session identifier "id:version", or None when stale."""
    try:
        organiser_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    organiser = db.session.get(Organiser, organiser_id)
    if organiser is None or organiser.session_version != version or not organiser.is_enabled:
        return None
    return organiser


def visible_events(organiser: Organiser) -> list[Event]:
    """Return the events the account may see (all for admins)."""
    if organiser.role == Role.ADMIN:
        return list(db.session.execute(select(Event).order_by(Event.starts_at.desc())).scalars())
    return sorted(organiser.events, key=lambda e: e.starts_at, reverse=True)


def can_see_event(organiser: Organiser, event_id: int) -> bool:
    """Tell whether the account may see the event's pages and lists."""
    return organiser.role == Role.ADMIN or any(e.id == event_id for e in organiser.events)


def can_manage_event(organiser: Organiser, event_id: int) -> bool:
    """Tell whether the account may change the event and its registrations."""
    return organiser.role == Role.ADMIN or (
        organiser.role == Role.ORGANISER and any(e.id == event_id for e in organiser.events)
    )


def find_organiser(email: str) -> Organiser:
    """Return the account with ``email``.

    :raises AuthError: when there is none.
    """
    organiser = db.session.execute(
        select(Organiser).where(Organiser.email == normalize_account_email(email))
    ).scalar_one_or_none()
    if organiser is None:
        raise AuthError(_l("No account has this email."))
    return organiser


def assign_events(organiser_id: int, event_slugs: list[str]) -> None:
    """Give the account access to the events with these slugs.

    :raises AuthError: naming an unknown slug.
    """
    with write_transaction():
        organiser = db.session.get(Organiser, organiser_id)
        assert organiser is not None
        for slug in event_slugs:
            event = db.session.execute(select(Event).where(Event.slug == slug)).scalar_one_or_none()
            if event is None:
                raise AuthError(_l("No event has the slug %(slug)s.", slug=slug))
            if event not in organiser.events:
                organiser.events.append(event)


def list_accounts() -> list[Organiser]:
    """Return every account, administrators first, then by email."""
    order = {Role.ADMIN: 0, Role.ORGANISER: 1, Role.STAFF: 2}
    accounts = db.session.execute(select(Organiser).order_by(Organiser.email)).scalars().all()
    return sorted(accounts, key=lambda account: order[account.role])


def set_account_enabled(organiser_id: int, enabled: bool, acting_id: int | None = None) -> Organiser:
    """Enable or disable an account; either way its open sessions end.

    :raises AuthError: for an unknown account, or an administrator disabling their own.
    """
    if not enabled and organiser_id == acting_id:
        raise AuthError(_l("You cannot disable your own account."))
    with write_transaction():
        organiser = _account(organiser_id)
        organiser.is_enabled = enabled
        _end_sessions(organiser)
        record("account.enabled" if enabled else "account.disabled", account_id=organiser.id, account=organiser.email)
    return organiser


def assign_event(organiser_id: int, event_id: int) -> None:
    """Give the account access to one event.

    :raises AuthError: for an unknown account or event.
    """
    with write_transaction():
        organiser = _account(organiser_id)
        event = db.session.get(Event, event_id)
        if event is None:
            raise AuthError(_l("This event does not exist."))
        if event not in organiser.events:
            organiser.events.append(event)
            record("account.event_assigned", event_id=event.id, account_id=organiser.id, account=organiser.email)


def unassign_event(organiser_id: int, event_id: int) -> None:
    """Take one event away from the account.

    :raises AuthError: for an unknown account.
    """
    with write_transaction():
        organiser = _account(organiser_id)
        event = next((e for e in organiser.events if e.id == event_id), None)
        if event is not None:
            organiser.events.remove(event)
            record("account.event_unassigned", event_id=event.id, account_id=organiser.id, account=organiser.email)


def _account(organiser_id: int) -> Organiser:
    """Load an account afresh inside the transaction.

    :raises AuthError: when there is none.
    """
    organiser = db.session.get(Organiser, organiser_id, populate_existing=True)
    if organiser is None:
        raise AuthError(_l("This account does not exist."))
    return organiser
