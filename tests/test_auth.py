"""Login, throttling, sessions and the organiser CLI."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.models import Organiser, Role
from app.auth.services import AuthError, TooManyAttempts, WaitBeforeRetrying, authenticate, login_key
from app.auth.throttle import backoff_seconds, get_throttle
from tests.conftest import PASSWORD, csrf_token, login, submit


def test_login_and_logout(client, make_organiser):
    organiser = make_organiser("admin")
    assert client.get("/admin/").status_code == 302
    response = login(client, organiser)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and organiser.email in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/admin/logout").status_code == 405  # logout is a POST (CSRF-protected)
    from tests.conftest import csrf_token

    client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)})
    assert client.get("/admin/").status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(client, make_organiser):
    organiser = make_organiser()
    client.get("/language/en")
    wrong = login(client, organiser, "not the password")
    unknown = submit(client, "/admin/login", {"email": "nobody@zapisy.test", "password": "whatever123"})
    assert wrong.status_code == unknown.status_code == 422
    assert "Invalid email or password." in wrong.text and "Invalid email or password." in unknown.text


def test_disabled_accounts_cannot_log_in(client, make_organiser):
    organiser = make_organiser(is_enabled=False)
    assert login(client, organiser).status_code == 422


def test_failing_on_purpose_cannot_keep_the_right_password_out_from_another_address(app, client, make_organiser):
    # Five wrong passwords used to lock the account for everyone, the right password included.
    organiser = make_organiser()
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    attacker.get("/language/en")
    answers = [login(attacker, organiser, f"guess number {n}").text for n in range(12)]
    assert sum("Too many failed attempts" in text for text in answers) >= 8  # the attacker is slowed down
    response = login(client, organiser)
    assert response.status_code == 302 and client.get("/admin/").status_code == 200


def test_the_right_password_waits_out_the_back_off_from_the_same_address(client, make_organiser, app):
    organiser = make_organiser()
    client.get("/language/en")
    for _ in range(app.config["LOGIN_BACKOFF_AFTER"]):
        assert "Invalid email or password." in login(client, organiser, "bad password!").text
    blocked = login(client, organiser)
    assert blocked.status_code == 422 and "Too many failed attempts. Try again in 2 s." in blocked.text
    with client.session_transaction() as session:
        assert "_user_id" not in session


def _throttle_store(name: str, app):  # type: ignore[no-untyped-def]
    """Point the app at the database or Redis store of the throttle (skipping when Redis is absent)."""
    if name == "redis":
        redis = pytest.importorskip("redis", reason="Redis tests skipped: the redis package is not installed")
        try:
            redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
        except Exception:  # noqa: BLE001
            pytest.skip("Redis tests skipped: no Redis server answers on 127.0.0.1:6379")
        app.config["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    return get_throttle()


@pytest.mark.parametrize("store", ["database", "redis"])
def test_the_back_off_doubles_and_then_lets_the_right_password_in(app, make_organiser, store):
    throttle = _throttle_store(store, app)
    ip = f"192.0.2.{secrets.randbelow(250) + 1}"
    organiser = make_organiser(email=f"backoff-{secrets.token_hex(4)}@zapisy.test")
    key = login_key(organiser.email, ip)
    throttle.reset(key)
    throttle.reset(f"ip:{ip}")
    start = datetime.now(UTC)
    try:
        for n in range(3):  # LOGIN_BACKOFF_AFTER failures are free
            with pytest.raises(AuthError) as refused:
                authenticate(organiser.email, "wrong password", ip, now=start + timedelta(seconds=n / 10))
            assert not isinstance(refused.value, TooManyAttempts)
        assert throttle.recent(key, start + timedelta(seconds=1)).count == 3
        last = start + timedelta(seconds=0.2)
        with pytest.raises(WaitBeforeRetrying) as waiting:
            authenticate(organiser.email, PASSWORD, ip, now=last + timedelta(seconds=1))
        assert waiting.value.seconds == 1  # 2 s after the third failure
        with pytest.raises(AuthError):  # the wait is over: a fourth wrong password is checked
            authenticate(organiser.email, "wrong again", ip, now=last + timedelta(seconds=2))
        last += timedelta(seconds=2)
        with pytest.raises(WaitBeforeRetrying) as waiting:
            authenticate(organiser.email, PASSWORD, ip, now=last + timedelta(seconds=1))
        assert waiting.value.seconds == 3  # now 4 s
        assert authenticate(organiser.email, PASSWORD, ip, now=last + timedelta(seconds=4)).id == organiser.id
        assert throttle.recent(key, last + timedelta(seconds=5)).count == 0  # a login forgets the failures
    finally:
        throttle.reset(key)
        throttle.reset(f"ip:{ip}")


def test_the_back_off_is_short_and_capped():
    assert [backoff_seconds(n, 3, 2.0, 300.0) for n in (0, 2, 3, 4, 5, 9, 10, 50)] == [0, 0, 2, 4, 8, 128, 256, 300]


def test_login_is_throttled_per_ip(client, make_organiser, app):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    client.get("/language/en")
    for n in range(3):
        submit(client, "/admin/login", {"email": f"guess{n}@zapisy.test", "password": "guess guess"})
    organiser = make_organiser()
    assert "Too many failed attempts" in login(client, organiser).text


def test_throttle_uses_redis_when_configured(client, make_organiser, app):
    _throttle_store("redis", app)
    import redis

    server = redis.Redis(host="127.0.0.1", port=6379, db=15)
    client.environ_base["REMOTE_ADDR"] = ip = "198.51.100.17"
    organiser = make_organiser(email="redis-throttle@zapisy.test")
    keys = [f"zapisy:throttle:login:redis-throttle@zapisy.test|{ip}", f"zapisy:throttle:ip:{ip}"]
    server.delete(*keys)
    try:
        for _ in range(app.config["LOGIN_BACKOFF_AFTER"]):
            login(client, organiser, "bad password!")
        assert [server.zcard(key) for key in keys] == [3, 3]
        assert login(client, organiser).status_code == 422  # backing off
        other = app.test_client()
        assert login(other, organiser).status_code == 302  # from another address
    finally:
        server.delete(*keys)


def test_login_starts_a_fresh_session(client, make_organiser):
    organiser = make_organiser()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, organiser)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{organiser.id}:1"


def test_idle_sessions_expire(client, make_organiser):
    login(client, make_organiser())
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_changing_the_session_version_logs_every_session_out(client, make_organiser, db):
    organiser = make_organiser()
    login(client, organiser)
    organiser.session_version += 1
    db.session.commit()
    assert client.get("/admin/").status_code == 302


def _logout(client) -> None:  # type: ignore[no-untyped-def]
    """Log out through the back office's logout button."""
    page = client.get("/admin/")
    assert page.status_code == 200
    assert client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 302


