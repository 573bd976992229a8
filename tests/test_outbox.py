"""The outbox: written with the change, delivered after commit over real SMTP, retried, never sent twice."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db import utcnow, write_transaction
from app.extensions import db as _db
from app.notifications.delivery import claim_due, deliver_all_due, deliver_due
from app.notifications.models import MessageKind, MessageStatus, OutboxMessage
from app.notifications.preview import find_links, linkify, with_top_target
from app.registration import emails as notifications
from app.registration import services
from tests.conftest import FORM_DEFAULTS, csrf_token
from tests.mailserver import SilentServer, SMTPServer, free_port


def _post_registration(client, event, follow: bool = True, **fields):  # type: ignore[no-untyped-def]
    """Submit the registration form; follow the redirect (which runs the after-response delivery)."""
    url = f"/events/{event.slug}/register"
    page = client.get(url)
    data = {**FORM_DEFAULTS, **fields, "csrf_token": csrf_token(page.text)}
    return client.post(url, data=data, follow_redirects=follow)


def _make_all_due(db) -> None:  # type: ignore[no-untyped-def]
    """Let time pass: every pending message is due now."""
    with write_transaction():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_registration_delivers_exactly_one_confirmation_with_a_working_link(
    app, db, client, make_event, make_session, register, smtp_server, outbox
):
    app.config["OUTBOX_DELIVER_AFTER_REQUEST"] = True
    event = make_event()
    full = make_session(event, start_hour=9, capacity=1)
    open_session = make_session(event, start_hour=11, capacity=10)
    register(event, full)  # takes the only place
    response = _post_registration(
        client, event, email="guest@example.com", language="en", sessions=[full.id, open_session.id]
    )
    assert response.status_code == 200

    received = smtp_server.handler.to("guest@example.com")
    assert len(received) == 1
    message = received[0].message
    assert "Registration received" in message["Subject"] and "Event 1" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'lang="en"' in html
    assert "Session 9" in text and "Session 11" in text  # English titles
    assert "Waiting list (position 1)" in text
    link = next(line.strip() for line in text.splitlines() if line.strip().startswith("http://zapisy.test/r/"))
    assert client.get(link.removeprefix("http://zapisy.test")).status_code == 200
    [calendar] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert calendar.get_filename() == f"{event.slug}.ics"

    # Running the worker afterwards sends nothing again.
    assert deliver_all_due().sent == 0
    assert len(smtp_server.handler.to("guest@example.com")) == 1
    [row] = outbox.messages(to="guest@example.com")
    assert row.status == MessageStatus.SENT and row.attempts == 1


def test_smtp_down_keeps_the_registration_and_delivers_once_when_back(
    app, db, client, runner, make_event, make_session, outbox
):
    app.config.update(OUTBOX_DELIVER_AFTER_REQUEST=True, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    event = make_event()
    session = make_session(event)
    response = _post_registration(client, event, sessions=[session.id])
    assert response.status_code == 200
    assert db.session.execute(db.select(services.Registration)).scalar_one().email == FORM_DEFAULTS["email"]
    [row] = outbox.messages()
    assert row.status == MessageStatus.PENDING and row.attempts == 1
    assert "connecting" in row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=30)  # backed off

    server = SMTPServer(port=app.config["MAIL_PORT"]).start()
    try:
        result = runner.invoke(args=["outbox", "send"])
        assert "0 sent" in result.output  # not due yet
        _make_all_due(db)
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0 and "1 sent" in result.output
        _make_all_due(db)
        assert "0 sent" in runner.invoke(args=["outbox", "send"]).output
        assert len(server.handler.received) == 1
        assert server.handler.received[0].rcpt_tos == [FORM_DEFAULTS["email"]]
    finally:
        server.stop()
    [row] = outbox.messages()
    assert row.status == MessageStatus.SENT and row.attempts == 2


def test_a_server_that_never_answers_does_not_hold_the_request_and_the_message_is_retried(
    app, db, client, make_event, make_session, outbox
):
    silent = SilentServer()
    app.config.update(
        OUTBOX_DELIVER_AFTER_REQUEST=True, MAIL_SERVER="127.0.0.1", MAIL_PORT=silent.port, MAIL_TIMEOUT=0.5
    )
    event = make_event()
    session = make_session(event)
    try:
        started = time.monotonic()
        response = _post_registration(client, event, follow=False, sessions=[session.id])
        answered = time.monotonic() - started
        response.close()  # the server closes the response: delivery runs now, bounded by the timeout
        closed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 303
    assert answered < 0.5
    assert closed < 0.5 + 2
    [row] = outbox.messages()
    assert row.status == MessageStatus.PENDING and "timed out" in row.last_error

    server = SMTPServer(port=free_port()).start()
    app.config["MAIL_PORT"] = server.port
    try:
        _make_all_due(db)
        assert deliver_all_due().sent == 1
    finally:
        server.stop()
    assert outbox.messages()[0].status == MessageStatus.SENT


@pytest.mark.parametrize(
    ("stage", "reply", "expected"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", MessageStatus.PENDING),
        ("rcpt", "550 5.1.1 No such user", MessageStatus.FAILED),
        ("data", "451 4.3.0 Temporary local problem", MessageStatus.PENDING),
        ("data", "554 5.7.1 Rejected as spam", MessageStatus.FAILED),
    ],
)
def test_4xx_replies_are_retried_with_backoff_and_5xx_fail_at_once(
    app, db, make_event, make_session, register, smtp_server, outbox, stage, reply, expected
):
    event = make_event()
    register(event, make_session(event), email="refused@example.com")
    if stage == "rcpt":
        smtp_server.handler.rcpt_replies["refused@example.com"] = reply
    else:
        smtp_server.handler.data_reply = reply
    before = utcnow()
    deliver_due()
    [row] = outbox.messages()
    assert row.status == expected
    assert row.last_error.startswith(reply.split()[0])
    if expected == MessageStatus.PENDING:
        assert row.next_attempt_at >= before + timedelta(seconds=app.config["OUTBOX_RETRY_BASE"])
    assert smtp_server.handler.received == []


def test_backoff_doubles_and_the_last_retry_fails_the_message(
    app, db, make_event, make_session, register, smtp_server, outbox
):
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_RETRY_BASE=10)
    event = make_event()
    register(event, make_session(event), email="busy@example.com")
    smtp_server.handler.rcpt_replies["busy@example.com"] = "452 4.2.2 Mailbox full"
    delays = []
    for _attempt in range(3):
        now = utcnow()
        deliver_due(now=now)
        [row] = outbox.messages()
        delays.append(round((row.next_attempt_at - now).total_seconds()))
        _make_all_due(db)
    [row] = outbox.messages()
    assert delays[:2] == [10, 20]
    assert row.status == MessageStatus.FAILED and row.attempts == 3
    assert "gave up after 3 attempts" in row.last_error and "452" in row.last_error
    result = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert "failed: 1" in result.output and f"#{row.id} " in result.output
    assert "busy@example.com" not in result.output  # the message's id names it, not its recipient


def test_a_rolled_back_change_leaves_no_email(app, db, make_event, make_session, participant, outbox, monkeypatch):
    event = make_event()
    session = make_session(event)
    real = notifications.queue_registration_received

    def queue_then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)
        assert _db.session.execute(_db.select(OutboxMessage)).first() is not None  # written, not committed
        raise RuntimeError("the transaction fails after the email was queued")

    monkeypatch.setattr(notifications, "queue_registration_received", queue_then_fail)
    with pytest.raises(RuntimeError):
        services.register(event, participant(), services.Choices(session_ids=[session.id]))
    assert outbox.messages() == []
    assert _db.session.execute(_db.select(services.Registration)).first() is None


def test_a_claim_left_by_a_killed_worker_is_released_after_the_timeout(
    app, db, make_event, make_session, register, smtp_server, outbox
):
    event = make_event()
    register(event, make_session(event))
    now = utcnow()
    assert len(claim_due(10, "killed-worker", now=now)) == 1  # then the worker dies
    assert deliver_due(now=now + timedelta(seconds=1)).claimed == 0  # still claimed
    report = deliver_due(now=now + timedelta(seconds=app.config["OUTBOX_CLAIM_TIMEOUT"] + 1))
    assert report.sent == 1
    [row] = outbox.messages()
    assert row.status == MessageStatus.SENT and row.attempts == 2


def _queue_plain_messages(count: int) -> None:
    """Add ``count`` ready-made messages to the outbox."""
    now = utcnow()
    with write_transaction():
        _db.session.add_all(
            OutboxMessage(
                kind=MessageKind.REGISTRATION_RECEIVED,
                recipient_email=f"person{i}@example.com",
                language="pl",
                subject=f"Wiadomość {i}",
                body_text="Treść",
                body_html="<p>Treść</p>",
                attachments=[],
                message_id=f"<outbox-test-{i}@zapisy.test>",
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(count)
        )


def _run_workers(app, count: int) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run ``count`` delivery workers in threads until nothing is due; return their errors."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work(name: str) -> None:
        try:
            with app.app_context():
                barrier.wait()
                while deliver_due(limit=20, worker=name).claimed:
                    pass
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_two_workers_deliver_500_messages_none_twice(app, db, backend, smtp_server, outbox):
    _queue_plain_messages(500)
    assert _run_workers(app, 2) == []
    ids = [r.message["Message-ID"] for r in smtp_server.handler.received]
    assert len(ids) == 500
    assert len(set(ids)) == 500
    assert {row.status for row in outbox.messages()} == {MessageStatus.SENT}
    assert {row.attempts for row in outbox.messages()} == {1}
    assert {row.claimed_by for row in outbox.messages()} == {"worker-0", "worker-1"}  # both did work


def test_without_the_claim_guard_two_workers_send_messages_twice(app, db, backend, smtp_server, outbox, monkeypatch):
    """The twin of the test above: claiming by a plain SELECT then UPDATE lets workers take the same rows."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the race needs PostgreSQL")
    from sqlalchemy import select

    from app.notifications import delivery

    def unguarded_claim(limit, worker, now=None):  # type: ignore[no-untyped-def]
        now = now or utcnow()
        rows = (
            _db.session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        claims = [delivery.ClaimedMessage.from_row(row) for row in rows]
        time.sleep(0.01)  # the window between reading and claiming
        with write_transaction():
            _db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([c.id for c in claims]))
                .values(status=MessageStatus.SENDING, claimed_by=worker, claimed_at=now)
            )
        return [c for c in claims]

    monkeypatch.setattr(delivery, "claim_due", unguarded_claim)
    _queue_plain_messages(100)
    _run_workers(app, 2)
    ids = [r.message["Message-ID"] for r in smtp_server.handler.received]
    assert len(ids) > len(set(ids))  # some messages went out twice


