"""Abuse limits, security headers, request ids, logs without secrets, and the health check."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, jsonify, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import text

from .db import database_writable
from .extensions import db


def get_limiter(app: Flask) -> Limiter:
    """Return the app's rate limiter."""
    return app.extensions["zapisy_limiter"]


# Which endpoints are limited, and how much (POST only unless stated).
RATE_LIMITS = {
    "registration.register": ("RATELIMIT_REGISTER", True),
    "notifications.resend_link": ("RATELIMIT_RESEND", True),
    "auth.login": ("RATELIMIT_LOGIN", True),
    "registration.manage": ("RATELIMIT_MANAGE", False),
    "registration.cancel_booking": ("RATELIMIT_MANAGE", False),
    "registration.cancel_registration": ("RATELIMIT_MANAGE", False),
    "registration.calendar": ("RATELIMIT_MANAGE", False),
    "registration.change_answers": ("RATELIMIT_MANAGE", False),
    "gdpr.download": ("RATELIMIT_MANAGE", False),
    "gdpr.erase": ("RATELIMIT_MANAGE", False),
    "gdpr.marketing_consent": ("RATELIMIT_MANAGE", False),
}

# Browser features no page needs are switched off; the check-in desk scans badges' QR codes
# with the camera, on its own page only.
PERMISSIONS_POLICY = "camera=(), geolocation=(), microphone=()"
CAMERA_PERMISSIONS_POLICY = "camera=(self), geolocation=(), microphone=()"
CAMERA_ENDPOINTS = frozenset({"admin_checkin.page"})

