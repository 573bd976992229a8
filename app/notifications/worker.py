"""The outbox worker's other duties: periodic tasks that each domain registers on the app.

The worker (``flask outbox work``) delivers emails and, between rounds, runs
what the domains asked for (expire offered places and unconfirmed holds …).
It knows no domain: the tasks are registered in ``create_app``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app

from ..db import utcnow
from ..extensions import db

EXTENSION_KEY = "zapisy.worker_tasks"


@dataclass
class Task:
    """A duty of the worker: ``run(now)`` every ``every`` seconds (0: every round)."""

    name: str
    run: Callable[[datetime], object]
    every: float = 0.0
    retry_after: float | None = None  # after a failure, sooner than ``every``
    last_run: float | None = field(default=None, compare=False)

    def is_due(self, clock: float) -> bool:
        """Tell whether the task should run at ``clock`` (a monotonic time)."""
        return self.last_run is None or clock - self.last_run >= self.every


def add_task(
    app: Flask, name: str, run: Callable[[datetime], object], every: float = 0.0, retry_after: float | None = None
) -> None:
    """Register a periodic task of the outbox worker on ``app``."""
    app.extensions.setdefault(EXTENSION_KEY, []).append(Task(name, run, every, retry_after))


def tasks() -> list[Task]:
    """Return the current app's worker tasks."""
    return list(current_app.extensions.get(EXTENSION_KEY, []))


def run_due_tasks(clock: Callable[[], float] = time.monotonic) -> list[str]:
    """Run every task that is due; return the names of those run. A failing task is logged and skipped."""
    ran = []
    for task in tasks():
        now = clock()
        if not task.is_due(now):
            continue
        task.last_run = now
        try:
            task.run(utcnow())
        except Exception:  # noqa: BLE001 - one task's failure must not stop the others or delivery
            current_app.logger.exception("Outbox worker task %r failed", task.name)
            db.session.rollback()
            if task.retry_after is not None and task.retry_after < task.every:
                task.last_run = now - task.every + task.retry_after
        ran.append(task.name)
    return ran
