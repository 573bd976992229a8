"""Organiser logins, failed logins and logouts go to the audit log; no password or typed text is kept."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from tests.conftest import PASSWORD, csrf_token, login, submit


def _entries(db, prefix: str = "account.log") -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    """Return the login and logout entries, oldest first."""
    db.session.rollback()
    return list(
        db.session.execute(
            select(AuditEntry).where(AuditEntry.action.like(f"{prefix}%")).order_by(AuditEntry.id)
        ).scalars()
    )


def _whole_log(db) -> str:  # type: ignore[no-untyped-def]
    """Return everything the audit log holds, as one text."""
    db.session.rollback()
    return json.dumps([[e.actor_label, e.action, e.details] for e in db.session.execute(select(AuditEntry)).scalars()])


def test_a_login_and_a_logout_are_audited(client, db, make_organiser):
    organiser = make_organiser("admin")
    assert login(client, organiser).status_code == 302
    page = client.get("/admin/")
    client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)})
    logged_in, logged_out = _entries(db)
    assert logged_in.action == "account.login" and logged_out.action == "account.logout"
    for entry in (logged_in, logged_out):
        assert entry.actor_id == organiser.id and entry.actor_label == organiser.email
        assert entry.details == {"account_id": organiser.id, "ip": "127.0.0.1"}
    assert PASSWORD not in _whole_log(db)


def test_a_logout_without_a_session_records_nothing(client, db):
    page = client.get("/admin/login")
    client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)})
    assert _entries(db) == []


@pytest.mark.parametrize(
    "enabled, password, reason",
    [
        (True, "not the password!", "wrong_password"),
        (False, PASSWORD, "disabled"),
    ],
)
def test_a_refused_login_of_a_known_account_is_audited(client, db, make_organiser, enabled, password, reason):
    organiser = make_organiser(is_enabled=enabled)
    assert login(client, organiser, password).status_code == 422
    [entry] = _entries(db)
    assert entry.action == "account.login_failed"
    assert entry.actor_id is None and entry.actor_label == "anonymous"
    assert entry.details == {
        "account_id": organiser.id,
        "account": organiser.email,
        "ip": "127.0.0.1",
        "reason": reason,
    }
    assert password not in _whole_log(db)


def test_a_login_for_an_unknown_account_keeps_nothing_that_was_typed(client, db):
    # People type their password into the email field, or someone else's address.
    typed_email, typed_password = "Secret-Passw0rd@zapisy.test", "hunter2 hunter2"
    assert submit(client, "/admin/login", {"email": typed_email, "password": typed_password}).status_code == 422
    [entry] = _entries(db)
    assert entry.action == "account.login_failed" and entry.actor_id is None
    assert entry.details == {"ip": "127.0.0.1", "reason": "unknown_account"}
    whole = _whole_log(db).lower()
    assert typed_email.lower() not in whole and "secret-passw0rd" not in whole and typed_password not in whole


def test_attempts_refused_by_the_throttle_are_not_audited_one_by_one(client, db, make_organiser, app):
    organiser = make_organiser()
    limit = app.config["LOGIN_BACKOFF_AFTER"]
    for _ in range(limit):
        login(client, organiser, "bad password!")
    login(client, organiser)  # refused by the back-off, right password or not
    login(client, organiser, "bad password!")
    entries = _entries(db)
    assert len(entries) == limit and {e.details["reason"] for e in entries} == {"wrong_password"}


def test_the_admins_audit_log_shows_logins_in_words(client, db, make_organiser):
    admin = make_organiser("admin")
    other = make_organiser("organiser")
    login(client, other, "not the password!")
    submit(client, "/admin/login", {"email": "nobody@zapisy.test", "password": "whatever123"})
    client.get("/language/en")
    login(client, admin)
    page = client.get("/admin/audit?kind=logins")
    assert page.status_code == 200
    assert "Failed login" in page.text and "wrong password" in page.text and "no account has this email" in page.text
    assert "Logged in" in page.text and admin.email in page.text and "someone not logged in" in page.text
    assert f"/admin/accounts/{other.id}" in page.text  # the account tried is a link
    assert "nobody@zapisy.test" not in page.text
    assert "Audit log" in client.get("/admin/").text  # reachable from the home page


def test_the_audit_log_is_in_polish_by_default(client, db, make_organiser):
    admin = make_organiser("admin")
    login(client, admin, "not the password!")
    login(client, admin)
    page = client.get("/admin/audit")
    assert "Nieudane logowanie" in page.text and "błędne hasło" in page.text and "Zalogowanie" in page.text


@pytest.mark.parametrize("query", ["?kind=nonsense", "?page=abc", "?page=-3", "?page=999"])
def test_the_audit_log_survives_odd_parameters(client, db, make_organiser, query):
    admin = make_organiser("admin")
    login(client, admin)
    assert client.get(f"/admin/audit{query}").status_code == 200


@pytest.mark.parametrize("role", ["organiser", "staff"])
def test_only_administrators_see_the_audit_log(client, db, make_organiser, role):
    login(client, make_organiser(role))
    assert client.get("/admin/audit").status_code == 403


def test_the_audit_log_needs_a_login(client):
    response = client.get("/admin/audit")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
