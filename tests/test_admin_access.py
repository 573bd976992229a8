"""Every back-office route, found by walking app.url_map, refuses anonymous users and other events' organisers."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token

PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.logout",
    "auth.forgot_password",
    "auth.reset_password_link",
    "auth.reset_password",
}


def _admin_rules(app):  # type: ignore[no-untyped-def]
    """Return (rule, methods) of every /admin route but the login, logout and forgotten-password pages."""
    rules = []
    for rule in app.url_map.iter_rules():
        # Logging in and out needs no account (logging out clears the session), nor does
        # setting a forgotten password (tests/test_passwords.py checks its links).
        if not rule.rule.startswith("/admin") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        methods = sorted(m for m in rule.methods if m in {"GET", "POST"})
        rules.append((rule, methods))
    assert len(rules) > 30, "the walk found too few admin routes"
    return rules


def _url(rule, event_id: int) -> str:  # type: ignore[no-untyped-def]
    """Fill a rule's placeholders: the given event, and existing-looking ids for the rest."""

    def value(name: str, converter: str) -> str:
        if name == "event_id":
            return str(event_id)
        if converter.startswith("any("):
            return converter[4:-1].split(",")[0].strip().strip("'\"")
        return "1"

    return re.sub(r"<(?:(\w+(?:\([^)]*\))?):)?(\w+)>", lambda m: value(m.group(2), m.group(1) or ""), rule.rule)


def test_every_admin_route_sends_anonymous_users_to_login(app, client, make_event, make_session):
    event = make_event()
    make_session(event, groups=[2])
    token = csrf_token(client.get("/admin/login").text)  # a valid token of this anonymous session
    for rule, methods in _admin_rules(app):
        url = _url(rule, event.id)
        for method in methods:
            response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code == 302, (method, url, response.status_code)
            assert "/admin/login" in response.headers["Location"], (method, url)


@pytest.mark.parametrize("role", ["organiser", "staff"])
def test_every_event_route_refuses_an_account_of_another_event(
    app, client, make_event, make_session, register, as_organiser, role
):
    mine, theirs = make_event(), make_event()
    session = make_session(theirs, groups=[2])
    register(theirs, session)
    as_organiser(role, events=[mine])
    token = csrf_token(client.get("/admin/").text)
    checked = 0
    for rule, methods in _admin_rules(app):
        if "event_id" not in rule.arguments:
            continue
        url = _url(rule, theirs.id)
        for method in methods:
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code in (403, 404), (method, url, response.status_code)
            checked += 1
    assert checked > 20


def test_admin_only_routes_refuse_organisers(app, client, make_event, as_organiser):
    event = make_event()
    as_organiser("organiser", events=[event])
    token = csrf_token(client.get("/admin/").text)
    paths = ("/admin/accounts/", "/admin/accounts/new", "/admin/series/", "/admin/series/new")
    assert all(any(rule.rule == path for rule in app.url_map.iter_rules()) for path in paths)
    for path in paths:
        assert client.get(path).status_code == 403, path
        assert client.post(path, data={"csrf_token": token}).status_code in (403, 405), path


# What staff at the venue may open of their own event: the check-in desk, the printed lists
# (names, organisations, sessions), the certificates of attendance (the same, as PDF; emailing
# them is the organisers') and the figures (dashboard, allocation runs). Everything else of the event is 403:
# contact details, lists and exports of personal data, and every change.
STAFF_ROUTES = {
    ("GET", "admin_certificates.index"),
    ("GET", "admin_certificates.download_all"),
    ("GET", "admin_certificates.download_one"),
    ("GET", "admin_dashboard.event_dashboard"),
    ("GET", "admin_allocation.index"),
    ("GET", "admin_checkin.page"),
    ("POST", "admin_checkin.check_in"),
    ("GET", "admin_checkin.attendance"),
    ("GET", "admin_exports.exports"),
    ("GET", "admin_exports.sign_in_sheet"),
    ("GET", "admin_exports.badges"),
}


def test_staff_of_the_event_open_only_the_venue_pages_and_never_see_contact_details(
    app, client, db, make_event, make_session, register, as_organiser
):
    event = make_event()
    session = make_session(event, groups=[2])
    registration = register(event, session, email="ewa.kontakt@example.com", phone="+48 601 234 567")
    as_organiser("staff", events=[event])
    token = csrf_token(client.get("/admin/").text)
    opened = set()
    for rule, methods in _admin_rules(app):
        if "event_id" not in rule.arguments:
            continue
        url = _url(rule, event.id).replace("/sessions/1/", f"/sessions/{session.id}/")
        url = url.replace("/registrations/1", f"/registrations/{registration.id}")
        for method in methods:
            data = {"csrf_token": token, "code": registration.checkin_code} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            if (method, rule.endpoint) in STAFF_ROUTES:
                assert response.status_code in (200, 302), (method, url, response.status_code)
                opened.add((method, rule.endpoint))
                text = response.get_data(as_text=True)
                assert "ewa.kontakt" not in text and "601 234 567" not in text, (method, url)
            else:
                assert response.status_code in (403, 404), (method, url, response.status_code)
    assert opened == STAFF_ROUTES
    assert client.get(f"/admin/events/{event.id}/export.csv").status_code == 403
    checked_in = client.get(f"/admin/events/{event.id}/attendance.json").get_json()
    assert checked_in["present"] == 1, checked_in  # the desk's POST did check the person in
