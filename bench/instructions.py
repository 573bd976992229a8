"""Count the CPU instructions of one registration's three requests, in process (deterministic).

On a shared virtual machine the time a request takes moves by ±20 % from one
minute to the next (other guests take the CPU: "steal"), which hides a 3 %
improvement. Instructions do not move: valgrind's callgrind counts them, and
the same code on the same data gives the same count within 1 %, however busy
the machine is. This script builds bench/load.py's event (200 sessions) in a
fresh SQLite file, warms the app up with 15 registrations, and counts the
instructions of the form GET, the POST and the success page of ``--registrations``
more, one kind of request at a time (callgrind's instrumentation is switched on
around that request only). The kept form page and event page are kept for the
whole run here, as they are under load.

Run as: .venv/bin/python bench/instructions.py [--registrations 5] [--kinds form post success]
Needs valgrind (Debian: apt-get install valgrind); about 25 s per kind.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = ("form", "post", "success")
BASE = "https://zapisy.example"
WARM_UP = 15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--registrations", type=int, default=5, help="counted registrations per kind (after 15 warm-up ones)"
    )
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--measure", choices=KINDS, help=argparse.SUPPRESS)  # inside valgrind
    args = parser.parse_args(argv)
    if args.measure:
        return _measure(args.measure, args.registrations)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind): no instruction counts.")
        return 0
    print(f"Instructions per request, in process (SQLite, 200 sessions), mean of {args.registrations} registrations:")
    total = 0.0
    for kind in args.kinds:
        with tempfile.TemporaryDirectory(prefix="zapisy-instructions-") as workdir:
            result = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={workdir}/callgrind.out",
                    sys.executable,
                    __file__,
                    "--measure",
                    kind,
                    "--registrations",
                    str(args.registrations),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts in every run
            )
        counted = re.search(r"Collected\s*:\s*([\d,]+)", result.stderr)
        if result.returncode != 0 or counted is None:
            print(f"  {kind}: the run failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
            return 1
        per_request = int(counted.group(1).replace(",", "")) / args.registrations / 1e6
        total += per_request
        print(f"  {kind:8s} {per_request:7.2f} million instructions")
    if len(args.kinds) == len(KINDS):
        print(f"  one registration (three requests): {total:.2f} million instructions")
    return 0


def _measure(kind: str, registrations: int) -> int:
    """Run inside valgrind: register, with instrumentation on around the ``kind`` requests only."""
    from bench import load
    from tests.loadclient import CSRF_INPUT, registration_form

    state = {"on": False}

    def instrument(on: bool) -> None:
        """Switch callgrind's counting on or off (a no-op when it already is)."""
        if on != state["on"]:
            subprocess.run(
                ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], capture_output=True, check=True
            )
            state["on"] = on

    workdir = Path(tempfile.mkdtemp(prefix="zapisy-instructions-db-"))
    try:
        with load.database(None, workdir) as database:
            # Before anything imports config.py, which reads the environment once.
            os.environ.update(
                ZAPISY_ENV="production",
                SECRET_KEY="instructions-benchmark-secret-key-0123",
                DATABASE_URL=database,
                BASE_URL=BASE,
                RATELIMIT_ENABLED="0",
                OUTBOX_DELIVER_AFTER_REQUEST="0",
                # Valgrind runs the app ~50 times slower: keep the pages as a quick server would keep them.
                FORM_PAGE_CACHE_SECONDS="86400",
                EVENT_PAGE_CACHE_SECONDS="86400",
            )
            fixture = load.generate(database, 200, 1000, 100)
            from app import create_app

            app = create_app()
            path = f"/events/{fixture.slug}/register"
            for n in range(WARM_UP + registrations):
                counted = n >= WARM_UP
                client = app.test_client()
                instrument(counted and kind == "form")
                page = client.get(path, base_url=BASE)
                instrument(False)
                # The counted registrations choose what a warm-up one chose: under load, what is kept
                # per session (calendar lines, formatted dates) is kept for every session within seconds.
                pick = n % WARM_UP
                choices = [
                    fixture.slots[(pick + k * 7) % load.SLOTS][pick % len(fixture.slots[0])]
                    for k in range(load.CHOICES)
                ]
                data = {
                    **registration_form(f"count{n}@example.com", choices, n),
                    "csrf_token": CSRF_INPUT.search(page.text).group(1),
                }
                instrument(counted and kind == "post")
                answer = client.post(path, base_url=BASE, data=data, headers={"Referer": BASE + "/"})
                instrument(False)
                if answer.status_code != 303:
                    raise SystemExit(f"registration {n} answered {answer.status_code}")
                instrument(counted and kind == "success")
                success = client.get(answer.headers["Location"].removeprefix(BASE), base_url=BASE)
                instrument(False)
                if "/r/" not in success.text:
                    raise SystemExit(f"registration {n}: no success page")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