# The pages an organiser's own site may show in a frame when FRAME_ANCESTORS names it: the
# registration form (its refusals and errors included), the page after it, and the privacy
# notice the form's consent refers to. Everything else, the back office and the private
# manage pages above all, refuses every frame.
EMBEDDABLE_ENDPOINTS = frozenset({"registration.register", "registration.registered", "events.privacy"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors {ancestors}"
)
# An origin as CSP's frame-ancestors takes it: scheme, host (letters, digits, dots, hyphens) and port.
FRAME_ANCESTOR = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def parse_frame_ancestors(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Return the origins of the FRAME_ANCESTORS setting (space-separated), checked and lower-cased.

    :raises ValueError: naming the first value that is not an ``https://`` or ``http://``
        origin (no path, no wildcard, no CSP keyword).
    """
    items = value.split() if isinstance(value, str) else list(value or ())
    origins = []
    for item in items:
        origin = item.lower().removesuffix("/")
        port = origin.rpartition(":")[2] if origin.count(":") == 2 else ""
        if not FRAME_ANCESTOR.match(origin) or (port and not 0 < int(port) < 65536):
            raise ValueError(
                f"FRAME_ANCESTORS: {item!r} is not an origin such as https://www.example.org "
                "(scheme https or http, a host name, an optional port; no path, no *, no quotes), "
                "separated by spaces."
            )
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


# Secrets in paths: a manage link (/r/<token>) and a password-reset link (/admin/reset-password/<token>).
TOKEN_IN_PATH = re.compile(r"(/r|/reset-password)/[^/?#\s]+")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("zapisy.request")


def redact(path: str) -> str:
    """Hide private manage tokens in a path or log line."""
    return TOKEN_IN_PATH.sub(r"\1/[token]", path)


class RedactTokens(logging.Filter):
    """Logging filter that removes manage tokens from every message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without tokens."""
        message = record.getMessage()
        if "/r/" in message:
            record.msg = redact(message)
            record.args = ()
        return True


def init_security(app: Flask) -> None:
    """Install limits, headers, request ids and logging on ``app``."""
    app.config["RATELIMIT_STORAGE_URI"] = (
        app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL") or "memory://"
    )
    # One limiter per app: limits are registered per view, and tests build many apps.
    # Keyed per client IP; shared between workers and hosts when REDIS_URL is set.
    limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
    limiter.init_app(app)
    app.extensions["zapisy_limiter"] = limiter
    for endpoint, (setting, post_only) in RATE_LIMITS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        limit = app.config[setting]
        methods = ["POST"] if post_only else None
        app.view_functions[endpoint] = limiter.limit(limit, methods=methods)(view)

    for logger in (
        app.logger,
        *(logging.getLogger(n) for n in ("werkzeug", "gunicorn.access", "gunicorn.error", "zapisy.request")),
    ):
        logger.addFilter(RedactTokens())

    app.before_request(_start_request)
    app.after_request(_security_headers)
    app.add_url_rule("/healthz", "healthz", healthz)
    limiter.exempt(app.view_functions["healthz"])


def _start_request() -> None:
    """Give the request an id (the proxy's, if sane), note its start, refuse NUL characters.

    No text column can hold NUL on PostgreSQL (SQLite would store it): such
    input is refused up front with a 400 page instead of failing in the database.
    """
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(8)
    g.started = time.perf_counter()
    if "\x00" in request.path or _has_nul(request.args) or (request.method == "POST" and _has_nul(request.form)):
        abort(400)


def _has_nul(values) -> bool:  # type: ignore[no-untyped-def]
    """Tell whether any key or value of a multi-dict holds a NUL character."""
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def _security_headers(response: Response) -> Response:
    """Add the security headers to every response, error pages and static files included."""
    headers = response.headers
    ancestors = current_app.config.get("FRAME_ANCESTORS_ORIGINS", ())
    if ancestors and request.endpoint in EMBEDDABLE_ENDPOINTS:
        # X-Frame-Options cannot name several sites: the CSP alone says who may frame the page.
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY.format(ancestors=" ".join(ancestors)))
    else:
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY.format(ancestors="'none'"))
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault(
        "Permissions-Policy",
        CAMERA_PERMISSIONS_POLICY if request.endpoint in CAMERA_ENDPOINTS else PERMISSIONS_POLICY,
    )
    path = request.path
    private = path.startswith("/r/") or path.startswith("/admin") or path.startswith("/dev/")
    # The manage link must never leak to another site through the Referer header.
    headers["Referrer-Policy"] = "no-referrer" if path.startswith("/r/") else "strict-origin-when-cross-origin"
    if private:
        headers["Cache-Control"] = "no-store"
    if request.is_secure or current_app.config.get("PREFERRED_URL_SCHEME") == "https":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    request_id = g.get("request_id")
    if request_id:
        headers["X-Request-ID"] = request_id
        started = g.get("started")
        elapsed_ms = (time.perf_counter() - started) * 1000 if started else -1
        log.info(
            "request_id=%s method=%s path=%s status=%s ms=%.1f",
            request_id,
            request.method,
            redact(path),
            response.status_code,
            elapsed_ms,
        )
        if started and current_app.config.get("SERVER_TIMING"):
            headers["Server-Timing"] = f"app;dur={elapsed_ms:.2f}"
    return response


def healthz():  # type: ignore[no-untyped-def]
    """Answer 200 when the database answers and takes writes, 503 otherwise; ``?deep=1`` adds the deep checks."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        writable, state = database_writable()
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        return jsonify(status="error", database="unavailable"), 503
    if not writable:  # read-only or full: registrations would fail
        return jsonify(status="error", database=state), 503
    # Deep checks (registered by create_app, e.g. the booking counters): only on ?deep=1.
    if request.args.get("deep") == "1":
        healthy, fields = run_deep_health_checks()
        return jsonify(status="ok" if healthy else "error", database="ok", **fields), 200 if healthy else 503
    return jsonify(status="ok", database="ok")


# A deep health check returns whether all is well and the fields it adds to the answer
# (counts and states only: /healthz answers anyone).
DeepHealthCheck = Callable[[], tuple[bool, dict[str, object]]]


def add_deep_health_check(app: Flask, name: str, check: DeepHealthCheck) -> None:
    """Have ``/healthz?deep=1`` run ``check`` too; ``name`` reports it when it fails to run."""
    app.extensions.setdefault("zapisy_deep_health_checks", {})[name] = check


def run_deep_health_checks() -> tuple[bool, dict[str, object]]:
    """Run the app's deep health checks; return whether all passed and the fields they add."""
    all_healthy, fields = True, dict[str, object]()
    for name, check in current_app.extensions.get("zapisy_deep_health_checks", {}).items():
        try:
            healthy, found = check()
        except Exception:  # noqa: BLE001 - a check that cannot run is a failed check
            current_app.logger.exception("Deep health check %s failed", name)
            healthy, found = False, {name: "unavailable"}
        finally:
            db.session.rollback()
        fields.update(found)
        all_healthy = all_healthy and healthy
    return all_healthy, fields


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a local path, else the home page.

    Control characters are refused outright: browsers drop tabs and line breaks
    ("/\t/evil.example" is "//evil.example" to them) and a CR/LF cannot go into a header.
    """
    if target and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
    return url_for("events.index")
