"""Browser tests: the app in a real server, a real SMTP server and Debian's Chromium driven by Playwright.

One server (gunicorn in a subprocess on a free loopback port, its own
SQLite database with the demo data and a few test events) and one headless
Chromium serve each test module; each test opens fresh browser contexts
(own cookies) and registers people with its own email addresses.
Screenshots go to ``test-artifacts/e2e/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ARTIFACTS,
    CHROMIUM,
    DESKTOP,
    FLOW_EVENTS,
    HERE,
    HOW_TO_GET_CHROMIUM,
    LAUNCH_ARGS,
    NARROW,
    PHONE,
    ROOT,
    WARSAW,
    flow_event_title,
)


def _skip_reason() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"browser tests skipped: no Chromium at {CHROMIUM}; {HOW_TO_GET_CHROMIUM}"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return f"browser tests skipped: Playwright for Python is not installed; {HOW_TO_GET_CHROMIUM}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every browser test, saying how to get Chromium, when it is missing."""
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    """Remember each phase's report on the test, so fixtures can tell a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --- the server --------------------------------------------------------------------------------


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """Return an aware datetime for a Warsaw wall-clock time."""
    return datetime.combine(day, clock(hour, minute), tzinfo=WARSAW)


def _add_flow_event(slug: str, day: date) -> None:
    """Add a small published event: a time clash, a one-place session and two workshops at the same time."""
    from app.db import utcnow
    from app.events.models import Event, EventStatus, Group, Series, Session, SessionKind
    from app.extensions import db

    series = db.session.execute(db.select(Series).where(Series.slug == "miasta-przyszlosci")).scalar_one()
    event = Event(
        series=series,
        slug=slug,
        title_pl=flow_event_title(slug),
        title_en=f"City development forum — {FLOW_EVENTS[slug]}",
        description_pl="Debaty, rozmowy z ekspertami i warsztaty w małych grupach dla samorządowców.",
        description_en="Debates, meetings with experts and small-group workshops for local government.",
        city=FLOW_EVENTS[slug],
        venue="Ratusz",
        starts_at=_at(day, 9),
        ends_at=_at(day, 17),
        registration_opens_at=utcnow() - timedelta(days=1),
        registration_closes_at=_at(day - timedelta(days=2), 23, 59),
        status=EventStatus.PUBLISHED,
        contact_email="forum@zapisy.test",
    )
    db.session.add(event)

    def session(
        kind: SessionKind,
        pl: str,
        en: str,
        start: int,
        end: int,
        capacity: int | None = None,
        groups: list[int] | None = None,
    ) -> None:
        item = Session(
            event=event,
            kind=kind,
            title_pl=pl,
            title_en=en,
            starts_at=_at(day, start),
            ends_at=_at(day, end),
            room="Sala A",
            capacity=capacity,
        )
        if groups:
            item.groups = [Group(name=f"Grupa {n}", capacity=c) for n, c in enumerate(groups, start=1)]
            item.capacity = sum(groups)
        db.session.add(item)

    session(SessionKind.PLENARY, "Otwarcie forum", "Opening of the forum", 9, 10)
    session(SessionKind.DIALOGUE, "Debata: transport publiczny", "Debate: public transport", 10, 12, capacity=40)
    session(SessionKind.DIALOGUE, "Debata: zieleń miejska", "Debate: urban greenery", 10, 12, capacity=40)
    session(SessionKind.DIALOGUE, "Rozmowa z ekspertem", "Meet the expert", 12, 13, capacity=1)
    session(
        SessionKind.WORKSHOP, "Warsztat: budżet obywatelski", "Workshop: participatory budgeting", 14, 16, groups=[6, 6]
    )
    session(SessionKind.WORKSHOP, "Warsztat: rewitalizacja", "Workshop: urban regeneration", 14, 16, groups=[6, 6])


def _seed(database_url: str) -> None:
    """Create the schema, the demo data, an admin account and the test events."""
    from app import create_app
    from app.auth.models import Role
    from app.auth.services import create_organiser
    from app.demo import seed_demo_data
    from app.extensions import db
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=database_url, MAIL_SERVER=None)
    with app.app_context():
        # create_all, as the other tests do: these tests are about the pages; the
        # migrations have their own test (tests/test_migrations.py).
        db.create_all()
        seed_demo_data()
        create_organiser(ADMIN_EMAIL, ADMIN_PASSWORD, Role.ADMIN, name="Administrator E2E")
        day = datetime.now(WARSAW).date() + timedelta(days=40)
        for slug in FLOW_EVENTS:
            _add_flow_event(slug, day)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@dataclass
class LiveServer:
    """The app served over HTTP, with the SMTP server its emails go to."""

    url: str
    mail: Any  # tests.mailserver.SMTPServer
    log: Path
    database: Path

    def mail_count(self, to: str) -> int:
        """Return how many emails ``to`` has received so far."""
        return len(self.mail.handler.to(to))

    def wait_for_mail(self, to: str, subject: str = "", after: int = 0, timeout: float = 15.0) -> EmailMessage:
        """Return the first email to ``to`` after the first ``after`` whose subject holds ``subject``.

        Emails are delivered right after the response that queued them, so
        they can land a moment after the page has loaded: poll, with a deadline.
        """
        deadline = time.monotonic() + timeout
        while True:
            received = [r.message for r in self.mail.handler.to(to)]
            for message in received[after:]:
                if subject in str(message["Subject"]):
                    return message
            if time.monotonic() > deadline:
                subjects = [str(m["Subject"]) for m in received]
                raise AssertionError(
                    f"no email to {to} with {subject!r} within {timeout:.0f}s; received: {subjects}\n"
                    f"server log ({self.log}):\n{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.1)

    def manage_link(self, message: EmailMessage) -> str:
        """Return the private link in an email's text part."""
        body = message.get_body(preferencelist=("plain",))
        assert body is not None, "the email has no text part"
        match = re.search(re.escape(self.url) + r"/r/[A-Za-z0-9_\-]+", body.get_content())
        assert match, "no private link in the email"
        return match.group(0)


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path, timeout: float = 45.0) -> None:
    """Wait for /healthz to answer; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app server exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app server did not answer within {timeout:.0f}s:\n{log.read_text()[-4000:]}")


def _serve(workdir: Path, database_url: str, url: str, port: int, settings: dict[str, str]) -> subprocess.Popen:
    """Start gunicorn (as in production) on ``port`` with the given settings; return the running process."""
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
        "BASE_URL": url,
        "OUTBOX_DELIVER_AFTER_REQUEST": "1",
        "RATELIMIT_ENABLED": "0",
        "WEB_CONCURRENCY": "3",
        "GUNICORN_LOGLEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    for name in ("REDIS_URL", "FLASK_DEBUG", "ZAPISY_MULTI_HOST", "PROXY_COUNT"):
        env.pop(name, None)
    if "MAIL_SERVER" not in settings:
        env.pop("MAIL_SERVER", None)
    # gunicorn as in production: Werkzeug's development server runs the after-response
    # delivery only once the browser closes the connection, which can be much later.
    with (workdir / "server.log").open("w") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen) -> None:
    """Stop the server, killing it if it does not end in time."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# Module scope, for the server as for the browser: Playwright's sync API keeps an asyncio
