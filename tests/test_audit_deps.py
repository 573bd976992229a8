"""The dependency audit's offline path: the local OSV advisory database read against installed versions."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from scripts import audit_deps

FLASK = metadata.version("flask")


def _advisory(tmp_path: Path, ident: str, package: str, events: list[dict], **extra) -> None:  # type: ignore[no-untyped-def]
    affected = {"package": {"ecosystem": "PyPI", "name": package}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
    (tmp_path / f"{ident}.json").write_text(json.dumps({"id": ident, "affected": [affected], **extra}))


@pytest.mark.parametrize(
    ("events", "hit"),
    [
        ([{"introduced": "0"}, {"fixed": "9999"}], True),
        ([{"introduced": "0"}, {"fixed": "0.1"}], False),
        ([{"introduced": "9998"}, {"fixed": "9999"}], False),
        ([{"introduced": "0"}, {"last_affected": FLASK}], True),
        ([{"introduced": "0"}, {"last_affected": "0.1"}], False),
        ([{"introduced": "0"}, {"fixed": "0.5"}, {"introduced": "1.0"}], True),
    ],
)
def test_a_range_covers_the_installed_version_or_not(events, hit):
    assert audit_deps.affects({"ranges": [{"type": "ECOSYSTEM", "events": events}]}, FLASK)[0] is hit


def test_the_offline_audit_names_the_advisory_and_fails(tmp_path):
    _advisory(tmp_path, "PYSEC-TEST-1", "Flask", [{"introduced": "0"}, {"fixed": "9999.0"}])
    _advisory(tmp_path, "PYSEC-TEST-2", "flask", [{"introduced": "0"}, {"fixed": "0.1"}])
    _advisory(tmp_path, "PYSEC-TEST-3", "flask", [{"introduced": "0"}], withdrawn="2026-01-01T00:00:00Z")
    _advisory(tmp_path, "PYSEC-TEST-4", "no-such-package-here", [{"introduced": "0"}])
    done = subprocess.run(
        [sys.executable, "scripts/audit_deps.py", "--offline", "--db", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"flask {FLASK}: PYSEC-TEST-1 (fixed in 9999.0)" in done.stdout
    assert "PYSEC-TEST-2" not in done.stdout and "PYSEC-TEST-3" not in done.stdout
    assert "4 advisories, 1 affecting" in done.stdout


def test_without_network_or_database_it_says_nothing_was_checked(tmp_path, capsys):
    assert audit_deps.main(["--offline", "--db", str(tmp_path / "missing")]) == 0
    assert "dependency audit SKIPPED" in capsys.readouterr().out


def test_a_clean_database_passes(tmp_path, capsys):
    _advisory(tmp_path, "PYSEC-TEST-5", "flask", [{"introduced": "0"}, {"fixed": "0.1"}])
    assert audit_deps.main(["--offline", "--db", str(tmp_path)]) == 0
    assert "1 advisories, 0 affecting" in capsys.readouterr().out
