"""Zapisy: event registration and workshop scheduling."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class: type | None = None, **overrides: Any) -> Flask:
    """Create and configure the Flask application.

    Without ``config_class`` the environment chooses (``ZAPISY_ENV``, production when unset).

    :raises ConfigError: for an unsafe or inconsistent configuration.
    """
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    if config_class is None:
        config_class = config_from_environment()
    app.config.from_object(config_class)
    app.config.update(overrides)
    app.config["IS_PRODUCTION"] = getattr(config_class, "__name__", "") == "ProductionConfig"
    from .db import engine_options

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    )
    check_config(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_blueprints(app)
    register_security(app)
    register_static_files(app)
    register_template_helpers(app)
    register_error_handlers(app)
    register_cli(app)
    register_worker_tasks(app)
    return app


class ConfigError(RuntimeError):
    """The configuration is unsafe or inconsistent; the app refuses to start."""


# Keys anyone can read in this repository: they sign nothing outside development and the tests.
PUBLIC_SECRETS = frozenset({"dev-only-insecure-key", "test-secret"})
MIN_SECRET_LENGTH = 16
MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


def config_from_environment() -> type:
    """Return the config class ``ZAPISY_ENV`` names; unset means production, so nothing runs open by accident.

    :raises ConfigError: for an unknown name.
    """
    from config import configs

    name = os.environ.get("ZAPISY_ENV", "").strip() or "production"
    if name not in configs:
        raise ConfigError(f"ZAPISY_ENV={name!r} is not one of {', '.join(sorted(configs))}.")
    return configs[name]


def check_config(app: Flask) -> None:
    """Refuse to start with a missing or public secret outside development, debug in production, SQLite on several hosts.

    :raises ConfigError:
    """
    if not app.config.get("ALLOW_PUBLIC_SECRET_KEY"):
        secret = app.config.get("SECRET_KEY") or ""
        if not secret:
            problem = "SECRET_KEY is not set"
        elif secret in PUBLIC_SECRETS:
            problem = "SECRET_KEY is the public development key"
        elif len(secret) < MIN_SECRET_LENGTH:
            problem = f"SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters"
        else:
            problem = ""
        if problem:
            raise ConfigError(
                f"{problem}. Outside development it must be a long random value, e.g. from {MAKE_A_SECRET}. "
                "To run locally with the built-in development key, set ZAPISY_ENV=development (make run does)."
            )
    if app.config["IS_PRODUCTION"] and (app.debug or app.config.get("DEBUG")):
        raise ConfigError("Debug mode must be off in production (unset FLASK_DEBUG, or set ZAPISY_ENV=development).")
    if app.config.get("MULTI_HOST") and app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError("ZAPISY_MULTI_HOST is set: several hosts need PostgreSQL, SQLite is for one host only.")
    check_embedding(app)


SAME_SITE_VALUES = ("Lax", "Strict", "None")


def check_embedding(app: Flask) -> None:
    """Check FRAME_ANCESTORS and the session cookie it needs; keep the parsed origins in FRAME_ANCESTORS_ORIGINS.

    A form framed by another site is a third-party context: its session cookie (the CSRF
    token, the receipt of the registration) travels only as ``SameSite=None; Secure``, and
    goes ``Partitioned`` (CHIPS) so that browsers which block third-party cookies still keep
    it, for that site only.

    :raises ConfigError:
    """
    from .security import parse_frame_ancestors

    same_site = app.config.get("SESSION_COOKIE_SAMESITE")
    if same_site not in SAME_SITE_VALUES:
        raise ConfigError(f"SESSION_COOKIE_SAMESITE={same_site!r} is not one of {', '.join(SAME_SITE_VALUES)}.")
    try:
        origins = parse_frame_ancestors(app.config.get("FRAME_ANCESTORS"))
    except ValueError as error:
        raise ConfigError(str(error)) from error
    if origins and same_site != "None":
        raise ConfigError(
            "FRAME_ANCESTORS is set, but a form in another site's frame gets its session cookie only with "
            "SESSION_COOKIE_SAMESITE=None (and SESSION_COOKIE_SECURE=1, over HTTPS): set both, or unset "
            "FRAME_ANCESTORS."
        )
    if same_site == "None" and not app.config.get("SESSION_COOKIE_SECURE"):
        raise ConfigError("SESSION_COOKIE_SAMESITE=None needs SESSION_COOKIE_SECURE=1: browsers refuse it otherwise.")
    app.config["FRAME_ANCESTORS_ORIGINS"] = origins
    app.config["SESSION_COOKIE_PARTITIONED"] = same_site == "None"


def register_security(app: Flask) -> None:
    """Install rate limits, security headers, request ids and /healthz; trust the proxy if told to."""
    from .registration.counters import health_check as counters_health_check
    from .security import add_deep_health_check, init_security

    init_security(app)
    add_deep_health_check(app, "counters", counters_health_check)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    """Bind the extensions to the app."""
    from . import db as _db_events  # noqa: F401  (SQLite connection events)
    from .extensions import babel, bootstrap, csrf, db, login_manager, mail, migrate
    from .i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    translations = Path(__file__).parent / "translations"
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(translations))
    check_compiled_catalogs(translations, [code for code in app.config["LANGUAGES"] if code != "en"])
    bootstrap.init_app(app)
    login_manager.init_app(app, add_context_processor=False)  # see extensions.py
    from flask_login import current_user

    app.jinja_env.globals["current_user"] = current_user  # read only where a template uses it
    from .auth.sessions import load_user

    login_manager.user_loader(load_user)
    # Import the models so that metadata (and Alembic) knows every table.
    from .audit import models as _audit  # noqa: F401
    from .auth import models as _auth  # noqa: F401
    from .checkin import models as _checkin  # noqa: F401
    from .events import models as _events  # noqa: F401
    from .notifications import models as _notifications  # noqa: F401
    from .ranking import models as _ranking  # noqa: F401
    from .registration import models as _registration  # noqa: F401


def check_compiled_catalogs(directory: Path, languages: list[str]) -> list[str]:
    """Log (and return) the languages whose compiled catalog (messages.mo) is missing.

    Without it Flask-Babel quietly serves the English msgids under lang="pl".
    """
    missing = [code for code in languages if not (directory / code / "LC_MESSAGES" / "messages.mo").is_file()]
    if missing:
        logging.getLogger("zapisy").warning(
            "Compiled translations missing for %s in %s: pages would show English. Run `make translations` "
            "(pybabel compile -d app/translations).",
            ", ".join(missing),
            directory,
        )
    return missing


def register_blueprints(app: Flask) -> None:
    """Attach the blueprints of each area."""
    from .admin.accounts import bp as admin_accounts_bp
    from .admin.allocation import bp as admin_allocation_bp
    from .admin.certificates import bp as admin_certificates_bp
    from .admin.checkin import bp as admin_checkin_bp
    from .admin.dashboard import bp as admin_dashboard_bp
    from .admin.events import bp as admin_events_bp
    from .admin.exports import bp as admin_exports_bp
    from .admin.imports import bp as admin_import_bp
    from .admin.questions import bp as admin_questions_bp
    from .admin.registrations import bp as admin_registrations_bp
    from .admin.routes import bp as admin_bp
    from .admin.speakers import bp as admin_speakers_bp
    from .api import bp as api_bp
    from .auth.routes import bp as auth_bp
    from .certificates.routes import bp as certificates_bp
    from .events.routes import bp as events_bp
    from .notifications.routes import bp as notifications_bp
    from .registration.gdpr_routes import bp as gdpr_bp
    from .registration.routes import bp as registration_bp

    app.register_blueprint(events_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(gdpr_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(admin_events_bp)
    app.register_blueprint(admin_accounts_bp)
    app.register_blueprint(admin_registrations_bp)
    app.register_blueprint(admin_dashboard_bp)
    app.register_blueprint(admin_exports_bp)
    app.register_blueprint(admin_allocation_bp)
    app.register_blueprint(admin_questions_bp)
    app.register_blueprint(admin_checkin_bp)
    app.register_blueprint(admin_import_bp)
    app.register_blueprint(admin_speakers_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(admin_certificates_bp)


def register_static_files(app: Flask) -> None:
    """Version static files' URLs by their content, so that browsers may keep them for a year; serve uploads."""
    from .media import init_media
    from .static_files import init_static_files

    init_static_files(app)
    init_media(app)


