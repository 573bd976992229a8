"""Static files under versioned URLs (``?v=<hash of the file>``), kept by browsers for a year."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.security import safe_join

# A year: the URL changes with the file's content, so a kept copy is never out of date.
VERSIONED_CACHE_CONTROL = f"public, max-age={365 * 24 * 3600}, immutable"

# Absolute path -> (modification time, size, short hash). Shared by every app of the
# process (tests build many); a file is hashed again only when it changes on disk.
_VERSIONS: dict[str, tuple[int, int, str]] = {}


def init_static_files(app: Flask) -> None:
    """Version the URLs of ``app``'s and its blueprints' static files and cache them long."""
    app.url_defaults(_add_version)
    app.after_request(_cache_versioned)


def static_folder(app: Flask, endpoint: str) -> str | None:
    """Return the folder that ``endpoint`` (``static`` or ``<blueprint>.static``) serves, if any."""
    if endpoint == "static":
        return app.static_folder
    name, _, view = endpoint.rpartition(".")
    blueprint = app.blueprints.get(name) if view == "static" else None
    return blueprint.static_folder if blueprint is not None else None


def file_version(folder: str, filename: str) -> str | None:
    """Return a short hash of the file's content, or None when ``folder`` has no such file."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    known = _VERSIONS.get(path)
    if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
        return known[2]
    with open(path, "rb") as file:
        version = hashlib.file_digest(file, "sha256").hexdigest()[:12]
    _VERSIONS[path] = (stat.st_mtime_ns, stat.st_size, version)
    return version


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    """Give every ``url_for`` of a static file the file's version as ``v``."""
    filename = values.get("filename")
    if not isinstance(filename, str) or "v" in values:
        return
    folder = static_folder(current_app, endpoint)
    version = file_version(folder, filename) if folder else None
    if version:
        values["v"] = version


def _cache_versioned(response: Response) -> Response:
    """Let browsers keep a static file for a year when it was asked for under its current version."""
    asked = request.args.get("v")
    if not asked or response.status_code not in (200, 304) or not request.endpoint:
        return response
    folder = static_folder(current_app, request.endpoint)
    filename = (request.view_args or {}).get("filename")
    if folder and isinstance(filename, str) and asked == file_version(folder, filename):
        response.headers["Cache-Control"] = VERSIONED_CACHE_CONTROL
    return response
