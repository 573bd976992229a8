"""The two dependency locks agree with each other and keep test tools out of production."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _name(requirement: str) -> str:
    """Return a requirement's project name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            pins[_name(match[1])] = match[2]
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_every_pin_of_each_lock_carries_hashes() -> None:
    for lock in ("requirements.txt", "requirements-dev.txt"):
        text = (ROOT / lock).read_text(encoding="utf-8")
        for block in re.split(r"\n(?=\S)", text):
            if PIN.match(block):
                assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"


def test_the_dev_lock_holds_the_runtime_lock_unchanged() -> None:
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert runtime, "requirements.txt pins nothing"
    assert {name: dev.get(name) for name in runtime} == runtime


def test_each_lock_pins_its_direct_dependencies() -> None:
    project = _project()
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert {_name(r) for r in project["dependencies"]} <= runtime.keys()
    assert {_name(r) for r in project["optional-dependencies"]["dev"]} <= dev.keys()


def test_the_runtime_lock_has_no_test_tools() -> None:
    runtime = _pins("requirements.txt")
    assert not {"pytest", "playwright", "ruff", "hypothesis", "pip-audit"} & runtime.keys()
