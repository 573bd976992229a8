"""Gunicorn settings for Zapisy: ``gunicorn -c gunicorn.conf.py``.

Every setting can be overridden on the command line (``--bind``, ``--workers`` …)
or with the environment variables read below. See docs/deploy.md.
"""
from __future__ import annotations

import multiprocessing
import os
import re
from typing import Any

from gunicorn.glogging import Logger

wsgi_app = "app:create_app()"

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Sync workers: the app is CPU-bound Python, so one request per process is the
# honest model; nginx in front buffers slow clients.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
# Load the app once in the master and fork: workers start faster and share memory.
# The database connections the master may have opened are dropped in post_fork.
preload_app = True

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # a silent worker is killed and replaced
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))  # to finish requests on SIGTERM
# Restart a worker after this many requests (0: never), jittered so they do not restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Headers from these addresses may set the scheme (X-Forwarded-Proto); nginx on the same host.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Gunicorn's control socket (gunicornc) defaults to one path per user, which
# several servers on one host would fight over: off unless given a path.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files off a possibly slow disk

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" rid=%({x-request-id}o)s'

# A private manage link is the key to a registration: it must never reach a log.
TOKEN_IN_PATH = re.compile(r"(/r|/reset-password)/[^/?#\s\"]+")


def redact(value: str) -> str:
    """Hide private manage tokens (``/r/<token>``) in a path, URL or log line."""
    return TOKEN_IN_PATH.sub(r"\1/[token]", value)


class RedactingLogger(Logger):
    """Gunicorn's logger, with manage tokens removed from every access-log field."""

    def atoms(self, resp, req, environ, request_time) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """Return the access-log fields with tokens redacted (path, request line, referer, headers)."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) and "/r/" in value else value
                for key, value in atoms.items()}


logger_class = RedactingLogger


def post_fork(server, worker) -> None:  # type: ignore[no-untyped-def]
    """Drop the database connections inherited from the master (never share a socket)."""
    app = server.app.wsgi()
    extension = getattr(app, "extensions", {}).get("sqlalchemy")
    if extension is None:
        return
    with app.app_context():
        for engine in extension.engines.values():
            # close=False: leave the parent's sockets alone, just forget them here.
            engine.dispose(close=False)
