"""Registrations of an event: list, search, details and organiser actions."""
from __future__ import annotations

from flask import Blueprint

from .access import protect

bp = protect(Blueprint("admin_registrations", __name__, url_prefix="/admin"))
