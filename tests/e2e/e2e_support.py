"""Helpers of the browser tests: paths, the participant and organiser steps, axe-core and screenshots."""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the tests are skipped then (conftest.py says why)
    expect = None

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e"))
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HOW_TO_GET_CHROMIUM = (
    "install Debian's Chromium (apt-get install -y chromium chromium-driver) and Playwright for Python "
    "(pip install -r requirements.txt), or run `make e2e`, which does both; "
    "E2E_CHROMIUM points to another Chromium binary"
)
WARSAW = ZoneInfo("Europe/Warsaw")
ADMIN_EMAIL = "admin@zapisy.test"
ADMIN_PASSWORD = "e2e-" + secrets.token_hex(8)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# The narrowest phone the pages are made for: nothing may scroll sideways at this width.
NARROW = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True}
# The test events (slug: city): one per flow, so each flow owns its capacities.
FLOW_EVENTS = {"e2e-pl": "Płock", "e2e-en": "Konin", "e2e-keyboard": "Kutno", "e2e-a11y": "Sieradz"}


def flow_event_title(slug: str) -> str:
    """Return the Polish title of a test event."""
    return f"Forum rozwoju miast — {FLOW_EVENTS[slug]}"


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot of the page as ``test-artifacts/e2e/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page, animations="disabled", caret="hide")
    return path


@dataclass
class Person:
    """A participant the tests type into the form."""

    first_name: str
    last_name: str
    email: str
    category: str = "mayor"
    organisation: str = "Urząd Miasta"
    city: str = "Płock"
    sessions: list[str] = field(default_factory=list)


def unique_email(prefix: str) -> str:
    """Return an address no other test uses."""
    return f"{prefix}-{secrets.token_hex(3)}@example.com"


def fill_person(page: Any, person: Person) -> None:
    """Type the personal fields of the registration form."""
    page.locator("#first_name").fill(person.first_name)
    page.locator("#last_name").fill(person.last_name)
    page.locator("#email").fill(person.email)
    page.locator("#organisation").fill(person.organisation)
    page.locator("#city").fill(person.city)
    page.locator("#category").select_option(person.category)


def session_checkbox(page: Any, title: str) -> Any:
    """Return the checkbox of the session whose label starts with ``title``."""
    return page.get_by_role("checkbox", name=re.compile("^" + re.escape(title)))


def register(page: Any, slug: str, person: Person, navigate: bool = True) -> None:
    """Fill and submit the registration form of ``slug`` (opened by URL unless ``navigate`` is false)."""
    if navigate:
        page.goto(f"/events/{slug}/register")
    fill_person(page, person)
    for title in person.sessions:
        session_checkbox(page, title).check()
    page.locator("#consent").check()
    page.locator("form button[type=submit]").click()


def login(page: Any, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """Log in to the back office through the login form."""
    page.goto("/admin/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/admin/")


def event_id_of(page: Any, title: str) -> int:
    """Open the back-office dashboard of the event titled ``title`` from the events list; return its id."""
    page.goto("/admin/")
    page.get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(r"/admin/events/\d+/dashboard"))
    match = re.search(r"/admin/events/(\d+)/", page.url)
    assert match
    return int(match.group(1))


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Any, name: str) -> list[dict]:
    """Run axe-core in the page; return its serious and critical violations.

    Every violation, whatever its impact, is written to ``test-artifacts/e2e/axe/<name>.json``.
    """
    if not AXE_SCRIPT.exists():
        pytest.skip(f"axe-core is not installed: run `npm ci --prefix {HERE.relative_to(ROOT)}` (or `make e2e`)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the app's Content-Security-Policy
        # (script-src 'self') rightly refuses an injected <script>, and stays on.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS
    )
    (ARTIFACTS / "axe").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe" / f"{name}.json").write_text(json.dumps(result["violations"], indent=1, ensure_ascii=False))
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def describe_violations(violations: list[dict]) -> str:
    """Format axe violations for an assertion message."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {', '.join(map(str, node['target']))}: {summary[:300]}")
    return "\n".join(lines)
