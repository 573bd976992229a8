"""A real server and a real participant client, shared by tests/test_load.py and bench/load.py.

``GunicornServer`` runs the app (or any WSGI app) under gunicorn with
gunicorn.conf.py on a free loopback port, in its own process group, and always
stops it. ``register`` drives the participant flow over HTTP with httpx: GET
the form, POST it with the page's CSRF token and the session cookie, follow
the redirect to the success page.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The success page shows a waitlisted booking as: <badge text-bg-warning>…</span> position N
WAITLIST_POSITION = re.compile(r'text-bg-warning">[^<]*</span>\s*\S+\s+(\d+)')
CONFIRMED_BADGE = "text-bg-success"
SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")
SUCCESS_MARKER = "/r/"  # the private link, shown only on the success page


def free_port() -> int:
    """Return a TCP port that is free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def production_env(database_url: str, base_url: str, **extra: str) -> dict[str, str]:
    """Return the environment of a production-like app process for load runs.

    Rate limits are off (every client is 127.0.0.1) and no mail is delivered
    during requests (the outbox rows are what the load tests count).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "GUNICORN_"))}
    env.update(
        ZAPISY_ENV="production",
        SECRET_KEY="load-test-secret-key-0123456789abcdef",
        DATABASE_URL=database_url,
        BASE_URL=base_url,
        RATELIMIT_ENABLED="0",
        OUTBOX_DELIVER_AFTER_REQUEST="0",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def flask_db_upgrade(env: dict[str, str], timeout: float = 120) -> None:
    """Run ``flask db upgrade`` in a subprocess with ``env``; raise with its output on failure."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


class GunicornServer:
    """Gunicorn serving a WSGI app on a free loopback port, with gunicorn.conf.py."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        workers: int = 2,
        wsgi_app: str = "app:create_app()",
        access_log: bool = False,
    ) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.workers = workers
        self.wsgi_app = wsgi_app
        self.access_log = access_log
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/healthz", timeout: float = 30) -> GunicornServer:
        """Start gunicorn and wait until ``ready_path`` answers 200.

        :raises RuntimeError: when the server exits or does not answer in time (with its log).
        """
        env = dict(self.env)
        env["GUNICORN_ACCESSLOG"] = str(self.log_path.with_suffix(".access.log")) if self.access_log else ""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--workers",
            str(self.workers),
            "--error-logfile",
            str(self.log_path),
            self.wsgi_app,
        ]
        # A process group of its own: stop() signals the master and its workers together.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer {ready_path} within {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15) -> None:
        """Stop the master and its workers (SIGTERM, then SIGKILL to the process group)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        except ProcessLookupError:
            pass

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of the server's error log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _no_cookie_jar() -> http.cookiejar.CookieJar:
    """Return a cookie jar that keeps nothing: each participant carries its own cookies."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def make_client(concurrency: int, timeout: float = 60) -> httpx.AsyncClient:
    """Return one async HTTP client for many participants (cookies are per participant)."""
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8),
        cookies=_no_cookie_jar(),
        follow_redirects=False,
    )


@dataclass
class Stats:
    """Latencies per request kind and errors, gathered over a run."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # The server's own time per request kind, from its Server-Timing header when it sends one.
    server_times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)

    def record(self, kind: str, seconds: float, status: int) -> None:
        """Note one request."""
        self.latencies[kind].append(seconds)
        self.statuses[status] += 1

    @property
    def server_errors(self) -> int:
        """Count the 5xx answers."""
        return sum(count for status, count in self.statuses.items() if status >= 500)


@dataclass
class Outcome:
    """What one participant's attempt to register ended with."""

    ok: bool
    confirmed: bool = False
    position: int | None = None
    status: int = 0
    error: str = ""


class Participant:
    """One browser: its own cookies, and the CSRF token of the last form it loaded."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, stats: Stats | None = None) -> None:
        self.client = client
        self.base_url = base_url
        self.stats = stats or Stats()
        self.cookies: dict[str, str] = {}
        self.csrf_token = ""

    async def request(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request with this participant's cookies; keep the cookies it sets."""
        headers = {"Accept-Language": "pl"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        started = time.perf_counter()
        response = await self.client.request(method, self.base_url + path, headers=headers, **kwargs)
        self.stats.record(kind, time.perf_counter() - started, response.status_code)
        timing = SERVER_TIMING.search(response.headers.get("server-timing", ""))
        if timing:
            self.stats.server_times[kind].append(float(timing.group(1)) / 1000)
        self.keep_cookies(response)
        return response

    def keep_cookies(self, response: httpx.Response) -> None:
        """Keep the cookies ``response`` sets (whatever their Secure flag: this client stands behind a TLS proxy)."""
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "expires=thu, 01 jan 1970" in header.lower() or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value

    def fork(self, response: httpx.Response) -> Participant:
        """Return this browser as it would be had ``response`` been the last answer it got (of several at once)."""
        other = Participant(self.client, self.base_url, self.stats)
        other.cookies = dict(self.cookies)
        other.csrf_token = self.csrf_token
        other.keep_cookies(response)
        return other

    async def load_form(self, path: str) -> httpx.Response:
        """GET a form page and keep its CSRF token."""
        response = await self.request("form", "GET", path)
        match = CSRF_INPUT.search(response.text)
        self.csrf_token = match.group(1) if match else ""
        return response

    async def submit(self, path: str, data: dict[str, Any]) -> httpx.Response:
        """POST ``data`` with the CSRF token of the last form loaded."""
        return await self.request("submit", "POST", path, data={**data, "csrf_token": self.csrf_token})

    async def follow(self, response: httpx.Response) -> httpx.Response:
        """GET the page a 303 points to."""
        location = response.headers["location"]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        return await self.request("success", "GET", location)


def read_success_page(response: httpx.Response) -> Outcome:
    """Tell whether a page is the registration success page, and what it says."""
    if response.status_code != 200 or SUCCESS_MARKER not in response.text:
        return Outcome(ok=False, status=response.status_code, error=f"no success page ({response.status_code})")
    position = WAITLIST_POSITION.search(response.text)
    return Outcome(
        ok=True,
        confirmed=CONFIRMED_BADGE in response.text,
        position=int(position.group(1)) if position else None,
        status=response.status_code,
    )


def registration_form(email: str, session_ids: list[int], n: int = 0) -> dict[str, Any]:
    """Return a valid registration form for ``email`` choosing ``session_ids``."""
    return {
        "first_name": "Anna",
        "last_name": f"Obciążeniowa{n}",
        "email": email,
        "organisation": "Urząd Miasta",
        "position": "Wiceprezydent",
        "city": "Łódź",
        "category": "mayor",
        "language": "pl",
        "consent": "y",
        "sessions": [str(i) for i in session_ids],
    }


async def register(participant: Participant, slug: str, data: dict[str, Any]) -> Outcome:
    """Register through the web: form, POST, redirect; the outcome is read from the success page."""
    path = f"/events/{slug}/register"
    try:
        form = await participant.load_form(path)
        if form.status_code != 200 or not participant.csrf_token:
            return Outcome(ok=False, status=form.status_code, error=f"form: {form.status_code}")
        answer = await participant.submit(path, data)
        if answer.status_code != 303:
            return Outcome(ok=False, status=answer.status_code, error=f"submit: {answer.status_code}")
        return read_success_page(await participant.follow(answer))
    except httpx.HTTPError as error:
        return Outcome(ok=False, error=f"{type(error).__name__}: {error}")


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` percentile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def run(coroutine: Any) -> Any:
    """Run a coroutine to completion in a fresh event loop."""
    return asyncio.run(coroutine)
