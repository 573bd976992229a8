"""The Flask-Mail adapter (app/notifications/mailer.py): what its overrides of Flask-Mail's private parts do.

If an upgrade of Flask-Mail renames or changes the private methods, these tests say so.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.header import decode_header, make_header
from email.headerregistry import Address
from types import SimpleNamespace

import flask_mail
import pytest

from app.notifications.mailer import OutboxMail, TimeoutConnection, attachment


def test_the_overridden_private_methods_still_exist_in_flask_mail():
    for name in ("_mimetext", "_message"):
        assert callable(getattr(flask_mail.Message, name, None)), name
    assert callable(getattr(flask_mail.Connection, "configure_host", None))


def test_names_and_subjects_survive_and_bodies_stay_short_and_7_bit(app):
    name = 'Grzegorz "Szef" <Brzęczyszczykiewicz>: Przewodniczący Rady Miejskiej w Skarżysku-Kamiennej'
    message = OutboxMail(
        to=Address(display_name=name, addr_spec="szef@example.com"),
        from_=Address(display_name="Zapisy: Sesja Dialogu", addr_spec="zapisy@example.com"),
        subject="Zgłoszenie przyjęte — „Miasta Przyszłości” " + "ż" * 80,
        body="Zażółć gęślą jaźń. " * 200,
        html="<p>" + "Łódź " * 400 + "</p>",
        attachments=[attachment("qr.png", "image/png", b"\x89PNG...", "inline", "checkin-qr")],
    )
    raw = message.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert all(byte < 128 for byte in raw)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    to = parsed["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == "szef@example.com"  # the name's "<" and ":" make no second address
    # Decoded as RFC 2047 says (whitespace between adjacent encoded words dropped), as mail programs do.
    raw_to = email.message_from_bytes(raw, policy=email.policy.compat32)["To"]
    assert str(make_header(decode_header(raw_to))) == f"{name} <szef@example.com>"
    assert str(parsed["Subject"]).startswith("Zgłoszenie przyjęte — „Miasta Przyszłości”")
    body = parsed.get_body(("plain",)).get_content()
    assert body.startswith("Zażółć gęślą jaźń.")
    inline = [part for part in parsed.walk() if part["Content-ID"]]
    assert inline and inline[0]["Content-ID"] == "<checkin-qr>"


def test_a_server_that_never_answers_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never says hello
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    state = SimpleNamespace(
        server="127.0.0.1", port=silent.getsockname()[1], use_ssl=False, use_tls=False, username=None, password=None
    )
    started = time.monotonic()
    with pytest.raises((TimeoutError, OSError)):
        TimeoutConnection(state, timeout=0.5).configure_host()
    assert time.monotonic() - started < 5
    silent.close()
