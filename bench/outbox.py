"""Benchmark the outbox: queue N messages, deliver them to a local aiosmtpd server, report the rate.

    .venv/bin/python bench/outbox.py                   # 2,000 messages, temporary SQLite database
    .venv/bin/python bench/outbox.py --messages 5000 --batch-size 200
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/outbox.py --workers 2

Messages are queued in one transaction as ready-made rows (a text and an HTML
body and an .ics attachment of realistic size), then delivered with
``deliver_due`` batch after batch, one SMTP connection per batch. Prints
messages per second and the peak memory (resident set size of the process,
which also holds the SMTP server thread).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.db import utcnow, write_transaction  # noqa: E402
from app.extensions import db  # noqa: E402
from app.notifications.delivery import deliver_due  # noqa: E402
from app.notifications.models import MessageKind, MessageStatus, OutboxMessage  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests.mailserver import SMTPServer  # noqa: E402

TEXT = "Dzień dobry,\n\ndziękujemy za zgłoszenie. " * 20
HTML = "<p>Dzień dobry,</p><p>dziękujemy za zgłoszenie.</p>" * 20
ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "BEGIN:VEVENT\r\nSUMMARY:Sesja\r\nEND:VEVENT\r\n" * 5 + "END:VCALENDAR\r\n"


def queue(count: int) -> float:
    """Add ``count`` messages in one transaction; return the seconds it took."""
    started = time.perf_counter()
    now = utcnow()
    with write_transaction():
        db.session.add_all(
            OutboxMessage(
                kind=MessageKind.REGISTRATION_RECEIVED,
                recipient_email=f"person{i}@example.com",
                recipient_name=f"Uczestnik Żółć {i}",
                language="pl",
                subject=f"Zgłoszenie przyjęte: Sesja Dialogu {i}",
                body_text=TEXT,
                body_html=HTML,
                attachments=[{"filename": "event.ics", "content_type": "text/calendar", "content": ICS}],
                message_id=f"<bench-{i}-{time.time_ns()}@zapisy.test>",
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(count)
        )
    return time.perf_counter() - started


def deliver(app, workers: int, batch_size: int) -> None:  # type: ignore[no-untyped-def]
    """Run ``workers`` delivery loops until nothing is due."""

    def work(name: str) -> None:
        with app.app_context():
            while deliver_due(limit=batch_size, worker=name).claimed:
                pass

    threads = [threading.Thread(target=work, args=(f"bench-{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(directory) / 'bench.sqlite'}"
        server = SMTPServer().start()
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=url,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=server.port,
            MAIL_TIMEOUT=5.0,
        )
        try:
            with app.app_context():
                db.create_all()
                with db.engine.begin() as connection:
                    connection.execute(text("DELETE FROM outbox_message"))
                queued_in = queue(args.messages)
                started = time.perf_counter()
                deliver(app, args.workers, args.batch_size)
                elapsed = time.perf_counter() - started
                sent = db.session.execute(
                    db.select(db.func.count()).where(OutboxMessage.status == MessageStatus.SENT)
                ).scalar_one()
                db.session.remove()
                db.engine.dispose()
        finally:
            server.stop()

    received = len(server.handler.received)
    unique = len({r.raw.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for r in server.handler.received})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    backend = url.split(":", 1)[0]
    print(f"backend {backend}, {args.workers} worker(s), batches of {args.batch_size}")
    print(f"queued {args.messages} messages in {queued_in:.2f} s ({args.messages / queued_in:.0f}/s)")
    print(
        f"delivered {sent} ({received} received, {unique} distinct) in {elapsed:.2f} s: {sent / elapsed:.0f} messages/s"
    )
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    if received != args.messages or unique != received:
        sys.exit("some messages were lost or sent twice")


if __name__ == "__main__":
    main()