def register_template_helpers(app: Flask) -> None:
    """Make formatting helpers available to every template."""
    from .templating import init_templating

    init_templating(app)


def register_error_handlers(app: Flask) -> None:
    """Render error pages in the page's language."""
    from .errors import init_errors

    init_errors(app)


def register_cli(app: Flask) -> None:
    """Add the project's flask commands."""
    from .cli import init_cli

    init_cli(app)


def register_worker_tasks(app: Flask) -> None:
    """Give the outbox worker the domains' periodic tasks."""
    from .notifications.worker import add_task
    from .registration.approval_digest import send_approval_digests
    from .registration.counters import log_drift
    from .registration.gdpr import purge_past_retention
    from .registration.holds import expire_holds
    from .registration.imports import purge_uploads
    from .registration.offers import expire_offers
    from .registration.questions import purge_special_past_retention
    from .registration.reminders import send_due_reminders

    add_task(app, "expire offered places", expire_offers)
    add_task(app, "expire unconfirmed holds", expire_holds)
    # Uploads kept for an import's preview hold personal data: gone after IMPORT_KEEP_HOURS.
    add_task(app, "delete old import uploads", purge_uploads, every=3600.0)
    if app.config.get("GDPR_RETENTION_DAYS"):
        # Once a day, and an hour after a failure (the database restarting, say).
        add_task(app, "purge past retention", purge_past_retention, every=24 * 3600.0, retry_after=3600.0)
    if app.config["REMINDER_INTERVAL"] > 0:
        every = app.config["REMINDER_INTERVAL"]
        add_task(app, "send due reminders", send_due_reminders, every=every, retry_after=min(every, 60.0))
        add_task(app, "send approval digests", send_approval_digests, every=every, retry_after=min(every, 60.0))
    # Special-category answers go soon after the event, whatever GDPR_RETENTION_DAYS says.
    add_task(app, "purge special-category answers", purge_special_past_retention, every=3600.0)
    if app.config["COUNTER_AUDIT_INTERVAL"] > 0:
        add_task(app, "audit place counters", log_drift, every=app.config["COUNTER_AUDIT_INTERVAL"])