def test_without_a_mail_server_messages_are_written_as_eml_files_and_listed(
    app, db, client, make_event, make_session, register, outbox
):
    assert not app.config["MAIL_SERVER"]
    event = make_event()
    register(event, make_session(event), first_name="Łucja")
    assert outbox.deliver().sent == 1
    [path] = outbox.directory.glob("*.eml")
    assert b"Subject:" in path.read_bytes()

    assert client.get("/dev/mail").status_code == 404  # development only
    app.config["OUTBOX_DEV_PAGE"] = True
    listing = client.get("/dev/mail")
    assert listing.status_code == 200 and path.name in listing.text
    shown = client.get(f"/dev/mail/{path.name}")
    assert shown.status_code == 200 and "Łucja" in shown.text
    # The framed HTML may send the window to a link on a click, nothing more (no scripts, no same origin).
    assert 'sandbox="allow-top-navigation-by-user-activation" srcdoc="' in shown.text
    assert "&lt;base target=&#34;_top&#34;&gt;" in shown.text
    [manage_url] = re.findall(r"http://zapisy\.test/r/[\w-]+", path.read_text())[:1]
    assert f'<a href="{manage_url}">{manage_url}</a>' in shown.text  # the text part's link
    assert f'<a href="{manage_url}">' in listing.text  # the list shows the email's links
    assert client.get(f"/dev/mail/{path.name}/raw").data == path.read_bytes()
    assert client.get("/dev/mail/..%2F..%2Fconfig.py").status_code == 404


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://a.test/r/x1.", 'See <a href="https://a.test/r/x1">https://a.test/r/x1</a>.'),
        (
            "<b>http://a.test/?a=1&b=2</b>",
            '&lt;b&gt;<a href="http://a.test/?a=1&amp;b=2">http://a.test/?a=1&amp;b=2</a>&lt;/b&gt;',
        ),
        ('x"http://a.test/"onmouseover=y', 'x&#34;<a href="http://a.test/">http://a.test/</a>&#34;onmouseover=y'),
        ("javascript:alert(1) ftp://a.test", "javascript:alert(1) ftp://a.test"),
        ("(https://a.test/path)", '(<a href="https://a.test/path">https://a.test/path</a>)'),
    ],
)
def test_the_mail_page_escapes_text_and_links_only_http_urls(text, expected):
    assert str(linkify(text)) == expected


