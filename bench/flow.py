"""Time one participant's registration in process, request by request (the figures "in process" of docs/benchmarks.md).

Builds bench/load.py's event (200 sessions) in a fresh SQLite file, or in a
fresh PostgreSQL database with ``--db``, and drives the production app with
Flask's test client: GET the form, POST it, GET the success page. No server,
no network, no client CPU in the way: what is left is the app's own time.
``--profile FILE`` also writes cProfile statistics of the timed part (open them
with ``python -m pstats FILE``).

Run as: .venv/bin/python bench/flow.py [--registrations 300] [--db URL] [--profile /tmp/flow.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from tests.loadclient import CSRF_INPUT, registration_form  # noqa: E402

BASE = "https://zapisy.example"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=300, help="timed registrations (after 20 warm-up ones)")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--db", default=None, help="PostgreSQL URL on loopback (default: SQLite in a temporary file)")
    parser.add_argument("--profile", type=Path, help="write cProfile statistics of the timed registrations here")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="also count the database round trips of each request (and list one registration's statements)",
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="zapisy-flow-"))
    try:
        # The load benchmark's database: a SQLite file in workdir, or a fresh PostgreSQL database, dropped after.
        with load.database(args.db, workdir) as database:
            return _run(database, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(database: str, args: argparse.Namespace) -> int:
    # Before anything imports config.py, which reads the environment once.
    os.environ.update(
        ZAPISY_ENV="production",
        SECRET_KEY="flow-benchmark-secret-key-0123456789",
        DATABASE_URL=database,
        BASE_URL=BASE,
        RATELIMIT_ENABLED="0",
        OUTBOX_DELIVER_AFTER_REQUEST="0",
    )
    fixture = load.generate(database, args.sessions, 1000, 100)
    from app import create_app

    app = create_app()
    path = f"/events/{fixture.slug}/register"
    times: dict[str, list[float]] = {"form": [], "submit": [], "success": []}
    trips = RoundTrips(app) if args.statements else None

    def register(n: int) -> None:
        client = app.test_client()
        started = time.perf_counter()
        if trips:
            trips.kind, trips.listing = "form", n == 0
        page = client.get(path, base_url=BASE)
        times["form"].append(time.perf_counter() - started)
        choices = [fixture.slots[(n + k * 7) % load.SLOTS][n % len(fixture.slots[0])] for k in range(load.CHOICES)]
        data = {
            **registration_form(f"flow{n}@example.com", choices, n),
            "csrf_token": CSRF_INPUT.search(page.text).group(1),
        }
        started = time.perf_counter()
        if trips:
            trips.kind = "submit"
        answer = client.post(path, base_url=BASE, data=data, headers={"Referer": BASE + "/"})
        times["submit"].append(time.perf_counter() - started)
        if answer.status_code != 303:
            raise SystemExit(f"registration {n} answered {answer.status_code}")
        started = time.perf_counter()
        if trips:
            trips.kind = "success"
        success = client.get(answer.headers["Location"].removeprefix(BASE), base_url=BASE)
        times["success"].append(time.perf_counter() - started)
        if "/r/" not in success.text:
            raise SystemExit(f"registration {n}: no success page")

    for n in range(20):
        register(10**6 + n)
    for kind in times:
        times[kind].clear()
    if trips:
        trips.start()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    for n in range(args.registrations):
        register(n)
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    backend = "PostgreSQL" if database.startswith("postgresql") else "SQLite"
    print(f"{args.registrations} registrations in process ({backend}, {args.sessions} sessions):")
    for kind, values in times.items():
        print(
            f"  {kind:8s} mean {1000 * statistics.mean(values):6.2f} ms   median {1000 * statistics.median(values):6.2f} ms"
        )
    print(f"  one registration (three requests): {1000 * sum(statistics.mean(v) for v in times.values()):.2f} ms")
    if args.profile:
        print(f"  cProfile statistics: {args.profile}")
    if trips:
        trips.report(args.registrations)
    return 0


class RoundTrips:
    """Count what each request sends to the database: statements, BEGIN, COMMIT or ROLLBACK, pool pings.

    On PostgreSQL each is one round trip to the server (psycopg sends BEGIN on
    its own before the first statement of a transaction, and ``pool_pre_ping``
    a ping at each checkout); SQLite is a library call, no round trip.
    """

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy import event

        from app.extensions import db

        with app.app_context():
            engine = db.engine
        self.kind = ""
        self.counting = False
        self.listing = False  # during the first counted registration
        self.counts: dict[str, dict[str, int]] = {}
        self.listed: dict[str, list[str]] = {}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", lambda connection: self._note("BEGIN"))
        event.listen(engine, "commit", lambda connection: self._note("COMMIT"))
        event.listen(engine, "rollback", lambda connection: self._note("ROLLBACK"))
        event.listen(engine.pool, "checkout", lambda *args: self._note("ping"))

    def start(self) -> None:
        """Count from now on."""
        self.counting = True

    def _statement(self, connection, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        self._note(" ".join(statement.split())[:110])

    def _note(self, what: str) -> None:
        if not self.counting:
            return
        kind = self.counts.setdefault(self.kind, {})
        label = what if what in ("BEGIN", "COMMIT", "ROLLBACK", "ping") else "statements"
        kind[label] = kind.get(label, 0) + 1
        if self.listing:
            self.listed.setdefault(self.kind, []).append(what)

    def report(self, registrations: int) -> None:
        """Print the mean per request and one registration's list."""
        print("  database round trips per request (mean; each is one on PostgreSQL):")
        for kind, counts in self.counts.items():
            total = sum(counts.values()) / registrations
            parts = ", ".join(f"{name} {value / registrations:.1f}" for name, value in sorted(counts.items()))
            print(f"    {kind:8s} {total:5.1f}  ({parts})")
        print("  what they are, the first timed registration's (pool ping = SELECT 1 at checkout):")
        for kind, listed in self.listed.items():
            print(f"    {kind}:")
            for line in listed:
                print(f"      {line}")


if __name__ == "__main__":
    sys.exit(main())
