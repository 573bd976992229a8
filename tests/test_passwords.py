"""Organisers' passwords: changing one's own, resetting a forgotten one by email, setting one from the CLI."""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEntry
from app.auth import services
from app.auth.models import PasswordResetToken
from tests.conftest import PASSWORD, csrf_token, login

NEW_PASSWORD = "a brand new passphrase"


def _audit(db, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    """Return the audit entries of ``action``, oldest first."""
    db.session.rollback()
    return list(
        db.session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).scalars()
    )


def _change(client, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    """Submit the password change form."""
    page = client.get("/admin/password")
    assert page.status_code == 200
    return client.post(
        "/admin/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
            "csrf_token": csrf_token(page.text),
        },
    )


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


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        ("not my password", NEW_PASSWORD, None, "The current password is not right."),
        ("", NEW_PASSWORD, None, "This field is required."),
        (PASSWORD, "too short", None, "The password must have at least 10 characters."),
        (PASSWORD, NEW_PASSWORD, "a different passphrase", "The two new passwords are not the same."),
        (PASSWORD, "x" * 201, None, "The password may have at most 200 characters."),
    ],
)
def test_a_password_change_needs_the_current_password_and_a_good_new_one(
    app, client, db, make_organiser, current, new, again, message
):
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
    response = client.post(
        "/admin/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert response.status_code == 400


def test_cli_sets_a_password_asked_twice_and_ends_the_sessions(app, client, runner, db, make_organiser):
    organiser = make_organiser()
    login(client, organiser)
    result = runner.invoke(
        args=["organiser", "set-password", organiser.email.upper()], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output  # hidden input
    assert result.output.startswith("New password: \nRepeat for confirmation: \n")  # asked twice, nothing echoed
    assert f"New password set for {organiser.email}" in result.output
    assert _sent_to_login(client.get("/admin/"))
    assert login(app.test_client(), organiser).status_code == 422
    assert login(app.test_client(), organiser, NEW_PASSWORD).status_code == 302
    [entry] = _audit(db, "account.password_set")
    assert entry.actor_label == "cli" and entry.details == {"account_id": organiser.id, "account": organiser.email}


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["organiser", "set-password", "{email}"], f"{NEW_PASSWORD}\nsomething else\n", "do not match"),
        (["organiser", "set-password", "{email}", "--password-stdin"], "short\n", "at least 10 characters"),
        (["organiser", "set-password", "nobody@zapisy.test"], "", "No account has this email."),
    ],
)
def test_cli_set_password_refuses_bad_input(app, runner, make_organiser, args, stdin, message):
    organiser = make_organiser()
    result = runner.invoke(args=[a.format(email=organiser.email) for a in args], input=stdin)
    assert result.exit_code != 0 and message in result.output
    assert login(app.test_client(), organiser).status_code == 302  # unchanged