def test_the_mail_page_sends_the_html_links_to_the_window():
    assert (
        with_top_target("<html><HEAD lang=x><title>t</title>")
        == '<html><HEAD lang=x><base target="_top"><title>t</title>'
    )
    assert with_top_target("<p>x</p>") == '<base target="_top"><p>x</p>'
    assert find_links("a http://a.test/r/1, b http://a.test/r/1 c https://b.test.") == [
        "http://a.test/r/1",
        "https://b.test",
    ]


def test_long_lines_and_polish_text_survive_smtp(app, db, smtp_server, outbox):
    """Servers refuse lines over 998 bytes: bodies go out quoted-printable."""
    _queue_plain_messages(1)
    long_line = "Zażółć gęślą jaźń. " * 200
    with write_transaction():
        _db.session.execute(update(OutboxMessage).values(body_text=long_line, body_html=f"<p>{long_line}</p>"))
    assert deliver_due().sent == 1
    [received] = smtp_server.handler.received
    assert max(len(line) for line in received.raw.split(b"\r\n")) <= 998
    assert received.message.get_body(preferencelist=("plain",)).get_content().rstrip("\n") == long_line


def _rows_holding(db, secret: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Return the ids of outbox rows that hold ``secret`` anywhere (bodies, attachments, private parts)."""
    db.session.rollback()
    rows = db.session.execute(db.select(OutboxMessage)).scalars()
    return [
        row.id
        for row in rows
        if secret in "".join(map(str, (row.body_text, row.body_html, row.attachments, row.redact, row.subject)))
    ]


def test_a_delivered_email_leaves_no_working_link_in_its_row_and_a_retry_still_sends_it(
    app, db, client, make_event, make_session, participant, smtp_server, outbox
):
    event = make_event(requires_email_confirmation=True)  # the confirmation link carries the token too
    session = make_session(event)
    result = services.register(event, participant(email="link@example.com"), services.Choices(session_ids=[session.id]))
    token = result.token
    # The first attempt is put off: the row must still carry the link for the next one.
    smtp_server.handler.rcpt_replies["link@example.com"] = "451 4.7.1 Try again later"
    assert deliver_due().retried == 1
    [row] = outbox.messages()
    assert row.status == MessageStatus.PENDING and token in row.body_text and row.redact == [token]

    del smtp_server.handler.rcpt_replies["link@example.com"]
    _make_all_due(db)
    assert deliver_due().sent == 1
    [received] = smtp_server.handler.to("link@example.com")
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert f"http://zapisy.test/r/{token}" in text and f"http://zapisy.test/r/{token}/confirm" in text
    assert f'href="http://zapisy.test/r/{token}"' in html
    assert _rows_holding(db, token) == []
    [row] = outbox.messages()
    assert row.status == MessageStatus.SENT and row.redact == []
    assert "http://zapisy.test/r/[removed]" in row.body_text and "Sesja" in row.body_text  # the rest is kept
    assert client.get(f"/r/{token}").status_code == 200  # the link still works

    # A new link asked for on the resend page: the same once it is sent.
    services.send_manage_link(event, "link@example.com", "192.0.2.1")
    [new] = outbox.messages(kind="manage_link")
    new_token = new.redact[0]
    assert new_token != token and f"/r/{new_token}" in new.body_text and f"/r/{new_token}" in new.body_html
    assert deliver_due().sent == 1
    assert (
        f"/r/{new_token}"
        in smtp_server.handler.to("link@example.com")[-1].message.get_body(preferencelist=("plain",)).get_content()
    )
    assert _rows_holding(db, new_token) == []
    assert client.get(f"/r/{new_token}").status_code == 200


def test_a_failed_email_keeps_its_link_for_an_organisers_retry(
    app, db, make_event, make_session, participant, smtp_server, outbox
):
    event = make_event()
    result = services.register(event, participant(email="nobody@example.com"), services.Choices())
    smtp_server.handler.rcpt_replies["nobody@example.com"] = "550 5.1.1 No such user"
    assert deliver_due().failed == 1
    [row] = outbox.messages()
    assert row.status == MessageStatus.FAILED and result.token in row.body_text and row.redact == [result.token]


def test_production_without_a_mail_server_writes_no_eml_files(app, db, make_event, make_session, register, outbox):
    event = make_event()
    register(event, make_session(event))
    app.config.update(IS_PRODUCTION=True, OUTBOX_MAIL_DIR=None)
    report = deliver_due()
    assert report.sent == 0 and report.retried == 1
    [row] = outbox.messages()
    assert row.status == MessageStatus.PENDING and row.last_error == "MAIL_SERVER is not set"
    # A directory named on purpose (a local production-like trial) is written to.
    app.config["OUTBOX_MAIL_DIR"] = str(outbox.directory)
    _make_all_due(db)
    assert deliver_due().sent == 1 and len(list(outbox.directory.glob("*.eml"))) == 1


def test_the_worker_runs_each_task_when_due_and_goes_on_after_a_failing_one(app, caplog):
    from app.notifications.worker import add_task, run_due_tasks

    calls: list[str] = []

    def failing(now):  # type: ignore[no-untyped-def]
        calls.append("failing")
        raise RuntimeError("boom")

    add_task(app, "failing", failing, every=60)
    add_task(app, "hourly", lambda now: calls.append("hourly"), every=3600)
    clock = {"now": 1000.0}

    def ours(names: list[str]) -> list[str]:
        return [name for name in names if name in {"failing", "hourly"}]

    assert ours(run_due_tasks(lambda: clock["now"])) == ["failing", "hourly"]
    assert calls == ["failing", "hourly"]
    assert "Outbox worker task 'failing' failed" in caplog.text
    clock["now"] += 10
    assert ours(run_due_tasks(lambda: clock["now"])) == []  # nothing due yet
    clock["now"] += 60
    assert ours(run_due_tasks(lambda: clock["now"])) == ["failing"]  # the hourly one waits
