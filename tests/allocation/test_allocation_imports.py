"""The engine stays pure: no Flask, no SQLAlchemy, no other app module."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "app" / "allocation"
FORBIDDEN = ("flask", "flask_", "sqlalchemy", "werkzeug", "wtforms")


def imported_modules(path: Path) -> set[str]:
    """Return every module a source file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_engine_imports_no_web_or_database_code() -> None:
    files = sorted(ENGINE.glob("*.py"))
    assert files
    for path in files:
        for module in imported_modules(path):
            assert not module.lower().startswith(FORBIDDEN), f"{path.name} imports {module}"
            if module.startswith("app."):
                assert module.startswith("app.allocation"), f"{path.name} imports {module}"
            assert not module.startswith(".."), f"{path.name} imports {module}"
