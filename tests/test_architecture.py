"""The shape of the code that docs/architecture.md describes: layers, public names, imports at the top."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
# create_app and the CLI wire everything together and import lazily to start fast.
WIRING = {APP / "__init__.py", APP / "cli.py"}


def _modules() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _lint_imports() -> str | None:
    found = Path(sys.executable).with_name("lint-imports")
    return str(found) if found.exists() else shutil.which("lint-imports")


def test_import_contracts_hold() -> None:
    command = _lint_imports()
    if command is None:
        pytest.skip("import-linter is not installed: pip install -r requirements.txt")
    result = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_imports_another_modules_private_names() -> None:
    offences = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("app")):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {', '.join(private)}")
    assert offences == []


def test_imports_inside_functions_are_only_wiring_or_commented_lazy_loads() -> None:
    offences = []
    for path in _modules():
        if path in WIRING:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom) and "# lazy:" not in lines[node.lineno - 1]:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offences == []


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    # The check is real: a copy of the tree where the catalogue imports the registration fails it.
    command = _lint_imports()
    if command is None:
        pytest.skip("import-linter is not installed: pip install -r requirements.txt")
    copy = tmp_path / "tree"
    shutil.copytree(APP, copy / "app", ignore=shutil.ignore_patterns("__pycache__", "translations"))
    shutil.copy(ROOT / ".importlinter", copy / ".importlinter")
    services = copy / "app" / "events" / "services.py"
    services.write_text(services.read_text(encoding="utf-8") + "\nfrom ..registration import bookings  # noqa\n")
    result = subprocess.run(
        [command, "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "app.events is not allowed to import app.registration" in result.stdout
