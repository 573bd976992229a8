"""Counting failed logins, shared by every worker: in the database, or in Redis when configured."""
from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import delete, func, select

from ..db import utcnow
from ..extensions import db
from .models import LoginAttempt


class Throttle(Protocol):
    """Counts events per key within a time window."""

    def hit(self, key: str) -> None: ...

    def count(self, key: str) -> int: ...

    def reset(self, key: str) -> None: ...


class DatabaseThrottle:
    """Failed attempts as rows of ``login_attempt`` (the caller commits)."""

    def __init__(self, window: timedelta) -> None:
        self.window = window

    def hit(self, key: str) -> None:
        """Record one failure."""
        db.session.add(LoginAttempt(key=key, at=utcnow()))

    def count(self, key: str) -> int:
        """Return the failures within the window."""
        since = utcnow() - self.window
        return db.session.execute(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        ).scalar_one()

    def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (and old rows of everyone)."""
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - self.window))


class RedisThrottle:
    """Failed attempts as expiring counters in Redis."""

    def __init__(self, url: str, window: timedelta) -> None:
        import redis  # lazy: the package is needed only where REDIS_URL is set

        self.client = redis.Redis.from_url(url, socket_timeout=2)
        self.window = int(window.total_seconds())

    def _key(self, key: str) -> str:
        return f"zapisy:login:{key}"

    def hit(self, key: str) -> None:
        """Record one failure; the counter expires a window after the first."""
        name = self._key(key)
        pipe = self.client.pipeline()
        pipe.incr(name)
        pipe.expire(name, self.window, nx=True)
        pipe.execute()

    def count(self, key: str) -> int:
        """Return the failures within the window."""
        value = self.client.get(self._key(key))
        return int(value) if value else 0

    def reset(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self.client.delete(self._key(key))


def get_throttle() -> Throttle:
    """Return the configured throttle (Redis when REDIS_URL is set)."""
    window = timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW"])
    url = current_app.config.get("REDIS_URL")
    if url:
        return RedisThrottle(url, window)
    return DatabaseThrottle(window)
