"""Organisers' passwords: changing one's own, resetting a forgotten one by email, setting one from the CLI."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from tests.conftest import PASSWORD, csrf_token, login

NEW_PASSWORD = "a brand new passphrase"


def _audit(db, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    """Return the audit entries of ``action``, oldest first."""
    db.session.rollback()
    return list(db.session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).scalars())


def _change(client, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    """Submit the password change form."""
    page = client.get("/admin/password")
    assert page.status_code == 200
    return client.post("/admin/password", data={
        "current_password": current, "new_password": new, "new_password_again": new if again is None else again,
        "csrf_token": csrf_token(page.text),
    })


def _sent_to_login(response) -> bool:  # type: ignore[no-untyped-def]
    """Tell whether the response sends the browser to the login page."""
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app, client, db, make_organiser):
    organiser = make_organiser("staff")
    other = app.test_client()
    login(client, organiser)
    login(other, organiser)
    client.get("/language/en")
    response = _change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert "Your password has been changed." in client.get(response.headers["Location"]).text
    assert client.get("/admin/").status_code == 200  # this browser goes on
    assert _sent_to_login(other.get("/admin/"))  # the other one is logged out
    assert login(app.test_client(), organiser).status_code == 422  # the old password no longer works
    assert login(app.test_client(), organiser, NEW_PASSWORD).status_code == 302
    [entry] = _audit(db, "account.password_changed")
    assert entry.actor_id == organiser.id and entry.details == {"account_id": organiser.id, "ip": "127.0.0.1"}
    assert NEW_PASSWORD not in str(entry.details) and PASSWORD not in str(entry.details)


@pytest.mark.parametrize(("current", "new", "again", "message"), [
    ("not my password", NEW_PASSWORD, None, "The current password is not right."),
    ("", NEW_PASSWORD, None, "This field is required."),
    (PASSWORD, "too short", None, "The password must have at least 10 characters."),
    (PASSWORD, NEW_PASSWORD, "a different passphrase", "The two new passwords are not the same."),
    (PASSWORD, "x" * 201, None, "The password may have at most 200 characters."),
])
def test_a_password_change_needs_the_current_password_and_a_good_new_one(app, client, db, make_organiser,
                                                                        current, new, again, message):
    organiser = make_organiser()
    client.get("/language/en")
    login(client, organiser)
    response = _change(client, current, new, again)
    assert response.status_code == 422 and message in response.text
    assert login(app.test_client(), organiser).status_code == 302  # the password is unchanged
    assert _audit(db, "account.password_changed") == []


def test_wrong_current_passwords_back_off_like_logins(client, make_organiser, app):
    organiser = make_organiser()
    client.get("/language/en")
    login(client, organiser)
    for _ in range(app.config["LOGIN_BACKOFF_AFTER"]):
        assert "The current password is not right." in _change(client, "guessing away", NEW_PASSWORD).text
    assert "Too many failed attempts. Try again in" in _change(client, PASSWORD, NEW_PASSWORD).text


def test_the_password_page_needs_a_login_and_a_csrf_token(client, make_organiser):
    assert _sent_to_login(client.get("/admin/password"))
    login(client, make_organiser())
    response = client.post("/admin/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert response.status_code == 400


def test_cli_sets_a_password_asked_twice_and_ends_the_sessions(app, client, runner, db, make_organiser):
    organiser = make_organiser()
    login(client, organiser)
    result = runner.invoke(args=["organiser", "set-password", organiser.email.upper()],
                           input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output  # hidden input
    assert result.output.startswith("New password: \nRepeat for confirmation: \n")  # asked twice, nothing echoed
    assert f"New password set for {organiser.email}" in result.output
    assert _sent_to_login(client.get("/admin/"))
    assert login(app.test_client(), organiser).status_code == 422
    assert login(app.test_client(), organiser, NEW_PASSWORD).status_code == 302
    [entry] = _audit(db, "account.password_set")
    assert entry.actor_label == "cli" and entry.details == {"account_id": organiser.id, "account": organiser.email}


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["organiser", "set-password", "{email}"], f"{NEW_PASSWORD}\nsomething else\n", "do not match"),
    (["organiser", "set-password", "{email}", "--password-stdin"], "short\n", "at least 10 characters"),
    (["organiser", "set-password", "nobody@zapisy.test"], "", "No account has this email."),
])
def test_cli_set_password_refuses_bad_input(app, runner, make_organiser, args, stdin, message):
    organiser = make_organiser()
    result = runner.invoke(args=[a.format(email=organiser.email) for a in args], input=stdin)
    assert result.exit_code != 0 and message in result.output
    assert login(app.test_client(), organiser).status_code == 302  # unchanged


def test_cli_set_password_reads_stdin_for_scripts(app, runner, make_organiser):
    organiser = make_organiser()
    result = runner.invoke(args=["organiser", "set-password", organiser.email, "--password-stdin"],
                           input=f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), organiser, NEW_PASSWORD).status_code == 302
