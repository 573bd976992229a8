"""Template globals and filters: dates in Warsaw time, labels, language links."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import format_date, format_datetime, format_time

from .i18n import current_language
from .labels import (
    BOOKING_STATUS_LABELS,
    CATEGORY_LABELS,
    LANGUAGE_LABELS,
    SESSION_KIND_LABELS,
    eligible_label,
)


def init_templating(app: Flask) -> None:
    """Register the helpers on ``app``."""
    app.jinja_env.globals.update(
        current_language=current_language,
        category_labels=CATEGORY_LABELS,
        session_kind_labels=SESSION_KIND_LABELS,
        booking_status_labels=BOOKING_STATUS_LABELS,
        language_labels=LANGUAGE_LABELS,
        eligible_label=eligible_label,
        current_path=_current_path,
    )
    app.jinja_env.filters.update(
        datetime=lambda value, fmt="medium": format_datetime(value, fmt) if value else "",
        date=lambda value, fmt="long": format_date(value, fmt) if value else "",
        time=lambda value, fmt="short": format_time(value, fmt) if value else "",
    )


def _current_path() -> str:
    """Return the current path with its query, for "come back here" links."""
    return request.full_path.rstrip("?") if request else "/"