def _sent_to_login(response) -> bool:  # type: ignore[no-untyped-def]
    """Tell whether the response sends the browser to the login page."""
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_a_cookie_saved_before_logout_no_longer_opens_the_admin(app, client, make_organiser):
    login(client, make_organiser("admin"))
    saved = client.get_cookie("session").value
    _logout(client)
    thief = app.test_client()
    thief.set_cookie("session", saved)
    assert _sent_to_login(thief.get("/admin/"))
    assert _sent_to_login(thief.get("/admin/accounts/"))


def test_logging_out_ends_the_accounts_sessions_in_other_browsers(app, client, make_organiser):
    organiser = make_organiser()
    other = app.test_client()
    login(client, organiser)
    login(other, organiser)
    _logout(client)
    assert _sent_to_login(other.get("/admin/"))
    assert login(other, organiser).status_code == 302 and other.get("/admin/").status_code == 200


@pytest.mark.parametrize(("hours_ago", "still_open"), [(11.9, True), (12.1, False)])
def test_a_session_ends_twelve_hours_after_login_however_busy(client, make_organiser, hours_ago, still_open):
    client.get("/language/en")
    login(client, make_organiser())
    with client.session_transaction() as session:
        # Logged in long ago, and used a minute ago: the idle timeout never ran out.
        session["login_at"] -= hours_ago * 3600
        session["seen_at"] = time.time() - 60
    response = client.get("/admin/")
    if still_open:
        assert response.status_code == 200
        return
    assert _sent_to_login(response)
    assert "Your session has ended 12 hours after you logged in." in client.get(response.headers["Location"]).text
    with client.session_transaction() as session:
        assert "_user_id" not in session and "login_at" not in session
    assert _sent_to_login(client.get("/admin/"))  # and stays ended


@pytest.mark.app_config(ADMIN_MAX_SESSION_HOURS=1)
def test_the_maximum_session_lifetime_is_configurable(client, make_organiser):
    login(client, make_organiser())
    with client.session_transaction() as session:
        session["login_at"] -= 3601
    assert _sent_to_login(client.get("/admin/"))


def test_a_session_without_a_login_time_is_over(client, make_organiser):
    # Cookies from before the lifetime was kept say nothing of their login: they end once.
    login(client, make_organiser())
    with client.session_transaction() as session:
        del session["login_at"]
    assert _sent_to_login(client.get("/admin/"))


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/", "/admin/"),
        ("https://evil.example/admin/", "/admin/"),
        ("//evil.example/", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("http:/evil.example", "/admin/"),
        ("/admin/\r\nSet-Cookie: session=stolen", "/admin/"),
        ("/\t/evil.example", "/admin/"),
        ("/\n/evil.example", "/admin/"),
    ],
)
def test_next_only_redirects_to_local_paths(client, make_organiser, next_url, expected):
    organiser = make_organiser()
    page = client.get(f"/admin/login?next={next_url}")
    from tests.conftest import csrf_token

    response = client.post(
        "/admin/login",
        data={
            "email": organiser.email,
            "password": PASSWORD,
            "next": next_url,
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_cli_creates_accounts_from_stdin(runner, db, make_event):
    event = make_event()
    result = runner.invoke(
        args=["organiser", "create", "Boss@Zapisy.test", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["organiser", "create", "org@zapisy.test", "--event", event.slug, "--password-stdin"],
        input="another long password\n",
    )
    assert result.exit_code == 0, result.output
    db.session.rollback()
    accounts = {o.email: o for o in db.session.execute(select(Organiser)).scalars()}
    assert accounts["boss@zapisy.test"].role == Role.ADMIN
    assert [e.slug for e in accounts["org@zapisy.test"].events] == [event.slug]
    assert accounts["boss@zapisy.test"].password_hash.startswith("scrypt:")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["organiser", "create", "x@zapisy.test", "--password-stdin"], "short\n", "at least"),
        (
            ["organiser", "create", "y@zapisy.test", "--event", "no-such-event", "--password-stdin"],
            "long enough password\n",
            "no-such-event",
        ),
        (
            ["organiser", "create", "z@zapisy.test", "--role", "king", "--password-stdin"],
            "long enough password\n",
            "king",
        ),
        (["organiser", "assign", "nobody@zapisy.test", "some-event"], "", "No account"),
    ],
)
def test_cli_refuses_bad_input_with_a_message(runner, args, stdin, message):
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
