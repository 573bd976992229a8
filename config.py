"""Configuration classes read from the environment, with safe development defaults."""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on")."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _days(name: str, default: int) -> int:
    """Read a whole number of days from the environment; empty means 0 (off)."""
    value = os.environ.get(name, str(default)).strip()
    if not value:
        return 0
    try:
        days = int(value)
    except ValueError:
        days = -1
    if days < 0:
        raise ValueError(f"{name} must be a whole number of days (0 or empty turns it off), not {value!r}.")
    return days


# Public (it is in this file): only a development run (ZAPISY_ENV=development) may sign with it.
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key"


class Config:
    """Base configuration shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY")  # required outside development (create_app checks)
    # Whether a public key (development's, the tests') may sign sessions: never where it matters.
    ALLOW_PUBLIC_SECRET_KEY = False
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'zapisy.sqlite'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # SQLite waits this long (seconds) for a concurrent writer instead of failing.
    SQLITE_BUSY_TIMEOUT = float(os.environ.get("SQLITE_BUSY_TIMEOUT", "30"))

    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    BABEL_DEFAULT_LOCALE = "pl"
    BABEL_DEFAULT_TIMEZONE = "Europe/Warsaw"
    LANGUAGES = ("pl", "en")

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Zapisy <zapisy@localhost>")
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "5"))  # seconds per SMTP socket operation

    # Email outbox (app/notifications). Without MAIL_SERVER, emails are written
    # to OUTBOX_MAIL_DIR (default instance/mail/) as .eml files.
    OUTBOX_MAIL_DIR = os.environ.get("OUTBOX_MAIL_DIR")
    # Uploads of an import between its preview and its confirmation (app/registration/imports.py):
    # default instance/imports/; shared by every app host. Deleted after IMPORT_KEEP_HOURS.
    IMPORT_DIR = os.environ.get("IMPORT_DIR")
    IMPORT_KEEP_HOURS = float(os.environ.get("IMPORT_KEEP_HOURS", "24"))
    # Deliver a few due emails after each response that queued some. Off by default: in a sync
    # gunicorn worker that delivery still holds the worker, and a slow or silent SMTP server then
    # stalls other requests. The outbox worker (`flask outbox work`) delivers instead.
    OUTBOX_DELIVER_AFTER_REQUEST = _bool("OUTBOX_DELIVER_AFTER_REQUEST", False)
    OUTBOX_REQUEST_BATCH = 10  # messages delivered after a request
    OUTBOX_BATCH_SIZE = int(os.environ.get("OUTBOX_BATCH_SIZE", "100"))  # messages per SMTP connection
    OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "10"))
    OUTBOX_RETRY_BASE = float(os.environ.get("OUTBOX_RETRY_BASE", "60"))  # seconds; doubled each attempt
    OUTBOX_RETRY_MAX = float(os.environ.get("OUTBOX_RETRY_MAX", str(6 * 3600)))
    OUTBOX_CLAIM_TIMEOUT = float(os.environ.get("OUTBOX_CLAIM_TIMEOUT", "600"))  # then a dead worker's claim is released
    OUTBOX_POLL_INTERVAL = float(os.environ.get("OUTBOX_POLL_INTERVAL", "5"))
    OUTBOX_RESEND_MAX_PER_HOUR = 3  # new-link emails per registration
    OUTBOX_RESEND_MAX_PER_IP = 20  # resend-link requests per client IP and hour
    OUTBOX_DEV_PAGE = False  # /dev/mail lists the written emails
    # The registration form says "this address is registered already" this many times per address
    # and window (seconds), then refuses neutrally: docs/deploy.md, "What the public forms tell".
    ALREADY_REGISTERED_ANSWERS = int(os.environ.get("ALREADY_REGISTERED_ANSWERS", "3"))
    ALREADY_REGISTERED_WINDOW = int(os.environ.get("ALREADY_REGISTERED_WINDOW", "3600"))
    # Seconds between the outbox worker's audits of the place counters against the bookings
    # (drift is logged as an error; `flask check counters --repair` repairs it). 0 switches it off.
    COUNTER_AUDIT_INTERVAL = float(os.environ.get("COUNTER_AUDIT_INTERVAL", "600"))

    # Seconds between the outbox worker's looks for due reminders before events and for the
    # organisers' daily approval digest (registration.reminders, registration.approval_digest);
    # 0 switches both off (`flask reminders send` still works by hand).
    REMINDER_INTERVAL = float(os.environ.get("REMINDER_INTERVAL", "300"))
    # The digest of requests awaiting approval goes out once a day from this hour (Warsaw time).
    APPROVAL_DIGEST_HOUR = int(os.environ.get("APPROVAL_DIGEST_HOUR", "8"))

    # Seconds the success page after registering can still show the private link (once).
    REGISTRATION_RECEIPT_SECONDS = int(os.environ.get("REGISTRATION_RECEIPT_SECONDS", "900"))

    # Hours a waiting person has to accept a freed place of a ranked workshop.
    RANKED_OFFER_HOURS = float(os.environ.get("RANKED_OFFER_HOURS", "48"))

    SESSION_COOKIE_HTTPONLY = True
    # "Lax", "Strict" or "None"; embedding the form in another site (FRAME_ANCESTORS) needs "None".
    SESSION_COOKIE_SAMESITE = os.environ.get("SESSION_COOKIE_SAMESITE", "Lax")
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    # Sites (space-separated origins, e.g. "https://www.example.org") that may show the registration
    # form in a frame; empty: no site may. README, "Embedding the registration form".
    FRAME_ANCESTORS = os.environ.get("FRAME_ANCESTORS", "")

    REDIS_URL = os.environ.get("REDIS_URL")  # shared counters for several hosts
    LOGIN_THROTTLE_WINDOW = 15 * 60  # seconds in which failed logins are counted
    # One account from one address: after LOGIN_BACKOFF_AFTER failures, wait LOGIN_BACKOFF_BASE seconds,
    # doubled with each further failure up to LOGIN_BACKOFF_MAX. Never a lock: the right password from
    # another address works at once, so nobody can keep an organiser out by failing on purpose.
    LOGIN_BACKOFF_AFTER = 3
    LOGIN_BACKOFF_BASE = 2.0
    LOGIN_BACKOFF_MAX = 300.0
    LOGIN_MAX_FAILURES_PER_IP = 30  # then the address is refused for any account until the window passes
    # Forgotten passwords: a link by email, working once for this many hours; at most so many
    # emails an hour per account and requests an hour per address (more are ignored, silently).
    PASSWORD_RESET_HOURS = float(os.environ.get("PASSWORD_RESET_HOURS", "1"))
    PASSWORD_RESET_MAX_PER_ACCOUNT = 3
    PASSWORD_RESET_MAX_PER_IP = 10
    ADMIN_IDLE_TIMEOUT = int(os.environ.get("ADMIN_IDLE_TIMEOUT", str(30 * 60)))  # seconds
    # Hours after login when a back-office session ends however busy it was (a stolen cookie too).
    ADMIN_MAX_SESSION_HOURS = float(os.environ.get("ADMIN_MAX_SESSION_HOURS", "12"))
    PERMANENT_SESSION_LIFETIME = 12 * 3600

    # Abuse limits (Flask-Limiter), per client IP; storage in Redis when REDIS_URL is set.
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    # Add "Server-Timing: app;dur=<ms>" to every response (the load benchmark reads it). Off by
    # default: it tells any visitor how long the server worked on their request.
    SERVER_TIMING = _bool("SERVER_TIMING", False)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI")  # default: REDIS_URL, else memory
    RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER", "20 per minute; 200 per hour")
    RATELIMIT_RESEND = os.environ.get("RATELIMIT_RESEND", "5 per minute; 30 per hour")
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10 per minute")
    RATELIMIT_MANAGE = os.environ.get("RATELIMIT_MANAGE", "60 per minute")
    # Request size limits (a 413 page answers anything larger).
    MAX_CONTENT_LENGTH = 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 256 * 1024
    MAX_FORM_PARTS = 300

    # Speakers' photos and partners' logos (app/media.py): stored under UPLOAD_FOLDER (default
    # instance/uploads), at most UPLOAD_MAX_BYTES and UPLOAD_MAX_PIXELS each, kept at most
    # UPLOAD_MAX_SIDE pixels a side. Upload views may exceed MAX_CONTENT_LENGTH by UPLOAD_MAX_BYTES.
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER")
    UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
    UPLOAD_MAX_PIXELS = 40_000_000
    UPLOAD_MAX_SIDE = 800

    # Number of proxies (nginx) in front of the app whose X-Forwarded-* headers are trusted.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # Several app hosts share the database: SQLite (one host only) is refused.
    MULTI_HOST = _bool("ZAPISY_MULTI_HOST")

    # Days after an event's end when its registrations are anonymised: `flask gdpr purge`
    # without --before, and the outbox worker once a day. 0 or empty turns it off.
    GDPR_RETENTION_DAYS = _days("GDPR_RETENTION_DAYS", 365)
    # Days after an event's end when answers to its special-category questions (health: diet for
    # medical reasons, accessibility needs) are erased, long before the rest: `flask gdpr
    # purge-special` and the outbox worker every hour. 0 (the default): as soon as the event ends.
    GDPR_SPECIAL_RETENTION_DAYS = _days("GDPR_SPECIAL_RETENTION_DAYS", 0)

    # Version of the data-processing consent text shown on the registration form.
    CONSENT_VERSION = "2026-11"
    # Seconds the public event page (and the programme behind the public pages) may lag edits and counters.
    EVENT_PAGE_CACHE_SECONDS = float(os.environ.get("EVENT_PAGE_CACHE_SECONDS", "2"))
    # Seconds a blank registration form (places left included) may lag; each visitor still gets
    # a CSRF token of their own. 0 renders every form afresh.
    FORM_PAGE_CACHE_SECONDS = float(os.environ.get("FORM_PAGE_CACHE_SECONDS", "2"))


class DevelopmentConfig(Config):
    """Local development: debug helpers on."""

    DEBUG = True
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
    ALLOW_PUBLIC_SECRET_KEY = True
    OUTBOX_DEV_PAGE = True
    # A bare `flask run` shows its emails at once; `make run` starts the outbox worker beside
    # the server instead and switches this off.
    OUTBOX_DELIVER_AFTER_REQUEST = _bool("OUTBOX_DELIVER_AFTER_REQUEST", True)


class TestingConfig(Config):
    """Tests: CSRF stays on (the tests fetch real tokens)."""

    TESTING = True
    SECRET_KEY = "test-secret"
    ALLOW_PUBLIC_SECRET_KEY = True  # an in-memory database unless a test's fixture gives one
    SQLALCHEMY_DATABASE_URI = "sqlite://"  # the tests' fixtures choose the database
    BASE_URL = "http://zapisy.test"
    OUTBOX_DELIVER_AFTER_REQUEST = False  # tests that deliver switch it on
    RATELIMIT_ENABLED = False  # the tests of the limits switch it on
    MAIL_TIMEOUT = 2.0
    EVENT_PAGE_CACHE_SECONDS = 0.0  # every request reads the programme afresh
    FORM_PAGE_CACHE_SECONDS = 0.0


class ProductionConfig(Config):
    """Production: secure cookies; refuses to start with a default secret or debug on."""

    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")


configs = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
