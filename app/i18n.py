"""Language selection and bilingual model fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, format_time, get_locale, get_translations, gettext
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

# The events' time zone: every date a participant or organiser reads is in Warsaw time.
TIMEZONE = ZoneInfo("Europe/Warsaw")


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


def group_label(name: str, number: int) -> str:
    """Return a group's name: the organiser's, else "Group N" in the reader's language.

    Groups are often just numbered; an unnamed one reads "Grupa 2" in Polish and "Group 2"
    in English, ``number`` being its place among its session's groups.
    """
    return name or gettext("Group %(number)s", number=number)


# The compiled catalog of each locale, as Flask-Babel loaded it. Flask-Babel's
# template gettext looks the request context up three times and spells the
# locale's name out on every call, and Jinja wraps it in two more calls; a page
# calls it dozens of times.
_CATALOGS: dict[tuple[str | None, ...], NullTranslations] = {}


def locale_key(locale: Locale) -> tuple[str | None, ...]:
    """Return a cheap dictionary key for ``locale``.

    Not the Locale itself: force_locale parses a new Locale object each time, and
    comparing two of them costs more than the lookup it serves; nor ``str(locale)``,
    which spells the identifier out.
    """
    return (locale.language, locale.territory, locale.script, locale.variant)


def page_catalog() -> NullTranslations:
    """Return the current locale's catalog (force_locale included), loaded once per process."""
    locale = get_locale()
    if locale is None:  # no request or app context: Flask-Babel's untranslated catalog
        return get_translations()
    key = locale_key(locale)
    catalog = _CATALOGS.get(key)
    if catalog is None:
        catalog = _CATALOGS[key] = get_translations()
    return catalog


def _newstyle(eval_ctx: EvalContext, text: str, variables: dict[str, Any]) -> str:
    """Finish a translation as Jinja's "newstyle" gettext does: escaped when autoescaping, always %-formatted."""
    return (Markup(text) if eval_ctx.autoescape else text) % variables


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    """Jinja's "newstyle" gettext, reading :func:`page_catalog`."""
    return _newstyle(eval_ctx, page_catalog().ugettext(string), variables)


@pass_eval_context
def _template_ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any) -> str:
    """Jinja's "newstyle" ngettext, with ``%(num)s`` available."""
    variables.setdefault("num", num)
    return _newstyle(eval_ctx, page_catalog().ungettext(singular, plural, num), variables)


def install_template_gettext(app: Flask) -> None:
    """Give templates ``_``, ``gettext`` and ``ngettext`` reading :func:`page_catalog`.

    They behave as the ones Jinja's i18n extension makes from Flask-Babel's
    (newstyle: autoescaped, ``%(name)s`` variables, ``{% trans %}`` included).
    """
    app.jinja_env.newstyle_gettext = True  # type: ignore[attr-defined]
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)


# CLDR's "short" English dates ("1/2/27") are ambiguous next to Polish ones
# ("2.01.2027"): dates are written with the month's name in every language, day
# first, and times on the 24-hour clock (CLDR's English "short" time is "3:00 PM",
# which read "13:30–3:00 PM" next to our own "HH:mm"). One pattern per style, the
# same in both languages: Babel fills in the month's and weekday's names.
DATETIME_PATTERNS = {
    "short": "d MMM yyyy, HH:mm",
    "medium": "d MMM yyyy, HH:mm",
    "long": "d MMMM yyyy, HH:mm",
    "full": "EEEE, d MMMM yyyy, HH:mm",
}
DATE_PATTERNS = {"short": "d MMM yyyy", "medium": "d MMM yyyy", "long": "d MMMM yyyy", "full": "EEEE, d MMMM yyyy"}
TIME_PATTERNS = {"short": "HH:mm", "medium": "HH:mm", "long": "HH:mm", "full": "HH:mm"}


def format_when(value: datetime, fmt: str = "short") -> str:
    """Format a date and time in the page's language and Warsaw time, unambiguously."""
    return format_datetime(value, DATETIME_PATTERNS.get(fmt, fmt))


def format_day(value: date | datetime, fmt: str) -> str:
    """Format a date in the page's language, unambiguously."""
    return format_date(value, DATE_PATTERNS.get(fmt, fmt))


def format_clock(value: datetime, fmt: str = "short") -> str:
    """Format a time of day in Warsaw time on the 24-hour clock, in every language."""
    return format_time(value, TIME_PATTERNS.get(fmt, fmt))
