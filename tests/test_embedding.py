"""Embedding the registration form in an organiser's own site (FRAME_ANCESTORS)."""

from __future__ import annotations

import re

import pytest

from app import ConfigError, create_app
from app.security import parse_frame_ancestors
from config import TestingConfig
from tests.conftest import FORM_DEFAULTS, csrf_token

SITES = "https://www.example.org https://Partner.example.com:8443/"
EMBEDDING = {
    "FRAME_ANCESTORS": SITES,
    "SESSION_COOKIE_SAMESITE": "None",
    "SESSION_COOKIE_SECURE": True,
}
ALLOWED = "frame-ancestors https://www.example.org https://partner.example.com:8443"


def _frame_policy(response) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    """Return the frame-ancestors directive of the answer's CSP and its X-Frame-Options."""
    match = re.search(r"frame-ancestors [^;]+", response.headers["Content-Security-Policy"])
    assert match
    return match.group(0), response.headers.get("X-Frame-Options")


def test_no_page_may_be_framed_by_default(client, make_event):
    event = make_event()
    for url in (f"/events/{event.slug}/register", f"/events/{event.slug}/", "/admin/login", "/privacy"):
        assert _frame_policy(client.get(url)) == ("frame-ancestors 'none'", "DENY"), url


@pytest.mark.app_config(**EMBEDDING)
def test_the_named_sites_may_frame_the_form_and_its_result_and_nothing_else(client, make_event, make_session, db):
    event = make_event()
    session = make_session(event, capacity=5)
    form_url = f"/events/{event.slug}/register"
    form = client.get(form_url, headers={"Sec-Fetch-Dest": "iframe"})
    assert _frame_policy(form) == (ALLOWED, None)
    assert _frame_policy(client.get("/privacy")) == (ALLOWED, None)

    # The session cookie crosses into a third-party frame: SameSite=None, Secure, Partitioned.
    cookie = form.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie

    # A refusal (the form again, 422) may be framed too.
    refused = client.post(form_url, data={"csrf_token": csrf_token(form.text)})
    assert refused.status_code == 422 and _frame_policy(refused) == (ALLOWED, None)

    sent = client.post(form_url, data={**FORM_DEFAULTS, "sessions": [session.id], "csrf_token": csrf_token(form.text)})
    assert sent.status_code == 303
    result = client.get(sent.headers["Location"])
    assert result.status_code == 200 and "/r/" in result.text
    assert _frame_policy(result) == (ALLOWED, None)
    # Links that leave the form open in the whole window, not in the frame that refuses them.
    assert re.search(r'href="http://zapisy\.test/r/[^"]+" target="_top"', result.text)

    manage = re.search(r'href="http://zapisy\.test(/r/[^"]+)"', result.text)
    assert manage
    for url in (manage.group(1), f"/events/{event.slug}/", "/", "/admin/login", f"/api/v1/events/{event.slug}"):
        assert _frame_policy(client.get(url)) == ("frame-ancestors 'none'", "DENY"), url


@pytest.mark.app_config(**EMBEDDING)
def test_a_framed_form_whose_browser_blocks_the_cookie_offers_a_new_window(app, make_event):
    event = make_event()
    form_url = f"/events/{event.slug}/register?lang=en"
    page = app.test_client().get(form_url)
    # Another browser (third-party cookies blocked): the form came, the cookie never comes back.
    blocked = app.test_client(use_cookies=False)
    response = blocked.post(
        form_url, data={**FORM_DEFAULTS, "csrf_token": csrf_token(page.text)}, headers={"Sec-Fetch-Dest": "iframe"}
    )
    assert response.status_code == 400
    assert "inside another site" in response.text
    assert re.search(rf'href="{re.escape(form_url)}" target="_blank" rel="noopener"', response.text)
    # Outside a frame the usual message, without the link.
    plain = blocked.post(form_url, data={**FORM_DEFAULTS, "csrf_token": csrf_token(page.text)})
    assert plain.status_code == 400 and "open-new-window" not in plain.text


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://*.example.org",
        "example.org",
        "www.example.org:443",
        "https://www.example.org/form",
        "https://www.example.org?x=1",
        "'self'",
        "'none'",
        "ftp://www.example.org",
        "javascript:alert(1)",
        "https://www.example.org;script-src",
        "https://user@www.example.org",
        "https://www.example.org:0",
        "https://www.example.org:99999",
        "https://",
        "https://www.example.org, https://partner.example.com",
    ],
)
def test_anything_but_origins_is_refused_at_start(value):
    with pytest.raises(ConfigError, match="FRAME_ANCESTORS"):
        create_app(TestingConfig, FRAME_ANCESTORS=value, SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=True)


def test_origins_are_normalised():
    assert parse_frame_ancestors(SITES) == ("https://www.example.org", "https://partner.example.com:8443")
    assert parse_frame_ancestors("  ") == ()
    assert parse_frame_ancestors("http://localhost:8000 http://127.0.0.1:8000") == (
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"FRAME_ANCESTORS": "https://www.example.org"}, "SESSION_COOKIE_SAMESITE=None"),
        ({"FRAME_ANCESTORS": "https://www.example.org", "SESSION_COOKIE_SAMESITE": "Strict"}, "SAMESITE=None"),
        ({"SESSION_COOKIE_SAMESITE": "None"}, "SESSION_COOKIE_SECURE=1"),
        ({"SESSION_COOKIE_SAMESITE": "none", "SESSION_COOKIE_SECURE": True}, "is not one of Lax, Strict, None"),
    ],
)
def test_embedding_without_a_cookie_that_can_cross_is_refused_at_start(settings, message):
    with pytest.raises(ConfigError, match=message):
        create_app(TestingConfig, **settings)


def test_the_default_cookie_stays_lax_and_unpartitioned(app):
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_PARTITIONED"] is False
    assert app.config["FRAME_ANCESTORS_ORIGINS"] == ()
