"""Language selection and bilingual model fields."""
from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale


def select_locale() -> str:
    """Pick the page language: ?lang=, then the session's choice, then Polish."""
    languages = current_app.config["LANGUAGES"]
    if has_request_context():
        asked = request.args.get("lang")
        if asked in languages:
            return asked
        chosen = session.get("lang")
        if chosen in languages:
            return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """Return the current language code ("pl" or "en")."""
    locale = get_locale()
    return locale.language if locale is not None else "pl"


def localized(obj: Any, field: str, language: str | None = None) -> str:
    """Return ``obj.<field>_<lang>``, falling back to the Polish text when empty."""
    language = language or current_language()
    value = getattr(obj, f"{field}_{language}", None)
    return value or getattr(obj, f"{field}_pl")
