"""Template globals and filters: dates in Warsaw time, labels, language links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Flask, request
from flask_babel import get_locale, get_timezone

from .i18n import current_language, format_clock, format_day, format_when, install_template_gettext, locale_key
from .labels import (
    BOOKING_STATUS_LABELS,
    CATEGORY_LABELS,
    EVENT_STATUS_LABELS,
    LANGUAGE_LABELS,
    OBJECTIVE_LABELS,
    PARTNER_KIND_LABELS,
    RUN_STATUS_LABELS,
    SESSION_KIND_LABELS,
    TranslatedLabels,
    eligible_label,
)
from .markup import render_markdown

# Formatted dates and times, per locale, time zone, format and value. A programme has a
# few dozen distinct times but its pages print them hundreds of times, and each Babel
# call costs tens of microseconds. Bounded: cleared when it grows past this size.
_FORMATTED: dict[tuple[Any, ...], str] = {}
_FORMATTED_MAX = 20_000


def _memoised(kind: str, formatter: Callable[[Any, str], str]) -> Callable[..., str]:
    """Return a template filter calling ``formatter`` once per locale, time zone, value and format."""

    def template_filter(value: date | datetime | None, fmt: str) -> str:
        if not value:
            return ""
        locale = get_locale()
        key = (kind, fmt, value, type(value), locale_key(locale) if locale else None, str(get_timezone()))
        text = _FORMATTED.get(key)
        if text is None:
            if len(_FORMATTED) >= _FORMATTED_MAX:
                _FORMATTED.clear()
            text = _FORMATTED[key] = formatter(value, fmt)
        return text

    return template_filter


_datetime = _memoised("datetime", format_when)
_date = _memoised("date", format_day)
_time = _memoised("time", format_clock)


def init_templating(app: Flask) -> None:
    """Register the helpers on ``app``."""
    install_template_gettext(app)
    app.jinja_env.globals.update(
        current_language=current_language,
        category_labels=TranslatedLabels(CATEGORY_LABELS),
        session_kind_labels=TranslatedLabels(SESSION_KIND_LABELS),
        booking_status_labels=TranslatedLabels(BOOKING_STATUS_LABELS),
        language_labels=LANGUAGE_LABELS,
        eligible_label=eligible_label,
        current_path=_current_path,
        run_status_labels=TranslatedLabels(RUN_STATUS_LABELS),
        objective_labels=TranslatedLabels(OBJECTIVE_LABELS),
        event_status_labels=TranslatedLabels({status.value: label for status, label in EVENT_STATUS_LABELS.items()}),
        partner_kind_labels=TranslatedLabels(PARTNER_KIND_LABELS),
        bootstrap_assets=_bootstrap_assets(app),
    )
    app.jinja_env.filters.update(
        datetime=lambda value, fmt="medium": _datetime(value, fmt),
        date=lambda value, fmt="long": _date(value, fmt),
        time=lambda value, fmt="short": _time(value, fmt),
        markdown=render_markdown,
    )


def _bootstrap_assets(app: Flask) -> Callable[[str], Any]:
    """Return ``bootstrap_assets("css")`` / ``("js")``: Bootstrap-Flask's tags, written once per app.

    They depend on the app's configuration only, and building them again for
    every page cost about 5 % of a small page's instructions.
    """
    written: dict[str, Any] = {}

    def bootstrap_assets(kind: str) -> Any:
        if kind not in written:
            bootstrap = app.extensions["bootstrap"]
            written[kind] = bootstrap.load_css() if kind == "css" else bootstrap.load_js()
        return written[kind]

    return bootstrap_assets


def _current_path() -> str:
    """Return the current path with its query, for "come back here" links."""
    return request.full_path.rstrip("?") if request else "/"
