"""Dashboards of events and series, and bulk email."""
from __future__ import annotations

from flask import Blueprint

from .access import protect

bp = protect(Blueprint("admin_dashboard", __name__, url_prefix="/admin"))