# loop running in the main thread while it is open, and later tests call asyncio.run().
@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """Serve the app (gunicorn, production settings) on a free loopback port with a recording SMTP server."""
    from tests.mailserver import SMTPServer, free_port

    # Not pytest's tmp_path: a concurrent pytest run prunes old pytest-<n> folders, database included.
    workdir = Path(tempfile.mkdtemp(prefix="zapisy-e2e-"))
    database = workdir / "zapisy.sqlite"
    database_url = f"sqlite:///{database}"
    _seed(database_url)

    mail = SMTPServer().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "server.log"  # per run: several test runs may share the working tree
    # Production settings (as `make serve`), over plain HTTP on loopback.
    process = _serve(
        workdir,
        database_url,
        url,
        port,
        {
            "ZAPISY_ENV": "production",
            "SESSION_COOKIE_SECURE": "0",
            "PREFERRED_URL_SCHEME": "http",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(mail.port),
            "MAIL_USE_TLS": "0",
            "MAIL_USE_SSL": "0",
        },
    )
    try:
        _wait_until_serving(url, process, log)
        yield LiveServer(url=url, mail=mail, log=log, database=database)
    finally:
        _stop(process)
        mail.stop()
        if not os.environ.get("E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class DevServer:
    """The app served with development settings: no mail server, emails written to ``mail_dir``, /dev/mail on."""

    url: str
    log: Path
    mail_dir: Path


@pytest.fixture(scope="module")
def dev_server() -> Iterator[DevServer]:
    """Serve the app as `make run` does (ZAPISY_ENV=development, no MAIL_SERVER) on a free loopback port."""
    from tests.mailserver import free_port

    workdir = Path(tempfile.mkdtemp(prefix="zapisy-e2e-dev-"))
    database_url = f"sqlite:///{workdir / 'zapisy.sqlite'}"
    _seed(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "server.log"
    mail_dir = workdir / "mail"
    process = _serve(workdir, database_url, url, port, {"ZAPISY_ENV": "development", "OUTBOX_MAIL_DIR": str(mail_dir)})
    try:
        _wait_until_serving(url, process, log)
        yield DevServer(url=url, log=log, mail_dir=mail_dir)
    finally:
        _stop(process)
        if not os.environ.get("E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Launch Debian's headless Chromium once per module (Playwright gives it a fresh profile)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any, server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Return a factory of pages, each in its own context: ``new_page("phone")``, ``"narrow"`` (360 px) or ``"desktop"``.

    On failure each page's last state is saved as a screenshot next to the others.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    contexts: list[Any] = []

    def factory(kind: str = "desktop") -> Any:
        options = {"phone": PHONE, "narrow": NARROW}.get(kind, DESKTOP)
        context = browser.new_context(
            base_url=server.url,
            accept_downloads=True,
            reduced_motion="reduce",
            timezone_id="Europe/Warsaw",
            locale="pl-PL",
            **options,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                try:
                    page.screenshot(path=ARTIFACTS / "failures" / f"{name}-{n}-{m}.png", full_page=True)
                except Exception:  # noqa: BLE001 - a page that cannot be captured must not hide the failure
                    pass
    for context in contexts:
        context.close()


@dataclass
class FramingServer:
    """The app that lets one other site frame its registration form, and that site (a page with the frame)."""

    url: str  # the app: http://127.0.0.1:<port>
    site: str  # the organiser's site allowed to frame it: http://localhost:<port>, another site for the browser
    other_site: str  # a site not allowed to: http://localhost:<another port>
    log: Path


@pytest.fixture(scope="module")
def framing_server() -> Iterator[FramingServer]:
    """Serve the app with FRAME_ANCESTORS naming a second local site, and both sites' pages framing the form."""
    import functools
    import http.server
    import threading

    from tests.mailserver import free_port

    workdir = Path(tempfile.mkdtemp(prefix="zapisy-e2e-frame-"))
    database_url = f"sqlite:///{workdir / 'zapisy.sqlite'}"
    _seed(database_url)
    port, site_port, other_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    (workdir / "site").mkdir()
    (workdir / "site" / "index.html").write_text(
        '<!doctype html><html lang="pl"><title>Organiser</title><h1>Our conference</h1>'
        f'<iframe id="form" title="Registration" src="{url}/events/e2e-pl/register" width="900" height="1400"></iframe>',
        encoding="utf-8",
    )
    log = workdir / "server.log"
    process = _serve(
        workdir,
        database_url,
        url,
        port,
        {
            "ZAPISY_ENV": "production",
            # Chromium keeps Secure cookies of http://127.0.0.1 (a loopback origin is potentially trustworthy).
            "SESSION_COOKIE_SECURE": "1",
            "SESSION_COOKIE_SAMESITE": "None",
            "FRAME_ANCESTORS": f"http://localhost:{site_port}",
            "PREFERRED_URL_SCHEME": "http",
            "OUTBOX_MAIL_DIR": str(workdir / "mail"),
        },
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            """Keep the test output clean."""

    handler = functools.partial(Quiet, directory=str(workdir / "site"))
    sites = [http.server.ThreadingHTTPServer(("127.0.0.1", p), handler) for p in (site_port, other_port)]
    for site in sites:
        threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        _wait_until_serving(url, process, log)
        yield FramingServer(
            url=url, site=f"http://localhost:{site_port}", other_site=f"http://localhost:{other_port}", log=log
        )
    finally:
        for site in sites:
            site.shutdown()
            site.server_close()
        _stop(process)
        if not os.environ.get("E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
