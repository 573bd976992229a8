"""Participant emails: a database outbox written with each change, delivered after commit.

Every email is an ``outbox_message`` row added in the same transaction as the
change it reports (``services.queue_*``), so a rolled-back change leaves no
email. ``delivery.deliver_due`` claims due rows atomically (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), sends a batch over one
SMTP connection with Flask-Mail and a socket timeout, and records the outcome:
sent; retried with exponential backoff after a 4xx reply or a connection error;
failed at once after a 5xx reply or after the last retry. Without
``MAIL_SERVER`` the messages are written as ``.eml`` files under
``instance/mail/`` (listed at ``/dev/mail`` in development).

The "send me my link again" page issues a new manage token. It is rate-limited
per registration (``OUTBOX_RESEND_MAX_PER_HOUR`` link emails an hour, counted
from the outbox rows) and per client IP (``OUTBOX_RESEND_MAX_PER_IP`` requests
an hour, counted by the login throttle's store: the database, or Redis when
``REDIS_URL`` is set); it answers the same whether or not a registration exists.
"""
