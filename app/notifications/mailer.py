"""The one place that leans on Flask-Mail's private methods (tests/test_mailer.py pins them).

The stack names Flask-Mail, and the outbox sends through it, but two things it
does not do had to be added by overriding its private parts:

- ``Message._mimetext`` and ``Message._message``: Flask-Mail sends UTF-8 bodies as raw
  8-bit lines (servers refuse lines over 998 bytes, and 8-bit data needs 8BITMIME)
  and folds display names and subjects with ``email.header.Header``, which splits
  long Polish names mid-word and can break the quoting of a name holding ``<``,
  ``"`` or ``:``. Here bodies are quoted-printable and To, From and Subject are
  written through ``email.headerregistry``, which quotes, RFC 2047-encodes and
  refuses line breaks.
- ``Connection.configure_host``: Flask-Mail opens its SMTP connection without a
  timeout, so a server that accepts and never answers would hold a worker forever.

What would let it go: Flask-Mail building messages with ``email.message.EmailMessage``
and the SMTP policy (then the first two overrides are its own behaviour), and a
``MAIL_TIMEOUT`` setting. Until then, an upgrade of Flask-Mail must keep the
tests of this module green.
"""

from __future__ import annotations

import smtplib
from email.charset import QP, Charset
from email.headerregistry import Address
from email.mime.base import MIMEBase
from email.mime.text import MIMEText
from typing import Any

import flask_mail

BadHeaderError = flask_mail.BadHeaderError


class OutboxMail(flask_mail.Message):
    """Flask-Mail's message with short 7-bit body lines and To, From and Subject written by the modern header API."""

    def __init__(self, *, to: Address, from_: Address, **kwargs: Any) -> None:
        super().__init__(recipients=[to.addr_spec], sender=from_.addr_spec, **kwargs)
        self.to_address = to
        self.from_address = from_

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        charset = Charset("utf-8")
        charset.body_encoding = QP
        return MIMEText(text or "", _subtype=subtype, _charset=charset)  # type: ignore[arg-type]

    def _message(self) -> MIMEBase:
        message = super()._message()  # its policy is now email.policy.SMTP
        headers: dict[str, Address | str] = {"To": self.to_address, "From": self.from_address, "Subject": self.subject}
        for name, value in headers.items():
            del message[name]
            if value:
                message[name] = value  # type: ignore[assignment]
        return message


def attachment(
    filename: str, content_type: str, data: bytes, disposition: str = "attachment", content_id: str | None = None
) -> flask_mail.Attachment:
    """Return a Flask-Mail attachment; ``content_id`` makes it an inline part (``cid:`` in the HTML)."""
    headers = {"Content-ID": f"<{content_id}>"} if content_id else None
    return flask_mail.Attachment(
        filename=filename, content_type=content_type, data=data, disposition=disposition, headers=headers
    )


class TimeoutConnection(flask_mail.Connection):
    """Flask-Mail's connection with a socket timeout (Flask-Mail sets none by itself)."""

    def __init__(self, state: Any, timeout: float) -> None:
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        host: smtplib.SMTP
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=self.timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=self.timeout)
        try:
            if state.use_tls:
                host.starttls()
            if state.username and state.password:
                host.login(state.username, state.password)
        except BaseException:
            host.close()
            raise
        return host
