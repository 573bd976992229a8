"""Counting failed attempts, shared by every worker: in the database, or in Redis when configured.

Both stores count the attempts of the last ``window`` (a sliding window) and
know when the latest was, which the login's back-off needs
(``backoff_seconds``). The caller commits the database store's rows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import delete, func, select

from ..db import utcnow
from ..extensions import db
from .models import LoginAttempt


@dataclass(frozen=True)
class Recent:
    """The attempts of a key within the window: how many, and the time of the latest."""

    count: int
    last_at: datetime | None


class Throttle(Protocol):
    """Counts events per key within a time window."""

    def hit(self, key: str, now: datetime | None = None) -> None: ...

    def count(self, key: str, now: datetime | None = None) -> int: ...

    def recent(self, key: str, now: datetime | None = None) -> Recent: ...

    def reset(self, key: str) -> None: ...


def backoff_seconds(failures: int, free: int, base: float, ceiling: float) -> float:
    """Return how long to wait after ``failures`` failures: nothing for the first ``free``, then ``base`` doubling up to ``ceiling``."""
    if failures < free:
        return 0.0
    return min(ceiling, base * 2.0 ** min(failures - free, 30))


class DatabaseThrottle:
    """Attempts as rows of ``login_attempt`` (the caller commits)."""

    def __init__(self, window: timedelta) -> None:
        self.window = window

    def hit(self, key: str, now: datetime | None = None) -> None:
        """Record one attempt."""
        db.session.add(LoginAttempt(key=key, at=now or utcnow()))

    def count(self, key: str, now: datetime | None = None) -> int:
        """Return the attempts within the window."""
        return self.recent(key, now).count

    def recent(self, key: str, now: datetime | None = None) -> Recent:
        """Return the attempts within the window and the time of the latest."""
        since = (now or utcnow()) - self.window
        count, last_at = db.session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        ).one()
        return Recent(count, last_at)

    def reset(self, key: str) -> None:
        """Forget the attempts of ``key`` (and old rows of everyone)."""
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - self.window))


class RedisThrottle:
    """Attempts as members of an expiring sorted set per key in Redis, scored by their time."""

    def __init__(self, url: str, window: timedelta) -> None:
        import redis  # lazy: the package is needed only where REDIS_URL is set

        self.client = redis.Redis.from_url(url, socket_timeout=2)
        self.window = window.total_seconds()

    @staticmethod
    def name(key: str) -> str:
        """Return the Redis key of ``key`` (a sorted set; the older counters were strings under zapisy:login:)."""
        return f"zapisy:throttle:{key}"

    def hit(self, key: str, now: datetime | None = None) -> None:
        """Record one attempt and drop those older than the window."""
        name, at = self.name(key), (now or utcnow()).timestamp()
        pipe = self.client.pipeline()
        pipe.zadd(name, {f"{at}:{secrets.token_hex(4)}": at})
        pipe.zremrangebyscore(name, "-inf", f"({at - self.window}")
        pipe.expire(name, int(self.window) + 1)
        pipe.execute()

    def count(self, key: str, now: datetime | None = None) -> int:
        """Return the attempts within the window."""
        return self.recent(key, now).count

    def recent(self, key: str, now: datetime | None = None) -> Recent:
        """Return the attempts within the window and the time of the latest."""
        name, at = self.name(key), (now or utcnow()).timestamp()
        pipe = self.client.pipeline()
        pipe.zcount(name, at - self.window, "+inf")
        pipe.zrange(name, -1, -1, withscores=True)
        count, latest = pipe.execute()
        last_at = datetime.fromtimestamp(latest[0][1], UTC) if count and latest else None
        return Recent(int(count), last_at)

    def reset(self, key: str) -> None:
        """Forget the attempts of ``key``."""
        self.client.delete(self.name(key))


def get_throttle(window: timedelta | None = None) -> Throttle:
    """Return the configured throttle (Redis when REDIS_URL is set), counting over ``window`` (the login's by default)."""
    window = window or timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW"])
    url = current_app.config.get("REDIS_URL")
    if url:
        return RedisThrottle(url, window)
    return DatabaseThrottle(window)
