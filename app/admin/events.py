"""Managing series, events, sessions, groups and accounts."""
from __future__ import annotations

from flask import Blueprint

from .access import protect

bp = protect(Blueprint("admin_events", __name__, url_prefix="/admin"))
