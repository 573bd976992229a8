"""A silent SMTP server never holds registrations, with the production defaults (gunicorn, 2 workers).

Delivery after the response ran in the sync worker: a black-hole SMTP server held
eight concurrent registrations for 15–20 s. With the defaults, requests only
queue emails and the outbox worker delivers them.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine, text

from tests.loadclient import (
    GunicornServer,
    Participant,
    flask_db_upgrade,
    make_client,
    production_env,
    register,
    registration_form,
)
from tests.mailserver import SilentServer
from tests.test_load import _create_event

PEOPLE = 8
MAIL_TIMEOUT = "10"  # seconds: a request that waited for SMTP would outlive the client's patience
CLIENT_TIMEOUT = 5.0


def test_a_silent_smtp_server_never_holds_a_registration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    silent = SilentServer()
    url = f"sqlite:///{tmp_path / 'stall.sqlite'}"
    env = production_env(
        url, "http://zapisy.test", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(silent.port), MAIL_TIMEOUT=MAIL_TIMEOUT
    )
    del env["OUTBOX_DELIVER_AFTER_REQUEST"]  # the default is what is tried here
    server = GunicornServer(env, log_path=tmp_path / "error.log", workers=2)
    try:
        flask_db_upgrade(server.env)
        slug, _workshop, _group, plenary_id = _create_event(url)
        server.start()

        async def rounds() -> list:
            async with make_client(PEOPLE, timeout=CLIENT_TIMEOUT) as client:
                outcomes = []
                for batch in range(2):  # a second round finds the workers free, not delivering
                    outcomes += await asyncio.gather(
                        *(
                            register(
                                Participant(client, server.url),
                                slug,
                                registration_form(f"stall{batch}-{n}@example.com", [plenary_id], n),
                            )
                            for n in range(PEOPLE)
                        )
                    )
                return outcomes

        outcomes = asyncio.run(rounds())
    finally:
        server.stop()
        silent.close()
    assert [o.error for o in outcomes if not o.ok] == [], server.log_tail()
    engine = create_engine(url)
    with engine.connect() as connection:
        statuses = connection.execute(text("SELECT status, count(*) FROM outbox_message GROUP BY status")).all()
    engine.dispose()
    assert dict(statuses) == {"pending": 2 * PEOPLE}  # queued for the worker, none tried by a request
