"""Security headers, request limits, rate limits, health check and safe start-up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import ConfigError, create_app
from app.registration.models import Registration
from app.security import get_limiter, redact
from config import ProductionConfig, TestingConfig
from tests.conftest import FORM_DEFAULTS, csrf_token, submit

ROOT = Path(__file__).resolve().parent.parent


def test_security_headers_on_pages_errors_and_static_files(client, make_event):
    event = make_event()
    for url in ("/", f"/events/{event.slug}/", "/no-such-page", "/static/css/zapisy.css", "/admin/login"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Request-ID"]


def test_manage_and_admin_pages_are_private(client, make_event, register):
    event = make_event()
    from app.registration import services
    from app.registration.services import Choices

    result = services.register(
        event,
        services.ParticipantData(first_name="Ala", last_name="Kot", email="ala@example.com", category="mayor"),
        Choices(),
    )
    manage = client.get(f"/r/{result.token}")
    assert manage.status_code == 200
    assert manage.headers["Referrer-Policy"] == "no-referrer"
    assert manage.headers["Cache-Control"] == "no-store"
    assert client.get("/admin/login").headers["Cache-Control"] == "no-store"
    assert client.get(f"/events/{event.slug}/").headers["Referrer-Policy"] != "no-referrer"


def test_public_pages_load_nothing_from_other_sites(client, make_event, register):
    event = make_event()
    page = client.get(f"/events/{event.slug}/register").text
    assert "https://" not in page.split("<body", 1)[0] and "cdn" not in page.lower()


def test_hsts_only_under_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    assert "Strict-Transport-Security" in client.get("/", base_url="https://zapisy.test").headers


def test_server_timing_header_only_when_switched_on(app, client):
    assert "Server-Timing" not in client.get("/").headers
    app.config["SERVER_TIMING"] = True
    timing = client.get("/").headers["Server-Timing"]
    assert timing.startswith("app;dur=") and float(timing.removeprefix("app;dur=")) >= 0


def test_request_id_is_kept_when_sane_and_replaced_when_not(client):
    assert client.get("/", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert client.get("/", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"] != "bad id <script>"


def test_logs_never_contain_manage_tokens(client, caplog):
    token = "A" * 43
    with caplog.at_level(logging.INFO, logger="zapisy.request"):
        client.get(f"/r/{token}")
    assert caplog.records and all(token not in r.getMessage() for r in caplog.records)
    assert redact(f'"GET /r/{token}/calendar.ics HTTP/1.1"') == '"GET /r/[token]/calendar.ics HTTP/1.1"'
    with caplog.at_level(logging.INFO, logger="zapisy.request"):
        client.get(f"/admin/reset-password/{token}")
    assert all(token not in r.getMessage() for r in caplog.records)
    assert redact(f"/admin/reset-password/{token}") == "/admin/reset-password/[token]"


def test_gunicorn_access_log_hides_reset_links_too():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    line = '"GET /admin/reset-password/SECRET123 HTTP/1.1" "GET /r/SECRET456 HTTP/1.1"'
    assert "SECRET" not in conf.redact(line)


def test_oversized_requests_get_the_413_page(client, make_event, db):
    event = make_event()
    client.get("/language/en")
    response = client.post(f"/events/{event.slug}/register", data={"first_name": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413 and "too large" in response.text
    assert db.session.execute(select(func.count()).select_from(Registration)).scalar_one() == 0


@pytest.fixture
def limits_on(app):  # type: ignore[no-untyped-def]
    """Start and end with empty rate-limit counters."""
    get_limiter(app).reset()
    yield
    get_limiter(app).reset()


LIMITS = pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="20 per minute")


@LIMITS
@pytest.mark.parametrize(("language", "text"), [("pl", "Zbyt wiele żądań"), ("en", "Too many requests")])
def test_registration_is_rate_limited_per_ip_with_a_clear_page(client, make_event, limits_on, app, language, text):
    event = make_event()
    client.get(f"/language/{language}")
    token = csrf_token(client.get(f"/events/{event.slug}/register").text)
    statuses = [
        client.post(
            f"/events/{event.slug}/register", data={**FORM_DEFAULTS, "email": f"r{i}@example.com", "csrf_token": token}
        ).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [303] * 20
    limited = client.post(
        f"/events/{event.slug}/register", data={**FORM_DEFAULTS, "email": "late@example.com", "csrf_token": token}
    )
    assert limited.status_code == 429 and text in limited.text
    assert client.get(f"/events/{event.slug}/register").status_code == 200  # reading is not limited


@LIMITS
def test_login_is_rate_limited(client, limits_on):
    token = csrf_token(client.get("/admin/login").text)
    codes = [
        client.post("/admin/login", data={"email": "x@y.pl", "password": "p", "csrf_token": token}).status_code
        for _ in range(11)
    ]
    assert codes[-1] == 429


def test_healthz_checks_the_database(client, tmp_path):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    broken = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing-dir/x/db.sqlite")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "error"


@pytest.mark.parametrize(
    "overrides",
    [
        {"SECRET_KEY": "dev-only-insecure-key"},
        {"SECRET_KEY": ""},
        {"SECRET_KEY": "short"},
        {"SECRET_KEY": "x" * 40, "DEBUG": True},
    ],
)
def test_production_refuses_unsafe_settings(overrides):
    with pytest.raises(ConfigError):
        create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI="sqlite://", **overrides)


def test_production_starts_with_a_real_secret():
    app = create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="x" * 40)
    assert app.config["SESSION_COOKIE_SECURE"] is True


REAL_SECRET = "a-real-secret-of-enough-length-0123456789"


@pytest.mark.parametrize("secret", [None, "", "dev-only-insecure-key", "test-secret", "short"])
def test_without_zapisy_env_a_missing_or_public_secret_is_refused(monkeypatch, secret):
    # Unset ZAPISY_ENV used to mean development: the public key signed sessions, /dev/mail was served.
    monkeypatch.delenv("ZAPISY_ENV", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY .*ZAPISY_ENV=development"):
        create_app(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY=secret)


def test_the_refusal_is_what_a_bare_flask_command_prints(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ZAPISY_ENV", "SECRET_KEY", "FLASK_DEBUG")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "ZAPISY_ENV=development" in result.stderr
    assert "/dev/mail" not in result.stdout


def test_only_an_explicit_development_environment_serves_dev_mail_with_the_public_key(monkeypatch):
    monkeypatch.delenv("ZAPISY_ENV", raising=False)
    unset = create_app(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY=REAL_SECRET, SESSION_COOKIE_SECURE=False)
    assert unset.config["IS_PRODUCTION"] and not unset.debug
    assert unset.test_client().get("/dev/mail").status_code == 404
    monkeypatch.setenv("ZAPISY_ENV", "production")
    production = create_app(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY=REAL_SECRET)
    assert production.test_client().get("/dev/mail").status_code == 404
    monkeypatch.setenv("ZAPISY_ENV", "development")
    development = create_app(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="dev-only-insecure-key")
    assert development.test_client().get("/dev/mail").status_code == 200


def test_an_unknown_zapisy_env_is_refused(monkeypatch):
    monkeypatch.setenv("ZAPISY_ENV", "prod")
    with pytest.raises(ConfigError, match="'prod' is not one of development, production, testing"):
        create_app(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY=REAL_SECRET)


def test_several_hosts_refuse_sqlite():
    with pytest.raises(ConfigError, match="PostgreSQL"):
        create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite:///x.db", MULTI_HOST=True)


def test_forged_csrf_token_is_refused_and_nothing_stored(client, make_event, db):
    event = make_event()
    client.get(f"/events/{event.slug}/register")
    response = client.post(f"/events/{event.slug}/register", data={**FORM_DEFAULTS, "csrf_token": "forged.token.value"})
    assert response.status_code == 400
    assert db.session.execute(select(func.count()).select_from(Registration)).scalar_one() == 0


@LIMITS
def test_form_submission_still_works_with_the_limits_on(client, make_event, limits_on):
    event = make_event()
    assert submit(client, f"/events/{event.slug}/register", FORM_DEFAULTS).status_code == 303