def test_cli_set_password_reads_stdin_for_scripts(app, runner, make_organiser):
    organiser = make_organiser()
    result = runner.invoke(
        args=["organiser", "set-password", organiser.email, "--password-stdin"], input=f"{NEW_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), organiser, NEW_PASSWORD).status_code == 302


def _forgot(client, email: str):  # type: ignore[no-untyped-def]
    """Ask for a reset link for ``email`` through the forgotten-password page."""
    page = client.get("/admin/forgot-password")
    assert page.status_code == 200
    return client.post("/admin/forgot-password", data={"email": email, "csrf_token": csrf_token(page.text)})


def _link(outbox, email: str) -> str:  # type: ignore[no-untyped-def]
    """Return the path of the newest reset link emailed to ``email``."""
    message = outbox.messages(kind="password_reset", to=email)[-1]
    match = re.search(r"http://zapisy\.test(/admin/reset-password/[A-Za-z0-9_-]+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def _set_new_password(client, link: str, password: str = NEW_PASSWORD, again: str | None = None):  # type: ignore[no-untyped-def]
    """Open a reset link and submit the new password; return the answer to the submission."""
    opened = client.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/admin/reset-password"
    page = client.get("/admin/reset-password")
    assert page.status_code == 200
    return client.post(
        "/admin/reset-password",
        data={
            "new_password": password,
            "new_password_again": password if again is None else again,
            "csrf_token": csrf_token(page.text),
        },
    )


def test_a_forgotten_password_is_reset_through_an_emailed_link_that_works_once(app, client, db, make_organiser, outbox):
    organiser = make_organiser("admin", name="Ewa Organizatorka")
    elsewhere = app.test_client()
    login(elsewhere, organiser)
    client.get("/language/en")
    assert 'href="/admin/forgot-password"' in client.get("/admin/login").text
    asked = _forgot(client, organiser.email.upper())
    assert asked.status_code == 303 and asked.headers["Location"] == "/admin/login"
    assert "we have emailed it a link to set a new password" in client.get("/admin/login").text

    [message] = outbox.messages(kind="password_reset")
    assert message.recipient_email == organiser.email and message.event_id is None
    link = _link(outbox, organiser.email)
    token = link.rsplit("/", 1)[1]
    assert f"http://zapisy.test{link}" in message.body_html
    # Only the token's hash is kept.
    [row] = db.session.execute(select(PasswordResetToken)).scalars()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
    # Through the outbox: the delivered email carries the link.
    outbox.deliver()
    [eml] = outbox.directory.glob("*.eml")
    delivered = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert f"http://zapisy.test{link}" in delivered.get_body(preferencelist=("plain",)).get_content()
    assert delivered["To"].addresses[0].addr_spec == organiser.email

    page = client.get(link, follow_redirects=True)
    assert page.request.path == "/admin/reset-password" and token not in page.text  # the address dropped the token
    assert organiser.email in page.text
    done = _set_new_password(client, link)
    assert done.status_code == 303 and done.headers["Location"] == "/admin/login"
    assert "Your new password is set." in client.get("/admin/login").text
    assert login(app.test_client(), organiser).status_code == 422
    assert login(app.test_client(), organiser, NEW_PASSWORD).status_code == 302
    assert _sent_to_login(elsewhere.get("/admin/"))  # the account's sessions ended
    again = client.get(link)
    assert again.status_code == 410 and "has been used already" in again.text
    assert 'href="/admin/forgot-password"' in again.text
    assert [e.details["account_id"] for e in _audit(db, "account.password_reset_requested")] == [organiser.id]
    [entry] = _audit(db, "account.password_reset")
    assert entry.actor_id == organiser.id and NEW_PASSWORD not in str(entry.details)


def test_an_expired_link_is_refused_with_a_clear_message(app, client, db, make_organiser, outbox):
    organiser = make_organiser()
    client.get("/language/en")
    _forgot(client, organiser.email)
    link = _link(outbox, organiser.email)
    assert client.get(link).status_code == 303  # opened in time …
    db.session.execute(update(PasswordResetToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    page = client.get("/admin/reset-password")  # … the form submitted too late
    assert page.status_code == 410
    assert "This link to set a new password has expired: a link works for 1 h." in page.text
    assert client.get(link).status_code == 410
    assert login(app.test_client(), organiser).status_code == 302  # the password is unchanged


def test_the_answer_is_the_same_whether_or_not_the_account_exists(app, db, make_organiser, outbox):
    known = make_organiser()
    disabled = make_organiser(is_enabled=False)
    answers = []
    for address in (known.email, "nobody@zapisy.test", disabled.email):
        client = app.test_client()
        response = _forgot(client, address)
        with client.session_transaction() as session:
            answers.append((response.status_code, response.headers["Location"], session["_flashes"]))
    assert answers[0] == answers[1] == answers[2]
    assert [m.recipient_email for m in outbox.messages(kind="password_reset")] == [known.email]
    reasons = [e.details.get("reason") for e in _audit(db, "account.password_reset_requested")]
    assert reasons == [None, "unknown_account", "disabled"]


def test_reset_emails_are_limited_per_account_and_per_address(app, make_organiser, outbox):
    organiser = make_organiser()
    for n in range(5):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
        assert _forgot(client, organiser.email).status_code == 303
    assert len(outbox.messages(kind="password_reset")) == app.config["PASSWORD_RESET_MAX_PER_ACCOUNT"]
    same_address = app.test_client()
    for n in range(12):
        assert _forgot(same_address, f"someone{n}@zapisy.test").status_code == 303
    other = make_organiser()
    _forgot(same_address, other.email)  # this address asked too often: nothing is sent
    assert outbox.messages(kind="password_reset", to=other.email) == []


@pytest.mark.parametrize(
    "path",
    [
        "/admin/reset-password/not-a-token",
        "/admin/reset-password/" + "A" * 43,
        "/admin/reset-password/%C5%BC%C3%B3%C5%82w",
        "/admin/reset-password",  # no link opened in this browser
    ],
)
def test_a_made_up_link_is_refused_with_a_message_not_an_error(client, path):
    client.get("/language/en")
    response = client.get(path)
    assert response.status_code == 404 and "This link to set a new password is not valid." in response.text


def test_a_new_password_from_a_link_follows_the_policy_and_keeps_the_link(app, client, make_organiser, outbox):
    organiser = make_organiser()
    client.get("/language/en")
    _forgot(client, organiser.email)
    link = _link(outbox, organiser.email)
    short = _set_new_password(client, link, "too short")
    assert short.status_code == 422 and "The password must have at least 10 characters." in short.text
    different = _set_new_password(client, link, NEW_PASSWORD, "not the same at all")
    assert different.status_code == 422 and "The two new passwords are not the same." in different.text
    assert _set_new_password(client, link).status_code == 303


def test_a_link_works_once_even_asked_twice_at_the_same_time(app, db, make_organiser, outbox):
    organiser = make_organiser()
    _forgot(app.test_client(), organiser.email)
    token = _link(outbox, organiser.email).rsplit("/", 1)[1]
    assert services.reset_password(token, NEW_PASSWORD, "127.0.0.1").id == organiser.id
    with pytest.raises(services.ResetLinkUsed):
        services.reset_password(token, "yet another passphrase", "127.0.0.1")


def test_another_new_password_voids_the_open_links(app, client, runner, make_organiser, outbox):
    organiser = make_organiser()
    client.get("/language/en")
    _forgot(client, organiser.email)
    link = _link(outbox, organiser.email)
    runner.invoke(args=["organiser", "set-password", organiser.email, "--password-stdin"], input=f"{NEW_PASSWORD}\n")
    assert client.get(link).status_code == 410


def test_the_forgotten_password_form_needs_a_csrf_token_and_an_address(client, outbox):
    assert client.post("/admin/forgot-password", data={"email": "x@zapisy.test"}).status_code == 400
    client.get("/language/en")
    response = _forgot(client, "not an address")
    assert response.status_code == 422 and "This is not an email address." in response.text
    assert outbox.messages(kind="password_reset") == []
