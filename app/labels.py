"""Translatable labels of the domain's enums, kept in one place."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .events.models import EventStatus, ParticipantCategory, SessionKind
from .registration.models import BookingStatus

CATEGORY_LABELS = {
    ParticipantCategory.MAYOR: _l("Mayor (president, mayor, wójt, burmistrz)"),
    ParticipantCategory.DEPUTY_MAYOR: _l("Deputy mayor"),
    ParticipantCategory.CITY_OFFICIAL: _l("City official"),
    ParticipantCategory.COUNCILLOR: _l("Councillor"),
    ParticipantCategory.BUSINESS: _l("Business"),
    ParticipantCategory.NGO: _l("NGO"),
    ParticipantCategory.ACADEMIA: _l("Academia / expert"),
    ParticipantCategory.MEDIA: _l("Media"),
    ParticipantCategory.OTHER: _l("Other"),
}

CATEGORY_SHORT_LABELS = {
    ParticipantCategory.MAYOR: _l("mayors"),
    ParticipantCategory.DEPUTY_MAYOR: _l("deputy mayors"),
    ParticipantCategory.CITY_OFFICIAL: _l("city officials"),
    ParticipantCategory.COUNCILLOR: _l("councillors"),
    ParticipantCategory.BUSINESS: _l("business"),
    ParticipantCategory.NGO: _l("NGOs"),
    ParticipantCategory.ACADEMIA: _l("academia and experts"),
    ParticipantCategory.MEDIA: _l("media"),
    ParticipantCategory.OTHER: _l("others"),
}

SESSION_KIND_LABELS = {
    SessionKind.PLENARY: _l("Plenary"),
    SessionKind.DIALOGUE: _l("Dialogue session"),
    SessionKind.ROUND_TABLE: _l("Round table"),
    SessionKind.PROFESSIONAL_GROUP: _l("Professional group meeting"),
    SessionKind.WORKSHOP: _l("Workshop"),
}

BOOKING_STATUS_LABELS = {
    BookingStatus.CONFIRMED: _l("Confirmed"),
    BookingStatus.WAITLISTED: _l("Waiting list"),
    BookingStatus.REQUESTED: _l("Awaiting organiser approval"),
    BookingStatus.CANCELLED: _l("Cancelled"),
    BookingStatus.OFFERED: _l("Place offered — accept it"),
}

LANGUAGE_LABELS = {"pl": "Polski", "en": "English"}


class TranslatedLabels(Mapping[Any, str]):
    """Labels translated once per locale, for templates that print one per row.

    Reads the locale on every lookup (emails are rendered under ``force_locale``),
    but translates each label only once per locale and process.
    """

    def __init__(self, labels: Mapping[Any, Any]) -> None:
        self._labels = labels
        self._by_locale: dict[str, dict[Any, str]] = {}

    def _translated(self) -> dict[Any, str]:
        """Return the labels in the current locale."""
        locale = str(get_locale())
        labels = self._by_locale.get(locale)
        if labels is None:
            labels = self._by_locale[locale] = {key: str(label) for key, label in self._labels.items()}
        return labels

    def __getitem__(self, key: Any) -> str:
        return self._translated()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


def category_label(value: str | ParticipantCategory) -> str:
    """Return the label of a participant category."""
    return str(CATEGORY_LABELS[ParticipantCategory(value)])


def eligible_label(categories: list[str]) -> str:
    """Return a short phrase naming who may book a restricted session."""
    return ", ".join(str(CATEGORY_SHORT_LABELS[ParticipantCategory(c)]) for c in categories)


# Back-office labels of event statuses, allocation runs and objectives.
EVENT_STATUS_LABELS = {
    EventStatus.DRAFT: _l("Draft"),
    EventStatus.PUBLISHED: _l("Published"),
    EventStatus.CLOSED: _l("Registration closed"),
}
RUN_STATUS_LABELS = {
    "preview": _l("preview"),
    "published": _l("published"),
    "reopened": _l("reopened"),
}
OBJECTIVE_LABELS = {
    "fair": _l("fair (most people first, then best ranks)"),
    "linear": _l("linear (total score)"),
    "rank-maximal": _l("rank-maximal (most 1st choices, then 2nd…)"),
}
