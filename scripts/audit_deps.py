"""Audit the installed Python packages for known vulnerabilities (part of `make lint`).

Online, pip-audit asks PyPI's advisory service about every package of the virtualenv.
Where the network has none (an air-gapped build machine), pip-audit cannot answer, so
the same question goes to a local copy of the advisory database in OSV format,
ADVISORY_DB (default: .advisory-db/), fetched where there is network with either of

    curl -sSfLo /tmp/pypi.zip https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip \
        && unzip -oq /tmp/pypi.zip -d .advisory-db          # OSV JSON, read as is
    git clone --depth 1 https://github.com/pypa/advisory-database .advisory-db   # YAML: needs PyYAML

With neither, it says loudly that nothing was checked and passes, so that a fresh
machine without network can still run the tests.

Exit status: 0 when no known vulnerability affects an installed version (or nothing
could be checked), 1 when one does, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finding:
    """One advisory affecting one installed package."""

    package: str
    version: str
    advisory: str
    fixed: str


def normalize(name: str) -> str:
    """Return a package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """Return every package of this environment: normalised name -> version."""
    return {normalize(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def read_advisories(directory: Path) -> Iterator[dict]:
    """Yield the OSV advisories stored under ``directory`` (JSON; YAML when PyYAML is installed)."""
    try:
        import yaml  # optional: only the PyPA repository's YAML files need it
    except ImportError:
        yaml = None
    for path in sorted(directory.rglob("*")):
        if path.suffix == ".json":
            yield json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in (".yaml", ".yml") and yaml is not None:
            yield yaml.safe_load(path.read_text(encoding="utf-8"))


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def affects(affected: dict, version: str) -> tuple[bool, str]:
    """Tell whether one OSV ``affected`` entry covers ``version``, and the first fixed version named."""
    if version in affected.get("versions", []):
        fixed = [e["fixed"] for r in affected.get("ranges", []) for e in r.get("events", []) if "fixed" in e]
        return True, fixed[0] if fixed else ""
    current = _version(version)
    if current is None:
        return False, ""
    for spread in affected.get("ranges", []):
        if spread.get("type") != "ECOSYSTEM":
            continue
        # OSV's rule: events sorted by version; "introduced" opens a range, "fixed" closes it
        # (the version itself not affected), "last_affected" closes it after that version.
        events = []
        for event in spread.get("events", []):
            ((kind, value),) = event.items()
            at = Version("0") if value == "0" else _version(value)
            if at is not None:
                events.append((at, kind, value))
        vulnerable, fixed_in = False, ""
        for at, kind, value in sorted(events, key=lambda e: e[0]):
            if kind == "introduced" and current >= at:
                vulnerable, fixed_in = True, ""
            elif kind == "fixed" and current >= at:
                vulnerable = False
            elif kind == "fixed" and vulnerable and not fixed_in:
                fixed_in = value
            elif kind == "last_affected" and current > at:
                vulnerable = False
        if vulnerable:
            return True, fixed_in
    return False, ""


def findings(advisories: Iterable[dict], packages: dict[str, str]) -> list[Finding]:
    """Return the advisories that affect the installed ``packages`` (withdrawn ones skipped)."""
    found = []
    for advisory in advisories:
        if not advisory or advisory.get("withdrawn"):
            continue
        for affected in advisory.get("affected", []):
            package = affected.get("package", {})
            name = normalize(package.get("name", ""))
            if package.get("ecosystem") != "PyPI" or name not in packages:
                continue
            hit, fixed = affects(affected, packages[name])
            if hit:
                found.append(Finding(name, packages[name], advisory.get("id", "?"), fixed))
    return sorted(set(found), key=lambda f: (f.package, f.advisory))


def online_audit() -> int | None:
    """Run pip-audit against PyPI; return its exit status, or None when the service did not answer."""
    command = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--format", "json", "--timeout", "10"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        report = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        return None
    dependencies = report.get("dependencies", [])
    if not dependencies or all("skip_reason" in d for d in dependencies):
        return None  # every package "not found on PyPI": no network
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            print(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    print(f"pip-audit (PyPI): {len(dependencies)} packages, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="use only the local advisory database")
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(os.environ.get("ADVISORY_DB", ROOT / ".advisory-db")),
        help="local OSV advisory database (default: $ADVISORY_DB or .advisory-db/)",
    )
    args = parser.parse_args(argv)
    if not args.offline:
        status = online_audit()
        if status is not None:
            return status
        print("pip-audit: PyPI's advisory service did not answer (no network?); using the local database")
    if not args.db.is_dir():
        print(
            f"dependency audit SKIPPED: no network and no local advisory database at {args.db} "
            "(see scripts/audit_deps.py or docs/deploy.md for how to fetch one)"
        )
        return 0
    advisories = list(read_advisories(args.db))
    found = findings(advisories, installed())
    for finding in found:
        print(
            f"{finding.package} {finding.version}: {finding.advisory} (fixed in {finding.fixed or 'no fixed version yet'})"
        )
    print(f"local advisory database {args.db}: {len(advisories)} advisories, {len(found)} affecting installed packages")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
